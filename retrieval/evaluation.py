"""Evaluation of the answerer on a question set with expected answers.

A question set is a JSON file::

    {"description": "...",
     "questions": [
        {"id": "q1", "question": "...",
         "expected": {"article_id": "...", "text": "the exact sentence"}},
        {"id": "q2", "question": "...", "expected": null}      # the corpus cannot answer
     ]}

A question may carry ``"conversation": "<id>"``: the questions of one id are asked in file
order as one conversation (follow-ups read in its context), and the report gives first turns
and follow-ups apart. A candidate is right when it quotes the expected sentence (exactly)
from the expected article. "Top-1 accuracy" is answered-right@1: the bot answered, with the
right sentence (an abstention counts as a miss); P@1 counts the right sentence ranked first,
answered or not.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answerer import Answer, Result
from retrieval.conversation import Conversation, ConversationSettings
from retrieval.errors import QABotError


class EvalSetError(QABotError):
    """The question set file is missing or malformed."""


@dataclass(frozen=True)
class Expected:
    article_id: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    expected: Expected | None
    conversation: str | None = None


@dataclass(frozen=True)
class QuestionOutcome:
    question: EvalQuestion
    result: Result
    rank: int | None          # 1-based rank of the right sentence among the candidates
    turn: int | None = None   # 1-based position in its conversation; None outside one

    @property
    def correct(self) -> bool:
        """Answered right, or rightly abstained."""
        if self.question.expected is None:
            return self.result.answer is None
        return self.result.answer is not None and self.rank == 1


@dataclass(frozen=True)
class EvalReport:
    outcomes: tuple[QuestionOutcome, ...]
    top1_accuracy: float      # answered right, first (an abstention is a miss)
    mrr_at_10: float
    answerable: int
    unanswerable: int
    abstained_on_unanswerable: int
    abstained_on_answerable: int
    accuracy: float
    first_turns: TurnFigures | None = None    # with conversations: their first questions...
    follow_ups: TurnFigures | None = None     # ...and the later ones, apart
    auroc: float | None = None                     # of the first candidate's confidence
    calibration: tuple["CalibrationBin", ...] = ()  # its predicted against observed
    p_at_1: float = 0.0                            # the right sentence first, answered or not


@dataclass(frozen=True)
class TurnFigures:
    """Top-1 accuracy (answered right, first), P@1 (ranked first, answered or not) and
    MRR@10 of the answerable questions of some turns of conversations."""

    answerable: int
    top1_accuracy: float
    mrr_at_10: float
    p_at_1: float


def load_eval_set(path: str | Path) -> list[EvalQuestion]:
    """Read and validate a question set."""
    where = Path(path)
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalSetError(f"question set {where} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"cannot read question set {where}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EvalSetError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise EvalSetError(f"{where}: expected an object with a non-empty \"questions\" list")
    questions: list[EvalQuestion] = []
    for n, item in enumerate(items, start=1):
        label = f"{where}: question {n}"
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise EvalSetError(f"{label}: needs a \"question\" string")
        if "expected" not in item:
            raise EvalSetError(f"{label}: needs \"expected\": the answer "
                               "({\"article_id\": ..., \"text\": ...}), or null when the "
                               "articles cannot answer it")
        expected = item.get("expected")
        if expected is not None:
            if not (isinstance(expected, dict) and isinstance(expected.get("article_id"), str)
                    and isinstance(expected.get("text"), str)):
                raise EvalSetError(f"{label}: \"expected\" must be null or "
                                   "{\"article_id\": ..., \"text\": ...}")
            expected = Expected(expected["article_id"], expected["text"])
        conversation = item.get("conversation")
        if conversation is not None and (not isinstance(conversation, (str, int))
                                         or isinstance(conversation, bool)):
            raise EvalSetError(f"{label}: \"conversation\" must be a string")
        questions.append(EvalQuestion(str(item.get("id", n)), item["question"], expected,
                                      None if conversation is None else str(conversation)))
    return questions


def _matches(candidate: Answer, expected: Expected) -> bool:
    return candidate.article_id == expected.article_id and candidate.text == expected.text


def evaluate(questions: Sequence[EvalQuestion], ask: Callable[..., Result],
             conversation_settings: ConversationSettings | None = None) -> EvalReport:
    """Ask every question (``ask(question)`` should return up to 10 candidates; questions of a
    conversation are asked as ``ask(question, conversation=...)``) and score the answers."""
    outcomes: list[QuestionOutcome] = []
    conversations: dict[str, Conversation] = {}
    turns: dict[str, int] = {}
    settings = conversation_settings or ConversationSettings()
    for question in questions:
        turn = None
        if question.conversation is None:
            result = ask(question.question)
        else:
            before = conversations.get(question.conversation, Conversation())
            result = ask(question.question, conversation=before)
            turn = turns[question.conversation] = turns.get(question.conversation, 0) + 1
            if result.turn is not None:
                conversations[question.conversation] = before.add(result.turn, settings)
        ranked = result.ranked
        rank = None
        if question.expected is not None:
            rank = next((i for i, c in enumerate(ranked[:10], start=1)
                         if _matches(c, question.expected)), None)
        outcomes.append(QuestionOutcome(question, result, rank, turn))
    answerable = [o for o in outcomes if o.question.expected is not None]
    unanswerable = [o for o in outcomes if o.question.expected is None]
    # Confidence of the first candidate (answer or not) against "it is the right sentence".
    firsts = [(o.result.ranked[0].confidence, o.rank == 1) for o in outcomes if o.result.ranked]
    confidences, right = [c for c, _ in firsts], [r for _, r in firsts]
    overall = _turn_figures(answerable)
    return EvalReport(
        outcomes=tuple(outcomes),
        top1_accuracy=overall.top1_accuracy if overall else 0.0,
        mrr_at_10=overall.mrr_at_10 if overall else 0.0,
        p_at_1=overall.p_at_1 if overall else 0.0,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        abstained_on_unanswerable=sum(o.result.answer is None for o in unanswerable),
        abstained_on_answerable=sum(o.result.answer is None for o in answerable),
        accuracy=_ratio(sum(o.correct for o in outcomes), len(outcomes)),
        first_turns=_turn_figures([o for o in answerable if o.turn == 1]),
        follow_ups=_turn_figures([o for o in answerable if o.turn is not None and o.turn > 1]),
        auroc=auroc(confidences, right),
        calibration=tuple(reliability(confidences, right, bins=5)),
    )


def _turn_figures(outcomes: list[QuestionOutcome]) -> TurnFigures | None:
    if not outcomes:
        return None
    n = len(outcomes)
    return TurnFigures(n, _ratio(sum(o.correct for o in outcomes), n),
                       _ratio(sum(1.0 / o.rank for o in outcomes if o.rank), n),
                       _ratio(sum(o.rank == 1 for o in outcomes), n))


@dataclass(frozen=True)
class CalibrationBin:
    """Answers whose confidence fell in ``[low, high)``: how many, their mean confidence and
    the share of them that were right."""

    low: float
    high: float
    count: int
    mean_confidence: float
    observed: float


def auroc(confidences: Sequence[float], right: Sequence[bool]) -> float | None:
    """The area under the ROC curve of ``confidences`` as a test of ``right`` (the chance that
    a right answer is more confident than a wrong one, ties counting half); None when one of
    the two kinds is missing."""
    x = np.asarray(confidences, dtype=np.float64)
    y = np.asarray(right, dtype=bool)
    n_right, n_wrong = int(y.sum()), int((~y).sum())
    if n_right == 0 or n_wrong == 0:
        return None
    ranks = _average_ranks(x)
    return float((ranks[y].sum() - n_right * (n_right + 1) / 2) / (n_right * n_wrong))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.arange(1, x.size + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def reliability(confidences: Sequence[float], right: Sequence[bool], bins: int = 10,
                weights: Sequence[float] | None = None) -> list[CalibrationBin]:
    """Predicted against observed: the answers grouped by confidence into ``bins`` equal
    ranges (empty ranges left out); means weighted by ``weights`` when given."""
    x = np.asarray(confidences, dtype=np.float64)
    y = np.asarray(right, dtype=np.float64)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=np.float64)
    which = np.minimum((x * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(CalibrationBin(b / bins, (b + 1) / bins, int(mask.sum()),
                                        float(np.average(x[mask], weights=w[mask])),
                                        float(np.average(y[mask], weights=w[mask]))))
    return table


def _ratio(numerator: float, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
