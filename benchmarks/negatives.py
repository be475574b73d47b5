"""Training questions for a confidence: SQuAD v1.1 dev questions of the tuning half as asked
(answerable: right when the first answer is), a reworded version of each (its most common
content word replaced by a made-up one: still answerable), and up to six unanswerable
versions, made from data we have:

* **no article**: every paragraph of the question's Wikipedia article is taken out of the
  corpus (the corpus does not cover the subject);
* **no paragraph**: only the question's own paragraph is taken out (the subject is covered,
  the fact is not);
* **one word**: one content word of the question alone (a question too vague to answer);
* **negated**: "not" after the question's first auxiliary verb;
* **swapped in article**: as swapped word, with a word of the question's own Wikipedia
  article;
* **swapped word**: one of the two rarest words of the question is replaced by another word
  of the corpus with a similar idf that its paragraph does not hold (a question that looks
  answerable but asks something the corpus does not say, as SQuAD 2.0's do).

Each unanswerable version weighs a sixth of a question (``NEGATIVE_WEIGHT``), so about half
the weight is answerable questions and half unanswerable ones. Seeded: the same items on
every run."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

from benchmarks.data import Question, holds_answer, normal
from retrieval.corpus import Article
from retrieval.index import TfidfIndex

KINDS = ("asked", "paraphrased", "no article", "no paragraph", "swapped word",
         "swapped in article", "negated", "one word")
ANSWERABLE = ("asked", "paraphrased")
NEGATIVE_WEIGHT = 1.0 / (len(KINDS) - len(ANSWERABLE))
ALL = ""


def title_of(article_id: str) -> str:
    """The Wikipedia article of a SQuAD paragraph id (``Title#n``)."""
    return article_id.rsplit("#", 1)[0]


@dataclass(frozen=True)
class Item:
    """A question to ask, the articles (numbers) to take out of the corpus first, and whether
    it can be answered at all."""

    question: Question
    text: str
    kind: str
    excluded: tuple[str, ...]   # article ids
    weight: float
    corpus: str = ALL           # ALL, or the Wikipedia title whose paragraphs are the corpus

    @property
    def answerable(self) -> bool:
        return self.kind in ANSWERABLE


def is_right(question: Question, article_id: str, sentence: str,
             where: tuple[int, int] | None = None) -> bool:
    """The ReQA rule: the sentence is from the question's paragraph and holds a gold answer;
    for a question with a rationale ``span`` (CoQA), the sentence (at ``where`` in the
    article) overlaps it instead."""
    if question.anywhere:
        return any(holds_answer(a, sentence) for a in question.answers)
    if article_id != question.paragraph_id:
        return False
    if question.span is not None and where is not None:
        return where[0] < question.span[1] and question.span[0] < where[1]
    return any(a in normal(sentence) for a in question.answers)


def build_items(articles: list[Article], questions: list[Question], index: TfidfIndex,
                seed: int = 0, per_title: bool = False,
                per_title_share: float = 0.5) -> list[Item]:
    """The asked question and its unanswerable versions, for every question given, asked of
    the whole corpus; with ``per_title`` also asked of a small corpus: the paragraphs of its
    own Wikipedia article, for a ``per_title_share`` of them chosen at random (where its subject's words are in every paragraph, as in a corpus
    of a few news articles about one story), "no article" there meaning another article's."""
    rng = random.Random(seed)
    by_title: dict[str, list[str]] = {}
    for a in articles:
        by_title.setdefault(title_of(a.id), []).append(a.id)
    titles = sorted(by_title)
    text_of = {a.id: a.text for a in articles}
    swapper = _WordSwapper(articles, index)
    title_words = {t: swapper.article_words(" ".join(text_of[i] for i in ids))
                   for t, ids in by_title.items()}
    items: list[Item] = []
    for q in questions:
        own, title = q.paragraph_id, title_of(q.paragraph_id)
        swapped = swapper.swap(q.text, text_of[own], rng)
        swapped_near = swapper.swap(q.text, "", rng, among=title_words[title])
        denied = negate(q.text)
        one = swapper.one_word(q.text, rng)
        reworded = swapper.reword(q.text, rng)
        for corpus in ((ALL, title) if per_title and rng.random() < per_title_share else (ALL,)):
            items.append(Item(q, q.text, "asked", (), 0.5 if reworded else 1.0, corpus))
            if reworded is not None:
                items.append(Item(q, reworded, "paraphrased", (), 0.5, corpus))
            if corpus == ALL:
                items.append(Item(q, q.text, "no article", tuple(by_title[title]),
                                  NEGATIVE_WEIGHT, corpus))
            else:
                other = titles[(titles.index(title) + rng.randrange(1, len(titles)))
                               % len(titles)]
                items.append(Item(q, q.text, "no article", (), NEGATIVE_WEIGHT, other))
            items.append(Item(q, q.text, "no paragraph", (own,), NEGATIVE_WEIGHT, corpus))
            for kind, text in (("swapped word", swapped), ("swapped in article", swapped_near),
                               ("negated", denied), ("one word", one)):
                if text is not None:
                    items.append(Item(q, text, kind, (), NEGATIVE_WEIGHT, corpus))
    return items


_AUXILIARY = re.compile(r"\b(did|does|do|is|was|were|are|can|could|will|would|has|have|had)\b",
                        re.IGNORECASE)


def negate(question: str) -> str | None:
    """The question with "not" after its first auxiliary verb ("What did X not sign?"), or
    None when it has none or is negated already."""
    if re.search(r"\b(not|never|no)\b|n't", question, re.IGNORECASE):
        return None
    match = _AUXILIARY.search(question)
    if match is None:
        return None
    return question[:match.end()] + " not" + question[match.end():]


class _WordSwapper:
    """Replaces a rare word of a question by a corpus word of similar idf."""

    def __init__(self, articles: list[Article], index: TfidfIndex) -> None:
        self.index = index
        analyzer = index.analyzer
        stop = analyzer.stop_set()
        words = sorted({w for a in articles for w in analyzer.words(a.text)
                        if w not in stop and w.isalpha() and len(w) > 2})
        stems = [analyzer(w) for w in words]
        pairs = [(w, s[0]) for w, s in zip(words, stems) if len(s) == 1]
        ids = index.lookup([s for _, s in pairs])
        keep = ids >= 0
        self.words = [w for (w, _), k in zip(pairs, keep) if k]
        self.stems = [s for (_, s), k in zip(pairs, keep) if k]
        self.idf = index.idf_[ids[keep]]
        self.order = np.argsort(self.idf, kind="stable")
        self.sorted_idf = self.idf[self.order]

    def one_word(self, question: str, rng: random.Random) -> str | None:
        """One content word of the question, alone (as "help" or "Russia" typed alone)."""
        stop = self.index.analyzer.stop_set()
        words = [w for w in dict.fromkeys(self.index.analyzer.words(question))
                 if w not in stop and w.isalpha()]
        return rng.choice(words) if words else None

    def article_words(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The words (positions into ``self.words``) whose stems ``text`` holds, by idf, and
        their idf."""
        stems = set(self.index.analyzer(text))
        held = np.array([i for i in self.order if self.stems[i] in stems], dtype=np.int64)
        return held, self.idf[held]

    def reword(self, question: str, rng: random.Random) -> str | None:
        """The question with its most common content word (of three or more) replaced by a
        made-up lower-case word no article uses, as a person asking in their own words would
        ("mention" for "said"): still answerable."""
        ranked = self._ranked(question)
        if len(ranked) < 3:
            return None
        word = ranked[-1][1]
        match = re.search(rf"\b{re.escape(word)}\b", question, re.IGNORECASE)
        if match is None:
            return None
        unseen = "".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou")
                         for _ in range(4))
        return question[:match.start()] + unseen + question[match.end():]

    def _ranked(self, question: str) -> list[tuple[float, str]]:
        """The question's content words known to the corpus, rarest first, with their idf."""
        analyzer = self.index.analyzer
        stop = analyzer.stop_set()
        words = [w for w in dict.fromkeys(analyzer.words(question))
                 if w not in stop and w.isalpha()]
        terms = [analyzer(w) for w in words]
        known = [(w, t[0]) for w, t in zip(words, terms) if len(t) == 1]
        ids = self.index.lookup([t for _, t in known])
        return sorted(((float(self.index.idf_[i]), w) for (w, _), i in zip(known, ids)
                       if i >= 0), reverse=True)

    def swap(self, question: str, paragraph: str, rng: random.Random,
             among: tuple[np.ndarray, np.ndarray] | None = None) -> str | None:
        analyzer = self.index.analyzer
        ranked = self._ranked(question)
        if not ranked:
            return None
        idf, word = ranked[rng.randrange(min(2, len(ranked)))]
        avoid = set(analyzer(paragraph)) | set(analyzer(question))
        if among is not None:   # among the given words, the nearest in idf
            held, held_idf = among
            centre = int(np.searchsorted(held_idf, idf))
            near = held[max(0, centre - 15):centre + 15]
            choices = [int(j) for j in near if self.stems[int(j)] not in avoid]
        else:
            centre = int(np.searchsorted(self.sorted_idf, idf))
            lo, hi = max(0, centre - 100), min(self.order.size, centre + 100)
            choices = [int(self.order[j]) for j in range(lo, hi)
                       if self.stems[int(self.order[j])] not in avoid]
        if not choices:
            return None
        new = self.words[rng.choice(choices)]
        match = re.search(rf"\b{re.escape(word)}\b", question, re.IGNORECASE)
        if match is None:
            return None
        found = match.group(0)
        new = new.capitalize() if found[:1].isupper() else new
        return question[:match.start()] + new + question[match.end():]
