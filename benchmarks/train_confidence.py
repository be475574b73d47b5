"""Fit the answerer's confidence model and choose ``answer.min_confidence``.

Training data: the tuning half of SQuAD v1.1 dev (never the held-out half, never SQuAD 2.0),
every paragraph one article, each question asked as written (right when the first answer is
right by the ReQA rule), reworded, and in up to six unanswerable versions
(``benchmarks/negatives.py``). The
features are those of the first candidate, as the bot computes them (``Answerer.score``). A
small network (scikit-learn's ``MLPClassifier``: standardised features, one hidden layer of
16 ReLU units, a logistic output, seeded) is fitted to all of it; out-of-fold predictions
(3 folds grouped by Wikipedia article) give the AUROC, the reliability
table and the ``min_confidence`` that maximises decision accuracy (answered right plus
unanswerable declined, by weight), after ``min_score``: the ranking score that 99% of right
first answers reach, a secondary floor. The model is written to
``retrieval/answer/confidence.json``.

Asking the 62,000 training items is most of the work: it runs in ``--jobs`` processes (2),
and what they observed is kept in ``benchmarks/results/work/`` under a key of everything it
depends on (the data, the settings, the ``retrieval`` package and the observing code), so a
run that changes only the model (its size, its fitting) reads it back in a second.

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
from benchmarks.data import SQUAD_DEV, load_coqa_tune, load_squad
from benchmarks.negatives import ALL, KINDS, Item, build_items, is_right, title_of
from retrieval.answer.confidence import MODEL_FILE, MODEL_FORMAT, ConfidenceModel
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
JOBS = 2   # processes asking the training questions
# Where observations are kept between runs (git ignores it): a run that changes only the
# model reads them back instead of asking 60,000 questions again.
CACHE = Path(__file__).resolve().parent / "results" / "work" / "confidence-observations"
SCORE_QUANTILE = 0.01
# How much a news question (CoQA-CNN tune) weighs against a SQuAD one. 0: none, the shipped
# model. Weights 2, 4 and 8 were tried: none answered more of the seed questions, and each
# answered one of them wrongly (benchmarks/README.md, section 1b).
NEWS_WEIGHT = 0.0


@dataclass(frozen=True)
class Observed:
    """What the answerer's first candidate was for each item: its features (a row, or NaN
    when the question had nothing to score) and whether it was right."""

    features: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    answerable: np.ndarray
    kind: np.ndarray
    group: np.ndarray


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
    and keep its first candidate's features; in ``jobs`` processes (forked, so each starts
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
    rows = [row for part, _ in parts for row in part]
    right = [r for _, part in parts for r in part]
    return Observed(np.vstack(rows), np.array(right), np.array([i.weight for i in items]),
                    np.array([i.answerable for i in items]), np.array([i.kind for i in items]),
                    np.array([title_of(i.question.paragraph_id) for i in items]))


def _received(pipe: Connection) -> tuple[list[np.ndarray], list[bool]] | None:
    """What a worker sent, or None when it ended without sending."""
    try:
        return pipe.recv()
    except EOFError:
        return None


def _observe_into(corpora: dict[str, _Corpus], items: list[Item], pipe: Connection) -> None:
    pipe.send(_observe_items(corpora, items))
    pipe.close()


def _observe_items(corpora: dict[str, _Corpus],
                   items: list[Item]) -> tuple[list[np.ndarray], list[bool]]:
    """Each item's first-candidate features (NaN when nothing was scored) and rightness."""
    rows, right = [], []
    for item in items:
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
            scored = corpus.answerer.score(item.text, query, ids, weights, allowed, 1)
        if not scored:
            rows.append(np.full(len(FEATURES), np.nan))
            right.append(False)
            continue
        best = scored[0]
        article = corpus.articles[int(index.sentence_article_[best.sentence_id])]
        where = (int(index.sentence_start_[best.sentence_id]),
                 int(index.sentence_end_[best.sentence_id]))
        rows.append(best.features)
        right.append(item.answerable and is_right(item.question, article.id,
                                                  article.text[where[0]:where[1]], where))
    return rows, right


def joined(parts: list[Observed]) -> Observed:
    """Several sets of observations as one."""
    return Observed(*(np.concatenate([getattr(o, f) for o in parts])
                      for f in ("features", "right", "weight", "answerable", "kind", "group")))


def observe_corpus(articles: list[Article], questions: list, name: str,
                   weight: float = 1.0, jobs: int = JOBS, cache: Path | None = CACHE) -> Observed:
    """Index ``articles`` with the default settings, build the items of ``questions`` (asked,
    reworded and the constructed unanswerable versions, also of each article's own small
    corpus for half of them) and observe them; weights times ``weight``. The observations
    are kept in ``cache`` (a directory; None: not kept) under a key that changes with the
    data, the settings and any code that computes them, and read back from it."""
    settings = load_settings(environ={})
    path = None
    if cache is not None:
        path = cache / f"{name}-{observations_key(articles, questions, settings)}.npz"
        if path.exists():
            obs = _read_observations(path)
            return replace(obs, weight=obs.weight * weight)
    index = settings.retrieval.index().fit(articles, fingerprint=name)
    answerer = Answerer(index, articles, settings.answer, untrained())
    items = build_items(articles, questions, index, seed=SEED, per_title=True)
    obs = observe(answerer, articles, items, jobs)
    obs = replace(obs, group=np.array([f"{name}:{g}" for g in obs.group]))
    if path is not None:
        _write_observations(obs, path)
    return replace(obs, weight=obs.weight * weight)


def observations_key(articles: list[Article], questions: list, settings: Settings) -> str:
    """A digest of what the observations depend on: the articles and questions, the default
    settings, every file of the ``retrieval`` package (the shipped model aside: observing
    uses an untrained one), the training items' code and this module's observing code."""
    digest = hashlib.sha256()
    for article in articles:
        digest.update(repr((article.id, article.text)).encode())
    for question in questions:
        digest.update(repr(question).encode())
    # The minimums and top_k decide what to show, not the first candidate's features.
    answer = replace(settings.answer, min_confidence=0.0, min_score=0.0, top_k=1)
    digest.update(repr((settings.retrieval, answer, SEED)).encode())
    package = Path(retrieval.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json") and path != MODEL_FILE:
            digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    for code in (negatives, benchmarks.data):
        digest.update(Path(code.__file__).read_bytes())
    for function in (_corpus, without_passages, observe, _observe_into, _observe_items,
                     observe_corpus):
        digest.update(inspect.getsource(function).encode())
    digest.update(f"numpy {np.__version__} scipy {scipy.__version__}".encode())
    return digest.hexdigest()[:16]


def _write_observations(obs: Observed, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, **{f.name: getattr(obs, f.name) for f in fields(Observed)})
    partial.replace(path)


def _read_observations(path: Path) -> Observed:
    with np.load(path, allow_pickle=False) as data:
        return Observed(**{f.name: data[f.name] for f in fields(Observed)})


def decision_accuracy(confidence: np.ndarray, obs: Observed, threshold: float,
                      floor: np.ndarray | None = None) -> float:
    """(answered right + unanswerable declined) / all, by weight; answered when the
    confidence reaches ``threshold`` (and, where ``floor`` is given, it is true)."""
    answered = confidence >= threshold
    if floor is not None:
        answered &= floor
    good = np.where(obs.answerable, answered & obs.right, ~answered)
    return float((good * obs.weight).sum() / obs.weight.sum())


def choose_threshold(confidence: np.ndarray, obs: Observed,
                     floor: np.ndarray | None = None) -> float:
    """The threshold (0.01 steps) with the best decision accuracy; the lowest of equals."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    accuracy = [decision_accuracy(confidence, obs, t, floor) for t in grid]
    return float(grid[int(np.argmax(accuracy))])


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Standardised features into a network of one hidden layer (``HIDDEN`` ReLU units) and
    a logistic output, fitted to the weighted log-loss."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=200, random_state=SEED))
    return model.fit(x, y, mlpclassifier__sample_weight=w)


def out_of_fold(obs: Observed, usable: np.ndarray, jobs: int = JOBS) -> tuple[np.ndarray, object]:
    """Each item's confidence from a model fitted without its Wikipedia article's items, and
    the model fitted to every usable item: the ``FOLDS + 1`` fits run in ``jobs`` processes
    (each fit is seeded, so the models are those of one process)."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import GroupKFold
    confidence = np.zeros(obs.right.size)
    x, y, w, g = (obs.features[usable], obs.right[usable], obs.weight[usable],
                  obs.group[usable])
    folds = list(GroupKFold(n_splits=FOLDS).split(x, y, g))
    tasks = [(x[train], y[train], w[train]) for train, _ in folds] + [(x, y, w)]
    *fold_models, final = Parallel(n_jobs=max(1, min(jobs, len(tasks))))(
        delayed(fit)(*task) for task in tasks)
    predicted = np.zeros(x.shape[0])
    for (_, test), model in zip(folds, fold_models):
        predicted[test] = model.predict_proba(x[test])[:, 1]
    confidence[usable] = predicted
    return confidence, final


def run(out: Path = MODEL_FILE, news_weight: float = NEWS_WEIGHT, jobs: int = JOBS,
        cache: Path | None = CACHE) -> dict:
    started = time.perf_counter()
    articles, questions = load_squad(SQUAD_DEV)
    tuning = [q for q in questions if not q.held_out]
    squad = observe_corpus(articles, tuning, "squad-dev", jobs=jobs, cache=cache)
    news_articles, news_questions = load_coqa_tune()
    parts = [squad]
    if news_weight > 0:
        parts.append(observe_corpus(news_articles, news_questions, "coqa-cnn-tune", news_weight,
                                    jobs, cache))
    obs = joined(parts)
    index = load_settings(environ={}).retrieval.index()
    usable = ~np.isnan(obs.features).any(axis=1)
    oof, final = out_of_fold(obs, usable, jobs)
    # The secondary floor: a ranking score below what 99% of right first answers reach.
    scores = np.nan_to_num(obs.features[:, FEATURES.index("score")])
    min_score = round(float(np.quantile(scores[obs.right], SCORE_QUANTILE)), 2)
    floor = scores >= min_score
    threshold = choose_threshold(oof, obs, floor)
    is_news = np.char.startswith(obs.group.astype(str), "coqa")
    scaler, network = final.named_steps["standardscaler"], final.named_steps["mlpclassifier"]
    import sklearn
    figures = {
        "items": {kind: int((obs.kind == kind).sum()) for kind in KINDS},
        "news_questions": len(news_questions),
        "news_weight": news_weight,
        "answerable_right_first": round(float(obs.right[obs.answerable].mean()), 4),
        "out_of_fold_auroc": round(auroc(oof, obs.right), 4),
        "out_of_fold_auroc_answerable_only": round(auroc(oof[obs.answerable],
                                                    obs.right[obs.answerable]), 4),
        **({"out_of_fold_auroc_news": round(auroc(oof[is_news], obs.right[is_news]), 4),
            "news_answerable_right_first": round(float(
                obs.right[is_news & obs.answerable].mean()), 4)} if is_news.any() else {}),
        "min_confidence": threshold,
        "min_score": min_score,
        "decision_accuracy_at_min_confidence": round(decision_accuracy(oof, obs, threshold,
                                                                       floor), 4),
    }
    model = ConfidenceModel(
        version=VERSION, features=FEATURES, mean=scaler.mean_, scale=scaler.scale_,
        coef=network.coefs_[1][:, 0], intercept=float(network.intercepts_[1][0]),
        hidden_weights=network.coefs_[0], hidden_bias=network.intercepts_[0],
        about={"trained_on": "SQuAD v1.1 dev, tuning half" + (
                   ", and the CoQA-CNN tune stories' questions that read alone"
                   if news_weight > 0 else "") + " (benchmarks/train_confidence.py)",
               "format": MODEL_FORMAT, "seed": SEED, "hidden_units": HIDDEN, "alpha": ALPHA,
               "scikit_learn": sklearn.__version__,
               "retrieval": index.manifest_params(), **figures})
    model.about.pop("format")
    model.save(out)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print_report(figures, oof, obs, model)
    print(f"\nmodel written to {out}; set answer.min_confidence = {threshold} and "
          f"answer.min_score = {min_score} in config/default.toml")
    return figures


def print_report(figures: dict, oof: np.ndarray, obs: Observed, model: ConfidenceModel) -> None:
    print("Confidence model, trained on the tuning half of SQuAD v1.1 dev"
          + (" and the CoQA-CNN tune stories" if figures["news_weight"] else ""))
    for key, value in figures.items():
        print(f"  {key}: {value}")
    for kind in KINDS[2:]:
        mask = obs.answerable | (obs.kind == kind)
        print(f"  out-of-fold AUROC, asked and {kind}: {auroc(oof[mask], obs.right[mask]):.4f}")
    print("\nreliability (out of fold, every item, weighted):")
    print(f"  {'confidence':<12}{'items':>7}{'predicted':>11}{'observed':>10}")
    for b in reliability(oof, obs.right, weights=obs.weight):
        print(f"  {b.low:.1f}-{b.high:.1f}{'':<5}{b.count:>7}{b.mean_confidence:>11.3f}"
              f"{b.observed:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--news-weight", type=float, default=NEWS_WEIGHT,
                        help="weight of a CoQA-CNN question against a SQuAD one (0: none)")
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
    run(args.out, args.news_weight, args.jobs, None if args.no_cache else CACHE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
