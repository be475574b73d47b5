"""Step 6: the probability that a candidate sentence answers the question.

A small neural network over ``FEATURES`` (standardised features, one hidden layer of ReLU
units, a logistic output; with no hidden layer it is a logistic regression) gives the
probability; a linear ranker over the same standardised features orders the candidates.
Both are fitted by
``benchmarks/train_confidence.py`` (with scikit-learn, offline) and shipped as
``confidence.json`` beside this module: the file names its version and its features, the
standardisation and the weights. Reading it and applying it needs numpy only, so answering
never imports scikit-learn."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.features import FEATURES
from retrieval.errors import QABotError

MODEL_FILE = Path(__file__).resolve().parent / "confidence.json"
MODEL_FORMAT = 2


class ConfidenceModelError(QABotError):
    """The confidence model file is missing, damaged or made for other features."""


@dataclass(frozen=True, eq=False)
class ConfidenceModel:
    """``h = relu(z @ hidden_weights + hidden_bias)`` for ``z = (x - mean) / scale`` (``h = z``
    without hidden units), ``P(right) = 1 / (1 + exp(-(intercept + h · coef)))``."""

    version: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    hidden_weights: np.ndarray | None = None   # features × hidden units
    hidden_bias: np.ndarray | None = None
    about: dict[str, Any] = field(default_factory=dict)
    # The order of the candidates: ``z · ranker`` (a linear model fitted to pairs of a right
    # and a wrong candidate of one question); None: by probability.
    ranker: np.ndarray | None = None

    def probability(self, features: np.ndarray) -> np.ndarray:
        """The probability of each row of ``features`` (columns in ``self.features`` order)."""
        h = (np.atleast_2d(features) - self.mean) / self.scale
        if self.hidden_weights is not None:
            h = np.maximum(h @ self.hidden_weights + self.hidden_bias, 0.0)
        z = self.intercept + h @ self.coef
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def order_key(self, features: np.ndarray, probability: np.ndarray) -> np.ndarray:
        """What the candidates (rows of ``features``, whose ``probability`` is known) are
        ordered by, larger first: the ranker's value, or the probability without one."""
        if self.ranker is None:
            return probability
        return ((np.atleast_2d(features) - self.mean) / self.scale) @ self.ranker

    def to_dict(self) -> dict[str, Any]:
        hidden = ({} if self.hidden_weights is None else
                  {"hidden_weights": self.hidden_weights.tolist(),
                   "hidden_bias": self.hidden_bias.tolist()})  # type: ignore[union-attr]
        if self.ranker is not None:
            hidden["ranker"] = self.ranker.tolist()
        return {"format": MODEL_FORMAT, "version": self.version, "features": list(self.features),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), **hidden,
                "coef": self.coef.tolist(), "intercept": self.intercept, "about": self.about}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "the model") -> "ConfidenceModel":
        """The model described by ``data``; it must name exactly ``FEATURES``."""
        try:
            if data["format"] != MODEL_FORMAT:
                raise ConfidenceModelError(f"{where} has format {data['format']}, expected "
                                           f"{MODEL_FORMAT}")
            features = tuple(data["features"])
            mean, scale, coef = (np.asarray(data[k], dtype=np.float64)
                                 for k in ("mean", "scale", "coef"))
            weights = bias = ranker = None
            if "ranker" in data:
                ranker = np.asarray(data["ranker"], dtype=np.float64)
            if "hidden_weights" in data:
                weights = np.asarray(data["hidden_weights"], dtype=np.float64)
                bias = np.asarray(data["hidden_bias"], dtype=np.float64)
            model = cls(str(data["version"]), features, mean, scale, coef,
                        float(data["intercept"]), weights, bias, dict(data.get("about", {})),
                        ranker)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfidenceModelError(f"{where} is damaged ({exc})") from None
        if features != FEATURES:
            raise ConfidenceModelError(f"{where} expects features {list(features)}, this "
                                       f"version computes {list(FEATURES)}")
        n = len(features)
        units = n if weights is None else weights.shape[-1]
        if (mean.shape != (n,) or scale.shape != (n,) or coef.shape != (units,)
                or not np.all(scale > 0)
                or (ranker is not None and ranker.shape != (n,))
                or (weights is not None and (weights.shape != (n, units)
                                             or bias.shape != (units,)))):  # type: ignore[union-attr]
            raise ConfidenceModelError(f"{where} is damaged (arrays of the wrong shape)")
        return model

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return path


def load_model(path: Path = MODEL_FILE) -> ConfidenceModel:
    """The confidence model shipped with the package (or the one at ``path``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfidenceModelError(f"cannot read the confidence model {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfidenceModelError(f"{path} is not a confidence model")
    return ConfidenceModel.from_dict(data, str(path))
