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
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import Stemmer

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_APOSTROPHE_S = re.compile(r"['’]s\b", re.IGNORECASE)
# Words that carry the meaning of a question and are in scikit-learn's stop list.
_KEEP = frozenset({"first", "last", "least", "most", "never", "no", "not", "nothing", "none",
                   "against", "before", "after", "during", "since", "until", "without"})


def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, less the words in ``_KEEP``. Imported on first use:
    scikit-learn takes most of a second to import, and a loaded index carries its own list."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return frozenset(ENGLISH_STOP_WORDS - _KEEP)


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

    def many(self, texts: Iterable[str]) -> list[list[str]]:
        """``[self(text) for text in texts]``, stemming each distinct word once (the
        sentences of a batch repeat most of their words)."""
        token_lists = [self._unstemmed(text) for text in texts]
        stemmer = self._stemmer  # type: ignore[attr-defined]
        if stemmer is not None:
            distinct = list({t for tokens in token_lists for t in tokens})
            stem = dict(zip(distinct, stemmer.stemWords(distinct)))
            token_lists = [[stem[t] for t in tokens] for tokens in token_lists]
        return [self._with_bigrams(tokens) for tokens in token_lists]

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
