"""Benchmarks of qabot (scripts, not tests): answer quality on SQuAD and speed at scale,
each measured beside bm25s in the same run. Entry point: ``python -m benchmarks.run``."""
