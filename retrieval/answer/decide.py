"""Step 7: whether to answer, from the confidence of the best candidate."""
from __future__ import annotations

NOT_SURE = "No sentence in the articles answers this with enough confidence."


def decide(confidence: float | None, min_confidence: float) -> bool:
    """Answer when the best candidate's confidence reaches ``min_confidence``; never without
    a candidate. The one rule for every question, a conversation's follow-ups included: the
    number shown beside an answer is the number that decided."""
    return confidence is not None and confidence >= min_confidence
