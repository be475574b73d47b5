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
