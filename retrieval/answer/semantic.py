"""Static word vectors, for a signal where the question's words and the sentence's differ
(kids/children, ban/prohibit, killed/died).

The vectors are WordLlama's (``wordllama`` on PyPI, MIT): 32,000 subword embeddings of 256
dimensions shipped inside its wheel with the tokenizer that splits text into those subwords.
They are read straight from the package's files (``safetensors`` and ``tokenizers``, which it
depends on), never through ``WordLlama.load``, which looks for them on the network: nothing is
downloaded. A word's vector is the mean of its subwords', normalised to length 1."""
from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.errors import QABotError

WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
_CACHE_LIMIT = 50_000       # words whose vectors a WordVectors keeps


class WordVectorsError(QABotError):
    """The word vectors' files are missing or unreadable."""


def package_directory() -> Path:
    """Where the ``wordllama`` package's files are (it is not imported)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise WordVectorsError("the word vectors are missing: the package wordllama is not "
                               "installed (pip install wordllama, or reinstall qabot)")
    return Path(list(spec.submodule_search_locations)[0])


@dataclass(eq=False)
class WordVectors:
    """Unit vectors of words (``of``) and of bags of words (``mean_of``), from the subword
    embeddings ``matrix`` (float16, a row per subword) and a ``tokenizers`` tokenizer."""

    matrix: np.ndarray
    tokenizer: object
    _known: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: Path | None = None) -> "WordVectors":
        """The vectors shipped in the ``wordllama`` package (or in ``directory``, laid out
        as that package is)."""
        root = package_directory() if directory is None else Path(directory)
        try:
            from safetensors import safe_open
            from tokenizers import Tokenizer
            with safe_open(str(root / WEIGHTS), framework="np") as handle:
                matrix = handle.get_tensor("embedding.weight")
            tokenizer = Tokenizer.from_file(str(root / TOKENIZER))
        except ImportError as exc:
            raise WordVectorsError(f"cannot read the word vectors: {exc} (reinstall qabot)"
                                   ) from None
        except Exception as exc:   # a missing or damaged file: safetensors/tokenizers errors
            raise WordVectorsError(f"cannot read the word vectors in {root}: {exc} "
                                   "(reinstall wordllama)") from None
        if matrix.ndim != 2:
            raise WordVectorsError(f"the word vectors in {root} are damaged")
        return cls(matrix, tokenizer)

    @property
    def dimensions(self) -> int:
        return int(self.matrix.shape[1])

    def of(self, words: Sequence[str]) -> np.ndarray:
        """A unit vector for each word (zeros for one with no subword), a row each."""
        known = self._known          # shared by threads: read into a local mapping first
        found = {w: known.get(w) for w in words}
        missing = [w for w, v in found.items() if v is None]
        if missing:
            if len(known) + len(missing) > _CACHE_LIMIT:
                known.clear()
            # One call for every new word (the tokenizer's cost is mostly per call), and
            # their subwords' means by one reduction.
            encodings = self.tokenizer.encode_batch(missing, add_special_tokens=False)  # type: ignore[attr-defined]
            ids = [[i for i in e.ids if i < self.matrix.shape[0]] for e in encodings]
            sizes = np.array([len(i) for i in ids])
            flat = np.fromiter((i for row in ids for i in row), dtype=np.int64,
                               count=int(sizes.sum()))
            sums = np.zeros((len(missing), self.dimensions), dtype=np.float32)
            if flat.size:
                starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
                has = sizes > 0
                sums[has] = np.add.reduceat(self.matrix[flat].astype(np.float32),
                                            starts[has], axis=0)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            vectors = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
            for word, vector in zip(missing, vectors):
                found[word] = known[word] = vector
        if not words:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([found[w] for w in words])

    def mean_of(self, bags: Sequence[Sequence[str]]) -> np.ndarray:
        """A unit vector for each bag of words: the normalised mean of its words' vectors."""
        out = np.zeros((len(bags), self.dimensions), dtype=np.float32)
        for i, bag in enumerate(bags):
            if bag:
                v = self.of(bag).sum(axis=0)
                norm = float(np.linalg.norm(v))
                out[i] = v / norm if norm > 0 else v
        return out


@functools.cache
def shipped_vectors() -> WordVectors:
    """The vectors of the installed ``wordllama`` package, read once a process (they are
    never changed: a ``WordVectors`` only remembers the words it has met)."""
    return WordVectors.load()
