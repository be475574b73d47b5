"""Fit the answerer's ranker and confidence model and choose ``answer.min_confidence``.

Training data, news first: RealTimeQA's ``tune`` quizzes asked of their whole corpus and of
each quiz week's own news (``benchmarks.data.realtimeqa_weeks``), CoQA-CNN's ``tune`` stories'
questions that read alone, with their reworded and constructed unanswerable versions
(``benchmarks/negatives.py``), and every ``SQUAD_EVERY``-th question of SQuAD v1.1 dev's
tuning half with its versions, asked of the whole corpus and of one Wikipedia article's
paragraphs (never the held-out half, never SQuAD 2.0, never RealTimeQA's ``heldout``). Each
of the best ``answer.reranked`` candidates of a question is a row, with the features the bot
computes (``Answerer.score``) and whether it is right. A linear ranker is fitted to pairs of
a right and a wrong candidate of one question, and a small network (scikit-learn's
``MLPClassifier``: standardised features, one hidden layer of 16 ReLU units, a logistic
output, seeded) to every row; out-of-fold predictions (3 folds grouped by Wikipedia article,
story or quiz week) give the figures and the ``min_confidence`` with the best utility for
readers on the news sets: each answer that holds the answer gains 1, each that does not
(an answer to a question no article answers included) costs 1, each data set counting the
same, averaged over +-0.05 (``choose_threshold``). Our reader questions about the bundled
articles (``benchmarks/questions/bundled-tune.json``) take part in that choice only. The
model is written to ``retrieval/answer/confidence.json``.

Asking the training items is most of the work: it runs in ``--jobs`` processes (2), and
what they observed is kept in ``benchmarks/results/work/`` under a key of everything it
depends on (the data, the settings, the ``retrieval`` package and the observing code), so a
run that changes only the model (its size, its fitting) reads it back in seconds.

    python -m benchmarks.train_confidence [--out PATH] [--jobs N] [--no-cache]
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import multiprocessing
import sys
import time
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

import benchmarks.data
import retrieval
from benchmarks import negatives
from benchmarks.data import (REPO, SQUAD_DEV, load_coqa_tune, load_question_set,
                             load_realtimeqa_tune, load_squad, realtimeqa_weeks)
from benchmarks.negatives import ALL, Item, build_items, is_right, title_of
from retrieval.answer.confidence import MODEL_FILE, ConfidenceModel
from retrieval.answer.features import FEATURES
from retrieval.answer.query import Query, read_query
from retrieval.answerer import Answerer
from retrieval.corpus import Article
from retrieval.evaluation import auroc, reliability
from retrieval.index import TfidfIndex
from retrieval.settings import Settings, load_settings

SEED = 0
VERSION = "2"
HIDDEN = 16
ALPHA = 1e-4
FOLDS = 3
NOT_ANSWERABLE = "not answerable"   # a news question whose answer no article holds
JOBS = 2   # processes asking the training questions
# Where observations are kept between runs (git ignores it): a run that changes only the
# model reads them back instead of asking 60,000 questions again.
CACHE = Path(__file__).resolve().parent / "results" / "work" / "confidence-observations"
# Every SQUAD_EVERY-th question of SQuAD's tuning half (with its constructed versions): a
# guard that keeps Wikipedia-style questions in view; news decides.
SQUAD_EVERY = 3
QUESTIONS = REPO / "benchmarks" / "questions"
PAIRS_RIGHT, PAIRS_WRONG = 2, 20   # candidates of an item paired to fit the ranker
SMOOTHING = 5                      # min_confidence: utility averaged over +-0.05
# Our questions in readers' words over news (their corpus beside them): for tuning only.
OWN_SETS = {"bundled-tune": (QUESTIONS / "bundled-tune.json", REPO / "corpus")}
# The data sets on which min_confidence is chosen, and each one's weight in the fit.
NEWS = ("realtimeqa-tune", "realtimeqa-week", "coqa-cnn-tune", "bundled-tune")
SOURCE_WEIGHT = {"squad-dev": 0.3, "realtimeqa-tune": 1.0, "realtimeqa-week": 1.0,
                 "coqa-cnn-tune": 1.0, "bundled-tune": 0.0}   # a set for choosing the threshold: not fitted on


@dataclass(frozen=True)
class Observed:
    """The answerer's candidates for each item, a row each (best first by score, at most
    ``answer.reranked``; one row of NaN when the question had nothing to score): their
    features, whether each is right, and of the item it answers: its number (``item``), its
    weight, whether it can be answered at all, its kind and group (folds never split a
    group) and its data set (``source``)."""

    features: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    answerable: np.ndarray
    kind: np.ndarray
    group: np.ndarray
    item: np.ndarray
    source: np.ndarray


def untrained() -> ConfidenceModel:
    """A model that says 0.5 to everything: the features do not depend on it."""
    n = len(FEATURES)
    return ConfidenceModel("untrained", FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 0.0)


@dataclass
class _Corpus:
    articles: list[Article]
    answerer: Answerer
    passage_terms: sp.csr_matrix
    number: dict[str, int]


def _corpus(articles: list[Article], answerer: Answerer) -> _Corpus:
    return _Corpus(articles, answerer, answerer.index.passage_matrix_.tocsr(),
                   {a.id: i for i, a in enumerate(articles)})


def without_passages(query: Query, text: str, index: TfidfIndex,
                     passage_terms: sp.csr_matrix, excluded: np.ndarray) -> Query:
    """``query`` as a corpus without the ``excluded`` passages would read it: a term that
    only those passages hold is unknown to it."""
    if not query.term_ids.size:
        return query
    df = np.diff(index.passage_matrix_[:, query.term_ids].indptr)
    held = df - passage_terms[excluded][:, query.term_ids].getnnz(axis=0) > 0
    lost = query.term_ids[~held]
    names = 0
    if lost.size:
        capitalised = [w for w in index.analyzer.words(text, keep_case=True)[1:]
                       if w[:1].isupper()]
        names = int(np.isin(lost, index.lookup(index.analyzer(" ".join(capitalised)))).sum())
    return Query(query.term_ids[held], query.term_weights[held],
                 query.unknown + int(lost.size), query.words, query.unknown_names + names)


def observe(answerer: Answerer, articles: list[Article], items: list[Item],
            jobs: int = JOBS) -> Observed:
    """Ask every item as the bot would (of the whole corpus, or of its own small corpus)
    and keep its candidates' features (the best ``answer.reranked``); in ``jobs`` processes (forked, so each starts
    with the corpora built here), the same rows in the same order as with one."""
    corpora = {ALL: _corpus(articles, answerer)}
    for title in sorted({i.corpus for i in items} - {ALL}):
        local = [a for a in articles if title_of(a.id) == title]
        index = load_settings(environ={}).retrieval.index().fit(local)
        corpora[title] = _corpus(local, Answerer(index, local, answerer.settings,
                                                 answerer.model))
    bounds = np.linspace(0, len(items), max(jobs, 1) + 1).astype(int)
    chunks = [items[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        # Forked workers start with the corpora (nothing to pickle); each sends its rows back.
        context = multiprocessing.get_context("fork")
        pipes, workers = [], []
        for chunk in chunks:
            receiver, sender = context.Pipe(duplex=False)
            worker = context.Process(target=_observe_into, args=(corpora, chunk, sender))
            worker.start()
            sender.close()
            pipes.append(receiver)
            workers.append(worker)
        parts = [_received(pipe) for pipe in pipes]   # every pipe read, so none blocks
        for worker in workers:
            worker.join()
        if any(p is None for p in parts) or any(w.exitcode != 0 for w in workers):
            raise RuntimeError("an observing process failed (see its error above)")
    else:
        parts = [_observe_items(corpora, chunk) for chunk in chunks]
    rows = [row for part in parts for row in part[0]]
    right = [r for part in parts for r in part[1]]
    item = np.array([n for part in parts for n in part[2]], dtype=np.int64)
    item += np.repeat(bounds[:-1], [len(part[0]) for part in parts])   # chunk -> all items
    of = lambda values: np.array(values)[item]   # noqa: E731 (an item's value on its rows)
    return Observed(np.vstack(rows), np.array(right, dtype=bool),
                    of([i.weight for i in items]), of([i.answerable for i in items]),
                    of([i.kind for i in items]),
                    of([title_of(i.question.paragraph_id) for i in items]), item,
                    np.full(item.size, "", dtype=object))


def _received(pipe: Connection) -> tuple[list[np.ndarray], list[bool], list[int]] | None:
    """What a worker sent, or None when it ended without sending."""
    try:
        return pipe.recv()
    except EOFError:
        return None


def _observe_into(corpora: dict[str, _Corpus], items: list[Item], pipe: Connection) -> None:
    pipe.send(_observe_items(corpora, items))
    pipe.close()


def _observe_items(corpora: dict[str, _Corpus], items: list[Item]
                   ) -> tuple[list[np.ndarray], list[bool], list[int]]:
    """Each item's candidates' features (one row of NaN when nothing was scored), whether
    each is right, and the item's place in ``items`` on each row."""
    rows, right, numbers = [], [], []
    for number, item in enumerate(items):
        corpus = corpora[item.corpus]
        index = corpus.answerer.index
        query = read_query(index, item.text)
        allowed = None
        if item.excluded:
            allowed = ~np.isin(np.arange(len(corpus.articles)),
                               [corpus.number[e] for e in item.excluded])
            query = without_passages(query, item.text, index, corpus.passage_terms,
                                     ~allowed[index.passage_article_])
        scored = []
        if query.term_ids.size:
            ids, weights = index.query_vector(item.text)
            scored = corpus.answerer.score(item.text, query, ids, weights, allowed,
                                           corpus.answerer.settings.reranked)
        if not scored:
            rows.append(np.full(len(FEATURES), np.nan))
            right.append(False)
            numbers.append(number)
            continue
        for candidate in scored:
            sid = candidate.sentence_id
            article = corpus.articles[int(index.sentence_article_[sid])]
            where = (int(index.sentence_start_[sid]), int(index.sentence_end_[sid]))
            rows.append(candidate.features)
            right.append(item.answerable and is_right(item.question, article.id,
                                                      article.text[where[0]:where[1]], where))
            numbers.append(number)
    return rows, right, numbers


def joined(parts: list[Observed]) -> Observed:
    """Several sets of observations as one."""
    offsets = np.cumsum([0] + [int(o.item.max(initial=-1)) + 1 for o in parts])
    columns = {f.name: np.concatenate([getattr(o, f.name) for o in parts])
               for f in fields(Observed) if f.name != "item"}
    return Observed(**columns, item=np.concatenate([o.item + off
                                                    for o, off in zip(parts, offsets)]))


def observe_corpus(articles: list[Article], questions: list, name: str,
                   weight: float = 1.0, jobs: int = JOBS, cache: Path | None = CACHE,
                   constructed: bool = True) -> Observed:
    """Index ``articles`` with the default settings, build the items of ``questions`` (asked,
    reworded and the constructed unanswerable versions, also of each article's own small
    corpus for half of them; with ``constructed`` off, each question only as asked, not
    answerable when it has no answers) and observe them; weights times ``weight``. The
    observations
    are kept in ``cache`` (a directory; None: not kept) under a key that changes with the
    data, the settings and any code that computes them, and read back from it."""
    settings = load_settings(environ={})
    path = None
    if cache is not None:
        key = observations_key(articles, questions, settings, constructed)
        path = cache / f"{name}-{key}.npz"
        if path.exists():
            obs = _read_observations(path)
            return replace(obs, weight=obs.weight * weight)
    index = settings.retrieval.index().fit(articles, fingerprint=name)
    answerer = Answerer(index, articles, settings.answer, untrained())
    if constructed:
        items = build_items(articles, questions, index, seed=SEED, per_title=True)
    else:
        items = [Item(q, q.text, "asked" if q.answers else NOT_ANSWERABLE, (), 1.0)
                 for q in questions]
    obs = observe(answerer, articles, items, jobs)
    groups = [_group(i.question) for i in items]
    family = name.split("-")[0]   # a question asked of several corpora stays in one fold
    obs = replace(obs, group=np.array([f"{family}:{g}" for g in groups], dtype=object)[obs.item],
                  source=np.full(obs.item.size, name, dtype=object))
    if path is not None:
        _write_observations(obs, path)
    return replace(obs, weight=obs.weight * weight)


def _group(question) -> str:
    """What a question's fold is kept with: its Wikipedia article, its story, its week."""
    if question.anywhere:                       # RealTimeQA: the quiz's week
        return question.id.split("_")[0]
    return title_of(question.paragraph_id) or question.id


def observations_key(articles: list[Article], questions: list, settings: Settings,
                     constructed: bool = True) -> str:
    """A digest of what the observations depend on: the articles and questions, the default
    settings, every file of the ``retrieval`` package (the shipped model aside: observing
    uses an untrained one), the training items' code and this module's observing code."""
    digest = hashlib.sha256()
    for article in articles:
        digest.update(repr((article.id, article.text)).encode())
    for question in questions:
        digest.update(repr(question).encode())
    # The minimums and top_k decide what to show, not the first candidate's features.
    answer = replace(settings.answer, min_confidence=0.0, top_k=1)
    digest.update(repr((settings.retrieval, answer, SEED, constructed)).encode())
    package = Path(retrieval.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json") and path != MODEL_FILE:
            digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    for code in (negatives, benchmarks.data):
        digest.update(Path(code.__file__).read_bytes())
    for function in (_corpus, without_passages, observe, _observe_into, _observe_items,
                     observe_corpus, _group):
        digest.update(inspect.getsource(function).encode())
    digest.update(f"numpy {np.__version__} scipy {scipy.__version__}".encode())
    return digest.hexdigest()[:16]


def _write_observations(obs: Observed, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, **{f.name: (getattr(obs, f.name).astype(str)
                                             if getattr(obs, f.name).dtype == object
                                             else getattr(obs, f.name))
                                    for f in fields(Observed)})
    partial.replace(path)


def _read_observations(path: Path) -> Observed:
    with np.load(path, allow_pickle=False) as data:
        return Observed(**{f.name: (data[f.name].astype(object) if data[f.name].dtype.kind == "U"
                                    else data[f.name]) for f in fields(Observed)})


@dataclass(frozen=True)
class Firsts:
    """Each item's first candidate when the candidates are ordered by a confidence: that
    confidence, whether it is right, and the item's weight, answerability and data set."""

    confidence: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    answerable: np.ndarray
    source: np.ndarray


def firsts(confidence: np.ndarray, obs: Observed, key: np.ndarray | None = None) -> Firsts:
    """The first candidate of each item by ``key`` (a value per row, default the
    ``confidence``; ties: the first by score, as the answerer orders them), with its
    confidence."""
    key = confidence if key is None else key
    order = np.lexsort((np.arange(obs.item.size), -key, obs.item))
    first = order[np.r_[True, obs.item[order][1:] != obs.item[order][:-1]]]
    return Firsts(confidence[first], obs.right[first], obs.weight[first],
                  obs.answerable[first], obs.source[first])


def utility(f: Firsts, threshold: float) -> float:
    """What readers get: answered right less answered wrong (a wrong quote costs as much as
    a right one gives), a share of each data set's items by weight, averaged over the data
    sets (each kind of news corpus counts the same, however many questions it has)."""
    answered = f.confidence >= threshold
    gain = f.weight * (answered & f.right) - f.weight * (answered & ~f.right)
    sources = f.source.astype(str)
    return float(np.mean([gain[sources == s].sum() / f.weight[sources == s].sum()
                          for s in np.unique(sources)]))


def choose_threshold(f: Firsts, window: int = SMOOTHING) -> float:
    """The threshold (0.01 steps) with the best utility averaged over the ``window``
    steps either side (the curve is flat near its top and its bumps are noise); the lowest
    of equals."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    gains = np.array([utility(f, t) for t in grid])
    padded = np.pad(gains, window, mode="edge")
    smooth = np.convolve(padded, np.ones(2 * window + 1) / (2 * window + 1), mode="valid")
    return float(grid[int(np.argmax(smooth))])


def source_figures(f: Firsts, threshold: float) -> dict[str, float | int]:
    """P@1 of the answerable items, answered right, wrong and declined (shares of them),
    the wrong share of the answers, AUROC, and the not-answerable items declined."""
    a = f.answerable
    answered = f.confidence >= threshold
    n = max(int(a.sum()), 1)
    wrong = int((answered & ~f.right & a).sum())
    figures: dict[str, float | int] = {
        "answerable": int(a.sum()),
        "p_at_1": round(float(f.right[a].sum()) / n, 4),
        "answered_right": round(float((answered & f.right)[a].sum()) / n, 4),
        "answered_wrong": round(wrong / n, 4),
        "declined": round(float((~answered)[a].sum()) / n, 4),
        "wrong_share": round(float((answered & ~f.right).sum()) / max(int(answered.sum()), 1),
                             4),
        "auroc": round(auroc(f.confidence, f.right) or 0.0, 4),
    }
    if (~a).any():
        figures["not_answerable"] = int((~a).sum())
        figures["not_answerable_declined"] = round(float((~answered)[~a].mean()), 4)
    return figures


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Standardised features into a network of one hidden layer (``HIDDEN`` ReLU units) and
    a logistic output, fitted to the weighted log-loss."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=300, random_state=SEED))
    return model.fit(x, y, mlpclassifier__sample_weight=w)


def ranking_pairs(obs: Observed, rows: np.ndarray, z: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Differences of standardised features ``z`` between a right and a wrong candidate of
    one item (up to ``PAIRS_RIGHT`` right and ``PAIRS_WRONG`` wrong ones of each, among
    ``rows``), both ways round, labelled 1 and 0, each item weighing its weight."""
    first, second, weight = [], [], []
    items = obs.item[rows]
    bounds = np.flatnonzero(np.r_[True, items[1:] != items[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        of = rows[lo:hi]
        right = obs.right[of]
        if right.all() or not right.any():
            continue
        good, bad = of[right][:PAIRS_RIGHT], of[~right][:PAIRS_WRONG]
        for g in good:
            first.extend([g] * bad.size)
            second.extend(bad.tolist())
            weight.extend([obs.weight[g] * (hi - lo) / (good.size * bad.size)] * bad.size)
    d = z[np.array(first, dtype=np.int64)] - z[np.array(second, dtype=np.int64)]
    w = np.array(weight)
    return np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], np.r_[w, w]


def fit_ranker(obs: Observed, rows: np.ndarray, scaler) -> np.ndarray:
    """A linear ranker (a logistic regression without intercept on pairs of a right and a
    wrong candidate, ``ranking_pairs``) over the standardised features: its weights."""
    from sklearn.linear_model import LogisticRegression
    x, y, w = ranking_pairs(obs, rows, scaler.transform(obs.features))
    model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=1000)
    return model.fit(x, y, sample_weight=w).coef_[0]


def out_of_fold(obs: Observed, usable: np.ndarray, jobs: int = JOBS
                ) -> tuple[np.ndarray, np.ndarray, object, np.ndarray]:
    """Each row's confidence and ranker value from models fitted without its group's items
    (a Wikipedia article, a story, a quiz week), and the models fitted to every usable row:
    the ``FOLDS + 1`` networks run in ``jobs`` processes (each fit is seeded)."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import GroupKFold
    confidence = np.zeros(obs.right.size)
    ranked = np.zeros(obs.right.size)
    rows = np.flatnonzero(usable)
    x, y, w, g = (obs.features[rows], obs.right[rows], obs.weight[rows], obs.group[rows])
    folds = list(GroupKFold(n_splits=FOLDS).split(x, y, g))
    tasks = [(x[train], y[train], w[train]) for train, _ in folds] + [(x, y, w)]
    *fold_models, final = Parallel(n_jobs=max(1, min(jobs, len(tasks))))(
        delayed(fit)(*task) for task in tasks)
    safe = replace(obs, features=np.nan_to_num(obs.features))
    for (train, test), model in zip(folds, fold_models):
        confidence[rows[test]] = model.predict_proba(x[test])[:, 1]
        scaler = model.named_steps["standardscaler"]
        coef = fit_ranker(safe, rows[train], scaler)
        ranked[rows[test]] = scaler.transform(x[test]) @ coef
    ranker = fit_ranker(safe, rows, final.named_steps["standardscaler"])
    return confidence, ranked, final, ranker


def candidate_weights(obs: Observed) -> np.ndarray:
    """Each row's weight in the fit: its item's weight times its data set's
    (``SOURCE_WEIGHT``), shared among the item's rows."""
    rows = np.bincount(obs.item)[obs.item]
    source = np.array([SOURCE_WEIGHT.get(str(s), 1.0) for s in obs.source])
    return obs.weight * source / rows


def gather(jobs: int = JOBS, cache: Path | None = CACHE) -> Observed:
    """The observations of every training set (``benchmarks/README.md``, section 1)."""
    articles, questions = load_squad(SQUAD_DEV)
    tuning = [q for q in questions if not q.held_out][::SQUAD_EVERY]
    parts = [observe_corpus(articles, tuning, "squad-dev", jobs=jobs, cache=cache)]
    news, questions = load_realtimeqa_tune()
    parts.append(observe_corpus(news, questions, "realtimeqa-tune", jobs=jobs, cache=cache,
                                constructed=False))
    news, questions = load_coqa_tune()
    parts.append(observe_corpus(news, questions, "coqa-cnn-tune", jobs=jobs, cache=cache))
    news, questions = load_realtimeqa_tune()
    parts.extend(observe_corpus(recent, asked, "realtimeqa-week", jobs=jobs, cache=cache,
                                constructed=False)
                 for _, recent, asked in realtimeqa_weeks(news, questions))
    for name, (path, corpus) in OWN_SETS.items():
        news, questions = load_question_set(path, corpus)
        parts.append(observe_corpus(news, questions, name, jobs=jobs, cache=cache,
                                    constructed=False))
    return joined(parts)


def run(out: Path = MODEL_FILE, jobs: int = JOBS, cache: Path | None = CACHE) -> dict:
    started = time.perf_counter()
    asked = gather(jobs, cache)
    obs = replace(asked, weight=candidate_weights(asked))
    index = load_settings(environ={}).retrieval.index()
    usable = ~np.isnan(obs.features).any(axis=1)
    oof, ranked, final, ranker = out_of_fold(obs, usable, jobs)
    # The threshold weighs each item as its data set does (not by its weight in the fit).
    by_item = firsts(oof, asked, np.where(usable, ranked, -np.inf))
    news = np.isin(by_item.source.astype(str), NEWS)
    threshold = choose_threshold(_subset(by_item, news))
    scaler, network = final.named_steps["standardscaler"], final.named_steps["mlpclassifier"]
    import sklearn
    sources = sorted(set(by_item.source.astype(str)))
    figures = {
        "rows": int(obs.item.size), "items": int(obs.item.max()) + 1,
        "source_weights": {s: SOURCE_WEIGHT.get(s, 1.0) for s in sources},
        "min_confidence": threshold,
        "chosen_on": list(NEWS),
        "out_of_fold": {s: source_figures(_subset(by_item, by_item.source.astype(str) == s),
                                          threshold) for s in sources},
        "out_of_fold_candidate_auroc": round(auroc(oof[usable], obs.right[usable]) or 0.0, 4),
    }
    model = ConfidenceModel(
        version=VERSION, features=FEATURES, mean=scaler.mean_, scale=scaler.scale_,
        coef=network.coefs_[1][:, 0], intercept=float(network.intercepts_[1][0]),
        hidden_weights=network.coefs_[0], hidden_bias=network.intercepts_[0], ranker=ranker,
        about={"trained_on": "news (RealTimeQA tune, CoQA-CNN tune, our reader questions "
                             "on the bundled articles) and the tuning half of SQuAD v1.1 dev "
                             "(benchmarks/train_confidence.py)",
               "seed": SEED, "hidden_units": HIDDEN, "alpha": ALPHA,
               "scikit_learn": sklearn.__version__,
               "retrieval": index.manifest_params(), **figures})
    model.save(out)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print_report(figures, oof[usable], obs.right[usable], obs.weight[usable])
    print(f"\nmodel written to {out}; set answer.min_confidence = {threshold} in "
          f"config/default.toml")
    return figures


def _subset(f: Firsts, mask: np.ndarray) -> Firsts:
    return Firsts(*(getattr(f, name)[mask] for name in
                    ("confidence", "right", "weight", "answerable", "source")))


def print_report(figures: dict, oof: np.ndarray, right: np.ndarray,
                 weight: np.ndarray) -> None:
    print("Confidence model (candidates reranked by it), out of fold; min_confidence "
          f"{figures['min_confidence']} chosen on {', '.join(figures['chosen_on'])}")
    print(f"  {'data':<18}{'n':>6}{'P@1':>7}{'right':>7}{'wrong':>7}{'declined':>9}"
          f"{'wrong share':>12}{'AUROC':>7}{'n/a declined':>14}")
    for name, f in figures["out_of_fold"].items():
        na = (f"{f['not_answerable_declined']:.3f} of {f['not_answerable']}"
              if "not_answerable" in f else "-")
        print(f"  {name:<18}{f['answerable']:>6}{f['p_at_1']:>7.3f}{f['answered_right']:>7.3f}"
              f"{f['answered_wrong']:>7.3f}{f['declined']:>9.3f}{f['wrong_share']:>12.3f}"
              f"{f['auroc']:>7.3f}{na:>14}")
    print(f"  candidates: {figures['rows']:,} rows of {figures['items']:,} items, AUROC "
          f"{figures['out_of_fold_candidate_auroc']}")
    print("\nreliability (out of fold, every candidate, weighted):")
    print(f"  {'confidence':<12}{'rows':>7}{'predicted':>11}{'observed':>10}")
    for b in reliability(oof, right, weights=weight):
        print(f"  {b.low:.1f}-{b.high:.1f}{'':<5}{b.count:>7}{b.mean_confidence:>11.3f}"
              f"{b.observed:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--jobs", type=int, default=JOBS,
                        help="processes asking the training questions and fitting the models "
                             "(the model is the same)")
    parser.add_argument("--no-cache", action="store_true",
                        help=f"ask every training question again (observations are kept in "
                             f"{CACHE})")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not SQUAD_DEV.exists():
        print(f"SQuAD dev set not found at {SQUAD_DEV}", file=sys.stderr)
        return 2
    run(args.out, args.jobs, None if args.no_cache else CACHE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
