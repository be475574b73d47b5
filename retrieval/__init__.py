"""Question answering over a corpus of news articles: corpus loading, text processing,
TF-IDF index, retrieval and extractive answering. Adapters live in ``bot``."""
