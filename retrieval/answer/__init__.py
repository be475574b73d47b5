"""The steps of answering a question, each a small function or record testable alone.

``Answerer.ask`` (in ``retrieval.answerer``) runs them in this order:

1. ``query``: the question's analysed terms, known and unknown to the corpus (``read_query``);
2. ``cues``: what the wording asks for: a year, the latest or earliest report, an answer type
   (a date, a number, a person, a place) (``read_cues``, ``date_factor``, ``type_matches``);
3. ``candidates``: the best passages by BM25-weighted score, then their answerable sentences,
   each with its own score and its passage's (``candidates_of``, ``combine``);
4. ``fold``: near-identical sentences shown once, naming every article that reports them
   (``fold_duplicates``);
5. ``features``: numbers about a candidate that do not depend on the corpus's size
   (``candidate_features``);
6. ``confidence``: the probability that the candidate answers the question, from a small
   logistic model whose parameters ship as ``confidence.json`` (``ConfidenceModel``);
7. ``decide``: answer, or say the articles do not say (``decide``).
"""
