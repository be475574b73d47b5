"""The index: immutable segments on disk (memory-mapped), global term statistics combined
across them, a commit listing them, and ``TfidfIndex``, the facade that scores a question over
them. See ``retrieval.index.commit`` for the on-disk layout and the ways to change an index.

Modules, one job each: ``batch`` (a batch of articles analysed into a segment's arrays),
``store`` (the articles' text and metadata, read by offset), ``segment`` (a segment written and
opened), ``stats`` (global statistics across segments), ``pool`` (the worker processes of a
build), ``commit`` (build, add, delete, merge, open), ``facade`` (``TfidfIndex``: weights, the first stage, sentence scoring)."""
from retrieval.index.commit import (BATCH_CHARS, CommitInfo, add_articles, build, compact,
                                    default_jobs, delete_articles, read_commit)
from retrieval.index.facade import FORMAT_VERSION, WEIGHTINGS, FirstStage, TfidfIndex
from retrieval.index.stats import GlobalStats

__all__ = ["BATCH_CHARS", "CommitInfo", "FORMAT_VERSION", "FirstStage", "GlobalStats",
           "TfidfIndex", "WEIGHTINGS", "add_articles", "build", "compact", "default_jobs",
           "delete_articles", "read_commit"]
