"""Turning text into index terms: lower-case word tokens, English stop words removed,
optionally irregular verb forms as their verb ("said" as "say", "met" as "meet", "told" as
"tell", which stemming leaves apart: a table made from LemmInflect's dictionary,
``verb_forms.json``), Snowball-stemmed (PyStemmer), optionally with word bigrams.

An ``Analyzer`` is a plain callable with its parameters, so a saved index records them and a
loaded index analyses questions exactly as its passages were analysed."""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import Stemmer

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_APOSTROPHE_S = re.compile(r"['’]s\b", re.IGNORECASE)
# Words that carry the meaning of a question and are in scikit-learn's stop list.
_KEEP = frozenset({"first", "last", "least", "most", "never", "no", "not", "nothing", "none",
                   "against", "before", "after", "during", "since", "until", "without"})


_SEPARATOR = "\x00"   # follows each text when texts are analysed together (``numbered``)
_TOKEN_OR_SEPARATOR = re.compile(r"[^\W_]+|\x00", re.UNICODE)
_STOPPED, _TEXT_END = -1, -2    # the codes of a stop word and of a separator
# ASCII letters and digits as themselves in lower case (what case folding makes of them),
# the separator as itself (padded with spaces when joining), every other byte as a space
_ASCII_TABLE = bytes(c | 0x20 if chr(c).isalpha() and c < 128 else
                     c if (chr(c).isdigit() and c < 128) or chr(c) == _SEPARATOR else 32
                     for c in range(256))


def _ascii_words(texts: Sequence[str]) -> list[str]:
    """The words of ASCII ``texts``, each text followed by the separator, as
    ``Analyzer.words`` finds them (NFKC changes no ASCII text, and an ASCII word is a run
    of letters and digits): one translation of the bytes and one split."""
    if not texts:
        return []
    joined = _APOSTROPHE_S.sub("", " \x00 ".join(texts) + " \x00")
    return joined.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split()


def _unicode_words(texts: Sequence[str]) -> list[str]:
    """The words of ``texts``, each text followed by the separator, as ``Analyzer.words``
    finds them: one pass over the texts joined."""
    if not texts:
        return []
    joined = unicodedata.normalize("NFKC", _SEPARATOR.join(texts) + _SEPARATOR)
    return _TOKEN_OR_SEPARATOR.findall(_APOSTROPHE_S.sub("", joined).casefold())


def _split_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Term numbers and stop words (``_STOPPED``), each text followed by ``_TEXT_END``, as
    the term numbers and each text's start in them (one more than the texts)."""
    kept = codes >= 0
    before = np.concatenate(([0], np.cumsum(kept, dtype=np.int64)))
    return codes[kept], np.concatenate(([0], before[np.flatnonzero(codes == _TEXT_END)]))


def _rows_in_order(parts: Sequence[tuple[np.ndarray, np.ndarray]], order: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Rows given in groups of (terms, each row's start), one group after another, put in
    their own order: the ``j``-th row of the groups is row ``order[j]``."""
    terms = np.concatenate([t for t, _ in parts])
    offsets = np.cumsum([0] + [t.size for t, _ in parts[:-1]])
    starts = np.concatenate([s[:-1] + o for (_, s), o in zip(parts, offsets)]).astype(np.int64)
    lengths = np.concatenate([np.diff(s) for _, s in parts]).astype(np.int64)
    where = np.empty_like(order)
    where[order] = np.arange(order.size)
    lengths, starts = lengths[where], starts[where]
    indptr = np.zeros(order.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return terms[gather], indptr


def _numbered_lists(token_lists: Sequence[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Token lists as a sorted vocabulary, their term numbers one after another and each
    list's start in them."""
    flat = list(chain.from_iterable(token_lists))
    vocabulary = sorted(set(flat))
    number = {t: i for i, t in enumerate(vocabulary)}
    terms = np.fromiter(map(number.__getitem__, flat), dtype=np.int32, count=len(flat))
    indptr = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(tokens) for tokens in token_lists], out=indptr[1:])
    return vocabulary, terms, indptr


def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, less the words in ``_KEEP``: read from the list's
    own source file (a literal), which is much cheaper than importing scikit-learn (most of
    a second of CPU, in every build); imported only if that file cannot be read."""
    return frozenset(_sklearn_stop_words() - _KEEP)


def _sklearn_stop_words() -> frozenset[str]:
    import ast
    import importlib.util
    try:
        spec = importlib.util.find_spec("sklearn")   # finds the package without running it
        locations = list(spec.submodule_search_locations or ()) if spec else []
        source = (Path(locations[0]) / "feature_extraction" / "_stop_words.py").read_text(
            encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                    [getattr(t, "id", None) for t in node.targets] == ["ENGLISH_STOP_WORDS"] \
                    and getattr(node.value.func, "id", None) == "frozenset":
                words = ast.literal_eval(node.value.args[0])
                if all(isinstance(w, str) for w in words):
                    return frozenset(words)
    except (OSError, IndexError, ValueError, SyntaxError, ImportError):
        pass
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return frozenset(ENGLISH_STOP_WORDS)


VERB_FORMS_FILE = Path(__file__).resolve().parent / "verb_forms.json"


def irregular_verb_forms(path: Path = VERB_FORMS_FILE) -> dict[str, str]:
    """Irregular verb forms and their verb ("said": "say", "gone": "go"), made by
    ``python -m benchmarks.verb_forms`` from LemmInflect's dictionary: only the forms whose
    Snowball stem differs from their verb's. Nouns and adjectives are not in it ("best" and
    "data" stay as they are)."""
    return json.loads(path.read_text(encoding="utf-8"))["forms"]


@dataclass(frozen=True)
class Analyzer:
    """Text to terms. Parameters are recorded in the index manifest."""

    stem: bool = True
    stop_words: bool = True
    bigrams: bool = False
    language: str = "english"
    lemmatize: bool = False
    # The stop list itself: scikit-learn's (``english_stop_words``) unless given, as a loaded
    # index gives the list it was built with. Not a parameter: the manifest records the flag.
    stop_list: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The stemmer is a C object with a cache; it is not part of the parameters.
        object.__setattr__(self, "_stemmer", Stemmer.Stemmer(self.language) if self.stem else None)
        # The verb forms table, read on first use: not a parameter.
        object.__setattr__(self, "_verb_forms", None)

    def params(self) -> dict[str, object]:
        """The parameters, for the index manifest."""
        return {"stem": self.stem, "stop_words": self.stop_words, "bigrams": self.bigrams,
                "language": self.language, "lemmatize": self.lemmatize}

    def stop_set(self) -> frozenset[str]:
        """The stop words removed (none when ``stop_words`` is off)."""
        if not self.stop_words:
            return frozenset()
        if self.stop_list is None:
            object.__setattr__(self, "stop_list", english_stop_words())
        return self.stop_list  # type: ignore[return-value]

    def words(self, text: str, *, keep_case: bool = False) -> list[str]:
        """Normalised word tokens, before stop-word removal and stemming (case-folded unless
        ``keep_case``)."""
        text = _APOSTROPHE_S.sub("", unicodedata.normalize("NFKC", text))
        return _TOKEN.findall(text if keep_case else text.casefold())

    def __call__(self, text: str) -> list[str]:
        tokens = self._unstemmed(text)
        stemmer = self._stemmer  # type: ignore[attr-defined]
        if stemmer is not None:
            tokens = stemmer.stemWords(tokens)
        return self._with_bigrams(tokens)

    def numbered(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The terms of each of ``texts`` (what ``self(text)`` gives) as numbers: the
        vocabulary (sorted, every term of the texts once), the term numbers of all the texts
        one after another (int32) and each text's start in them (int64, ``len(texts) + 1``).

        Without bigrams the texts are read together, joined by a character none of them
        holds (NFKC, the ``'s`` removal and case folding work character by character and
        never across it): the ASCII texts by a byte translation and a split, the others by
        one regular-expression pass; each distinct word is stopped, lemmatised and stemmed
        once."""
        if self.bigrams or any(_SEPARATOR in text for text in texts):
            return _numbered_lists([self(text) for text in texts])
        plain = [text.isascii() for text in texts]
        groups = ([t for t, p in zip(texts, plain) if p], [t for t, p in zip(texts, plain) if not p])
        words = (_ascii_words(groups[0]), _unicode_words(groups[1]))
        distinct = set(words[0])
        distinct.update(words[1])
        distinct.discard(_SEPARATOR)
        stop = self.stop_set()
        kept = [t for t in distinct if t not in stop]
        lemmas = kept
        if self.lemmatize:   # a lemma may be a stop word ("did" is "do")
            pairs = [(t, lemma) for t, lemma in zip(kept, self._lemmatized(kept))
                     if lemma not in stop]
            kept, lemmas = [t for t, _ in pairs], [lemma for _, lemma in pairs]
        stemmer = self._stemmer  # type: ignore[attr-defined]
        terms = stemmer.stemWords(lemmas) if stemmer is not None else list(lemmas)
        vocabulary = sorted(set(terms))
        number = {t: i for i, t in enumerate(vocabulary)}
        code = dict.fromkeys(distinct, _STOPPED)
        code.update(zip(kept, map(number.__getitem__, terms)))
        code[_SEPARATOR] = _TEXT_END
        parts = [_split_codes(np.fromiter(map(code.__getitem__, w), dtype=np.int32,
                                          count=len(w))) for w in words]
        order = np.argsort(np.logical_not(plain), kind="stable")   # ASCII texts first
        return (vocabulary, *_rows_in_order(parts, order))

    def _unstemmed(self, text: str) -> list[str]:
        """The words of ``text`` without stop words, lemmatised when asked."""
        tokens = self.words(text)
        stop = self.stop_set()
        if stop:
            tokens = [t for t in tokens if t not in stop]
        if self.lemmatize:   # a lemma may be a stop word ("did" is "do")
            tokens = [t for t in self._lemmatized(tokens) if t not in stop]
        return tokens

    def _with_bigrams(self, tokens: list[str]) -> list[str]:
        if self.bigrams and len(tokens) > 1:
            return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
        return tokens

    def _lemmatized(self, tokens: list[str]) -> list[str]:
        forms: dict[str, str] | None = self._verb_forms  # type: ignore[attr-defined]
        if forms is None:
            forms = irregular_verb_forms()
            object.__setattr__(self, "_verb_forms", forms)
        return [forms.get(t, t) for t in tokens]

    def __reduce__(self):  # picklable for process pools
        return (Analyzer, (self.stem, self.stop_words, self.bigrams, self.language,
                           self.lemmatize, self.stop_list))
