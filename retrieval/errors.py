"""Our own exceptions. Each carries a message written for people; adapters show ``str(exc)``
as one line and never a traceback."""
from __future__ import annotations


class QABotError(Exception):
    """Base class of every error the bot reports to a person."""


class CorpusError(QABotError):
    """The corpus is missing, unreadable or has a malformed article."""


class ConfigError(QABotError):
    """A configuration file or environment variable has a wrong key, type or value."""


class IndexFormatError(QABotError):
    """A saved index is missing, from another format version or damaged."""


class QuestionError(QABotError):
    """The question cannot be asked (empty, only control characters...)."""


class IndexLocationError(QABotError):
    """The index directory cannot be used: it is not ours (another directory, a file), so it
    is left untouched, or the index could not be saved there."""


class ClusterError(QABotError):
    """The Ray cluster of ``[cluster]`` cannot be used: Ray is not installed, the cluster
    cannot be reached, or the shards of the index cannot be started."""


class IndexUnavailableError(QABotError):
    """A part of the index (a shard of the cluster) did not answer a question in time: the
    question is not answered from the rest of it."""
