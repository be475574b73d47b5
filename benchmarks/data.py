"""The benchmark data: the SQuAD v1.1 dev set as a corpus of articles (one paragraph each),
its questions split deterministically into a tuning half and a held-out half, and larger
corpora made by recombining the sentences of the same paragraphs.

Nothing is downloaded: the SQuAD file lives in the shared folder beside the repository."""
from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.corpus import Article
from retrieval.text import SegmentationRules, segment_article

REPO = Path(__file__).resolve().parent.parent
SQUAD_DEV = REPO.parent / "shared" / "data" / "squad-dev-v1.1.json"
SOURCE = "Wikipedia (SQuAD v1.1 dev)"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    paragraph_id: str          # the id of the article holding the question's paragraph
    answers: tuple[str, ...]   # gold answer texts, normalised with ``normal``
    # Where the article says it (character offsets of a rationale, CoQA), when the answer is
    # a passage rather than a text to find.
    span: tuple[int, int] | None = None
    # Right in any article whose sentence holds an answer as whole words (RealTimeQA's rule:
    # ``holds_answer``), not only in ``paragraph_id``.
    anywhere: bool = False

    @property
    def held_out(self) -> bool:
        """True for the half of the questions never looked at while tuning: decided by a hash
        of the question id, so the split is the same on every machine and every run."""
        return hashlib.blake2b(self.id.encode(), digest_size=8).digest()[0] & 1 == 1


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normal_answer(text: str) -> str:
    """RealTimeQA's normalisation (its README): NFKC, thousands separators dropped, accents
    dropped, case folded, every character that is not a letter or digit a space, spaces
    collapsed."""
    text = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text))
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def holds_answer(answer: str, sentence: str) -> bool:
    """Whether the normalised ``answer`` occurs in ``sentence`` as whole words."""
    return bool(answer) and f" {answer} " in f" {normal_answer(sentence)} "


def normal(text: str) -> str:
    """Case-folded, whitespace-collapsed text, for answer containment."""
    return _SPACE.sub(" ", text.casefold()).strip()


def load_squad(path: Path = SQUAD_DEV) -> tuple[list[Article], list[Question]]:
    """Every SQuAD paragraph as one article, and every question with its gold answers."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles: list[Article] = []
    questions: list[Question] = []
    for doc in data["data"]:
        title = doc["title"].replace("_", " ")
        for number, paragraph in enumerate(doc["paragraphs"]):
            pid = f"{doc['title']}#{number}"
            articles.append(Article(id=pid, title=title, source=SOURCE, text=paragraph["context"],
                                    url=f"https://en.wikipedia.org/wiki/{doc['title']}"))
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(normal(a["text"]) for a in qa["answers"]))
                questions.append(Question(qa["id"], qa["question"], pid, answers))
    return articles, questions


COQA_CNN = REPO.parent / "shared" / "data" / "coqa-cnn"
_REFERS_BACK = re.compile(r"\b(he|she|it|they|him|her|his|hers|its|them|their|theirs|this|that|"
                          r"these|those|there|then|one|else|other|others|also)\b", re.IGNORECASE)


def standalone(text: str) -> bool:
    """A question readable without the conversation before it: four words or more and no
    pronoun or other word that points back ("What did he do?" is not; "Who is Dennis
    Farina?" is)."""
    return len(text.split()) >= 4 and _REFERS_BACK.search(text) is None


def load_coqa_tune(directory: Path = COQA_CNN) -> tuple[list[Article], list[Question]]:
    """The CoQA-CNN stories of the "tune" split (never "heldout") as articles, and their
    answerable questions that read alone (the first of each conversation, and every later one
    that is ``standalone``), each right where a sentence overlaps its rationale span."""
    rows = [json.loads(line) for line in
            (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if r["split"] == "tune"]
    stories = {r["story_id"] for r in rows}
    articles = []
    for line in (directory / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line else None
        if record and record["id"] in stories:
            articles.append(Article(id=record["id"], title=record["title"],
                                    source=record["source"], text=record["text"]))
    questions = [Question(r["id"], r["question"], r["story_id"], (normal(r["answer"]),),
                          span=(r["span_start"], r["span_end"]))
                 for r in rows if not r["unanswerable"] and r["span_start"] is not None
                 and (r["turn"] == 1 or standalone(r["question"]))]
    return articles, questions


REALTIMEQA = REPO.parent / "shared" / "data" / "realtimeqa"


def load_realtimeqa_tune(directory: Path = REALTIMEQA / "tune"
                         ) -> tuple[list[Article], list[Question]]:
    """RealTimeQA's "tune" split (never "heldout") as articles and questions: right in any
    article holding the answer as whole words; a question that is not answerable has no
    answers."""
    from retrieval.corpus import load_corpus
    articles = list(load_corpus(directory / "corpus.jsonl").articles)
    questions = []
    for line in (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line:
            q = json.loads(line)
            answers = (normal_answer(q["answer"]),) if q["answerable"] else ()
            questions.append(Question(q["id"], q["question"], "", answers, anywhere=True))
    return articles, questions


def realtimeqa_weeks(articles: list[Article], questions: list[Question],
                     before: int = 10, after: int = 2
                     ) -> list[tuple[str, list[Article], list[Question]]]:
    """Each quiz week of RealTimeQA as a small corpus of recent news: the articles dated from
    ``before`` days before the quiz to ``after`` days after it, and that week's questions,
    answerable only when one of those articles holds the answer (a corpus of the size of a
    week's news, where the bot meets questions its articles do not answer)."""
    import datetime
    weeks: dict[str, list[Question]] = {}
    for q in questions:
        weeks.setdefault(q.id.split("_")[0], []).append(q)
    out = []
    for week, asked in sorted(weeks.items()):
        day = datetime.date(int(week[:4]), int(week[4:6]), int(week[6:8])).toordinal()
        recent = [a for a in articles if a.date is not None and a.date.month and a.date.day
                  and day - before <= datetime.date(a.date.year, a.date.month,
                                                    a.date.day).toordinal() <= day + after]
        if not recent:
            continue
        texts = " ".join(normal_answer(a.text) for a in recent)
        out.append((week, recent, [
            q if q.answers and f" {q.answers[0]} " in f" {texts} " else
            Question(q.id, q.text, "", (), anywhere=True) for q in asked]))
    return out


def load_question_set(path: Path, corpus: Path) -> tuple[list[Article], list[Question]]:
    """A question set of ours (``retrieval.evaluation``'s format: an expected sentence from
    an expected article, or none) and its corpus: right where a candidate is that sentence
    of that article."""
    from retrieval.corpus import load_corpus
    from retrieval.evaluation import load_eval_set
    articles = list(load_corpus(corpus).articles)
    questions = [Question(q.id, q.question, q.expected.article_id if q.expected else "",
                          (normal(q.expected.text),) if q.expected else ())
                 for q in load_eval_set(path) if q.conversation is None]
    return articles, questions


def write_jsonl(articles: Iterable[Article], path: Path) -> Path:
    """The articles as a JSON Lines corpus (fields id, title, source, date, url, text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            out.write(json.dumps({"id": a.id, "title": a.title, "source": a.source,
                                  "date": a.date.iso() if a.date else None, "url": a.url,
                                  "text": a.text}, ensure_ascii=False) + "\n")
    return path


def sentence_pool(articles: list[Article]) -> list[str]:
    """The answerable sentences of the articles, as the segmenter finds them."""
    rules = SegmentationRules()
    pool: list[str] = []
    for a in articles:
        for passage in segment_article(a.text, a.title, rules):
            pool.extend(a.text[s.span.start:s.span.end] for s in passage.sentences if s.answerable)
    return pool


def scaled_corpus(n: int, articles: list[Article], seed: int = 0) -> Iterator[Article]:
    """``n`` passages of real text: the SQuAD paragraphs themselves first, then new
    paragraphs of 3 to 8 sentences drawn at random from all of their sentences (so every
    passage is real English prose, but most are recombinations). Dates are spread over
    2015-2024 so the date code runs as it does on news."""
    rng = random.Random(seed)
    pool = sentence_pool(articles)
    for i in range(n):
        date = f"{2015 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        if i < len(articles):
            a = articles[i]
            yield Article(id=f"p{i}", title=a.title, source=f"source{i % 50}", text=a.text,
                          date=_date(date))
        else:
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 8)))
            yield Article(id=f"p{i}", title=f"Passage {i}", source=f"source{i % 50}", text=text,
                          date=_date(date))


def _date(iso: str):
    from retrieval.dates import PartialDate
    return PartialDate.parse(iso)
