"""Step 6: the probability that a candidate sentence answers the question.

A logistic regression over ``FEATURES``, fitted by ``benchmarks/train_confidence.py`` (with
scikit-learn, offline) and shipped as ``confidence.json`` beside this module: the file names
its version and its features, the standardisation and the coefficients. Reading it and
applying it needs numpy only, so answering never imports scikit-learn."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.features import FEATURES
from retrieval.errors import QABotError

MODEL_FILE = Path(__file__).resolve().parent / "confidence.json"
MODEL_FORMAT = 1


class ConfidenceModelError(QABotError):
    """The confidence model file is missing, damaged or made for other features."""


@dataclass(frozen=True, eq=False)
class ConfidenceModel:
    """``P(right) = 1 / (1 + exp(-(intercept + coef · (x - mean) / scale)))``."""

    version: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    about: dict[str, Any] = field(default_factory=dict)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """The probability of each row of ``features`` (columns in ``self.features`` order)."""
        z = self.intercept + ((np.atleast_2d(features) - self.mean) / self.scale) @ self.coef
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def to_dict(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "version": self.version, "features": list(self.features),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "about": self.about}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "the model") -> "ConfidenceModel":
        """The model described by ``data``; it must name exactly ``FEATURES``."""
        try:
            if data["format"] != MODEL_FORMAT:
                raise ConfidenceModelError(f"{where} has format {data['format']}, expected "
                                           f"{MODEL_FORMAT}")
            features = tuple(data["features"])
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            model = cls(str(data["version"]), features, *arrays, float(data["intercept"]),
                        dict(data.get("about", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfidenceModelError(f"{where} is damaged ({exc})") from None
        if features != FEATURES:
            raise ConfidenceModelError(f"{where} expects features {list(features)}, this "
                                       f"version computes {list(FEATURES)}")
        if any(a.shape != (len(features),) for a in arrays) or not np.all(model.scale > 0):
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
