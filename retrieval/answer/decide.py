"""Step 7: whether to answer, from the confidence of the best candidate."""
from __future__ import annotations

NOT_SURE = "No sentence in the articles answers this with enough confidence."


def decide(confidence: float | None, min_confidence: float, score: float = 0.0,
           min_score: float = 0.0) -> bool:
    """Answer when the best candidate's confidence reaches ``min_confidence`` and, as a
    secondary floor, its ranking score reaches ``min_score``; never without a candidate. The
    one rule for every question, a conversation's follow-ups included."""
    return confidence is not None and confidence >= min_confidence and score >= min_score
