"""Loading a corpus of articles from disk.

Two on-disk forms are accepted:

* a directory of article files (``*.txt``), each a TOML front-matter header between two
  ``+++`` lines followed by the article text exactly as collected; the header may end with
  an ``[origin]`` table (where and when ``qabot add`` got the article, see
  ``retrieval.ingest``), which is not part of the ``Article``, and a page's original HTML
  may sit beside it (``<name>.html``);
* a JSON Lines file (``*.jsonl``), one article per line with the fields ``id``, ``title``,
  ``source``, ``date`` (optional), ``url`` (optional), ``author`` (optional) and ``text``.

A directory may also hold ``*.jsonl`` files. The stored text is never rewritten: what the bot
quotes is always a slice of ``Article.text``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.dates import PartialDate
from retrieval.errors import CorpusError

log = logging.getLogger(__name__)

FRONT_MATTER_FENCE = "+++"
_OPTIONAL_FIELDS = ("date", "url", "author")
_REQUIRED_FIELDS = ("id", "title", "source", "text")
_KNOWN_FIELDS = frozenset(_REQUIRED_FIELDS + _OPTIONAL_FIELDS)
ORIGIN_TABLE = "origin"   # front matter only: provenance written by `qabot add`
ORIGINAL_SUFFIX = ".html"  # a page's original, kept beside its article file


@dataclass(frozen=True)
class Article:
    """One news article and what we know of where it came from."""

    id: str
    title: str
    source: str
    text: str
    date: PartialDate | None = None
    url: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Corpus:
    """The articles of a corpus, in load order, and a fingerprint of their content."""

    articles: tuple[Article, ...]
    fingerprint: str
    location: str
    files: tuple["CorpusFile", ...] = ()

    def __len__(self) -> int:
        return len(self.articles)


def article_from_record(record: Mapping[str, Any], where: str) -> Article:
    """Validate one article record (from JSON or front matter) and build the ``Article``.

    ``where`` names the place for error messages, e.g. ``corpus.jsonl:12``."""
    unknown = sorted(set(record) - _KNOWN_FIELDS)
    if unknown:
        raise CorpusError(f"{where}: unknown field {unknown[0]!r} "
                          f"(known fields: {', '.join(sorted(_KNOWN_FIELDS))})")
    values: dict[str, Any] = {}
    for name in _REQUIRED_FIELDS:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            problem = "is missing" if value is None else "must be a non-empty string"
            raise CorpusError(f"{where}: field {name!r} {problem}")
        values[name] = value if name == "text" else value.strip()
    for name in _OPTIONAL_FIELDS:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise CorpusError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
        values[name] = value.strip()
    if "date" in values:
        try:
            values["date"] = PartialDate.parse(values["date"])
        except ValueError as exc:
            raise CorpusError(f"{where}: bad date: {exc}") from None
    return Article(**values)


def _refuse_surrogates(record: Mapping[str, Any], where: str) -> None:
    """A lone surrogate (a JSON escape such as ``\\ud800`` with no pair) is no character: it
    cannot be segmented, saved or shown."""
    for name, value in record.items():
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CorpusError(f"{where}: field {name!r} holds a lone surrogate escape "
                              f"(\\u{ord(value[exc.start]):04x} at character {exc.start}); "
                              "it is not text") from None


def normal_url(url: str) -> str:
    """``url`` as compared: scheme and host in lower case, no fragment, no empty path."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


def split_front_matter(raw: str, where: str) -> tuple[dict[str, Any], str]:
    """Split an article file into its TOML front matter (parsed) and its verbatim text.

    Lines end with LF, CRLF or a lone CR (classic Mac files), as the first line shows."""
    newline = "\r" if raw.startswith(FRONT_MATTER_FENCE + "\r") \
        and not raw.startswith(FRONT_MATTER_FENCE + "\r\n") else "\n"
    first, sep, rest = raw.partition(newline)
    if first.strip() != FRONT_MATTER_FENCE or not sep:
        raise CorpusError(f"{where}: an article file must start with a '+++' line "
                          "opening its front matter (see README, 'Corpus format')")
    header_lines: list[str] = []
    offset = len(first) + 1
    while True:   # each line found in place: the text is copied once, however long
        stop = raw.find(newline, offset)
        line = raw[offset:] if stop < 0 else raw[offset:stop]
        if line.strip() == FRONT_MATTER_FENCE:
            text = raw[offset + len(line) + (stop >= 0):]
            break
        if stop < 0:
            raise CorpusError(f"{where}: front matter is not closed by a '+++' line")
        header_lines.append(line.removesuffix("\r"))  # CRLF line endings
        offset = stop + 1
    try:
        header = tomllib.loads("\n".join(header_lines))
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: a huge integer
        raise CorpusError(f"{where}: front matter is not valid TOML "
                          f"({str(exc).split(';')[0]})") from None
    except RecursionError:
        raise CorpusError(f"{where}: front matter is not valid TOML (nested too deeply)") from None
    return header, text


def parse_article_file(raw: str, where: str) -> Article:
    """The ``Article`` of an article file (its ``[origin]`` table, if any, is left out)."""
    header, text = split_front_matter(raw, where)
    origin = header.pop(ORIGIN_TABLE, None)
    if origin is not None and not isinstance(origin, dict):
        raise CorpusError(f"{where}: {ORIGIN_TABLE!r} must be a table ([{ORIGIN_TABLE}])")
    return article_from_record({**header, "text": text}, where)


def format_article_file(article: Article,
                        origin: Mapping[str, str | Mapping[str, str]] | None = None) -> str:
    """The inverse of ``parse_article_file``: front matter plus the verbatim text, with an
    ``[origin]`` table of strings (and sub-tables of strings) when given."""
    lines = [FRONT_MATTER_FENCE]
    fields = {"id": article.id, "title": article.title, "source": article.source,
              "date": article.date.iso() if article.date else None,
              "url": article.url, "author": article.author}
    for key, value in fields.items():
        if value is not None:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if origin:
        lines.extend(_toml_table(ORIGIN_TABLE, origin))
    lines.append(FRONT_MATTER_FENCE)
    return "\n".join(lines) + "\n" + article.text


def _toml_table(name: str, table: Mapping[str, str | Mapping[str, str]]) -> list[str]:
    lines = [f"[{name}]"]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}"
              for key, value in table.items() if isinstance(value, str)]
    for key, value in table.items():
        if not isinstance(value, str):
            lines.extend(_toml_table(f"{name}.{key}", value))
    return lines


_BOM = b"\xef\xbb\xbf"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_RACY_NS = 2_000_000_000  # a file changed this close to being read may change again unseen


@dataclass(frozen=True)
class CorpusFile:
    """One file a corpus was read from: its name, size, modification time and inode (to tell
    cheaply that it has not changed, as make and git do) and a hash of its content."""

    name: str
    bytes: int
    mtime_ns: int
    inode: int
    blake2b: str

    def stamp(self) -> tuple[str, int, int, int]:
        return self.name, self.bytes, self.mtime_ns, self.inode


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); re-save the file as UTF-8") from None


def _jsonl_articles(path: Path, lines: Iterable[bytes]) -> Iterator[tuple[Article, str]]:
    for line, where in _jsonl_lines(path, lines):
        yield _jsonl_article(line, where), where


def _jsonl_lines(path: Path, lines: Iterable[bytes]) -> Iterator[tuple[bytes, str]]:
    """The non-blank lines of a JSON Lines file (without a byte-order mark), each with its
    place (``file:line``)."""
    for number, line in enumerate(lines, start=1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if line.strip():
            yield line, f"{path}:{number}"


def _jsonl_article(line: bytes, where: str) -> Article:
    """The article of one non-blank JSON Lines line, found at ``where``."""
    try:
        record = json.loads(_decode(line, where))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise CorpusError(f"{where}: not valid JSON ({str(exc).split(';')[0]})") from None
    except RecursionError:
        raise CorpusError(f"{where}: not valid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if _SURROGATE_ESCAPE.search(line):  # only an escape can make one: look then
        _refuse_surrogates(record, where)
    return article_from_record(record, where)


def _corpus_files(path: Path) -> list[Path]:
    if path.is_dir():
        try:
            entries = sorted(path.iterdir())
        except OSError as exc:
            raise CorpusError(f"cannot read corpus directory {path}: {exc.strerror}") from None
        files = [p for p in entries if p.is_file() and p.suffix in (".txt", ".jsonl")]
        selected = set(files)   # a set: a list here made a large directory quadratic
        skipped = [p.name + ("/" if p.is_dir() else "") for p in entries
                   if p not in selected and not p.name.startswith(".")
                   and not _is_original_of(p, selected)]
        if skipped:
            log.warning("corpus directory %s: skipped %d entr%s that %s not *.txt or *.jsonl "
                        "files: %s", path, len(skipped), "y" if len(skipped) == 1 else "ies",
                        "is" if len(skipped) == 1 else "are", ", ".join(skipped[:5])
                        + (", ..." if len(skipped) > 5 else ""))
        if not files:
            raise CorpusError(f"corpus directory {path} holds no article files (*.txt or *.jsonl)")
        return files
    if path.is_file():
        if path.suffix not in (".jsonl", ".txt"):
            raise CorpusError(f"{path}: a corpus is a directory of articles, a .jsonl or a .txt file")
        return [path]
    raise CorpusError(f"corpus path {path} does not exist")


def _is_original_of(path: Path, articles: set[Path]) -> bool:
    """Whether ``path`` is the original page kept beside an article file (``X.html`` beside
    ``X.txt``, written by ``qabot add``)."""
    return path.suffix == ORIGINAL_SUFFIX and path.with_suffix(".txt") in articles


def read_jsonl_file(path: Path) -> list[tuple[Article | CorpusError, str]]:
    """The articles of one JSON Lines file, each with its place (``file:line``), validated
    as ``load_corpus`` does; a line that is not one is its ``CorpusError`` in its place (the
    other lines are read). Raises ``CorpusError`` when the file cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    read: list[tuple[Article | CorpusError, str]] = []
    for line, where in _jsonl_lines(path, data.split(b"\n")):
        try:
            read.append((_jsonl_article(line, where), where))
        except CorpusError as exc:
            read.append((exc, where))
    return read


def read_text_file(path: Path) -> str:
    """A UTF-8 text file's content (without a byte-order mark). Raises ``CorpusError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    return _decode(data[len(_BOM):] if data.startswith(_BOM) else data, str(path))


def load_corpus(path: str | Path, known: Iterable[Mapping[str, Any]] = ()) -> Corpus:
    """Load every article under ``path`` (a directory, a ``.jsonl`` or one article ``.txt``).

    ``known`` are the ``CorpusFile`` records (as dictionaries) of an earlier read: a file
    whose name, size, modification time and inode are unchanged keeps its recorded hash, so
    only changed files are hashed. Raises ``CorpusError`` naming the file (and line) of the
    first problem found."""
    stream = CorpusStream(path, known)
    articles = tuple(stream)
    return Corpus(articles, stream.fingerprint, str(stream.root), stream.files)


def _recorded_hashes(known: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int, int, int], str]:
    recorded = {}
    for item in known:
        try:
            record = CorpusFile(**item)
            recorded[record.stamp()] = record.blake2b
        except TypeError:
            continue  # a manifest of another layout: hash everything
    return recorded


def _fingerprint(files: Iterable[CorpusFile]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for f in files:
        digest.update(f"{f.name}\0{f.bytes}\0{f.blake2b}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _stamp(file: Path, info: Any, size: int) -> tuple[str, int, int, int]:
    racy = info.st_mtime_ns >= time.time_ns() - _RACY_NS or size != info.st_size
    return file.name, size, -1 if racy else info.st_mtime_ns, info.st_ino


def scan_corpus(path: str | Path, known: Iterable[Mapping[str, Any]] = ()
                ) -> tuple[tuple[CorpusFile, ...], str]:
    """The files of the corpus at ``path`` and its fingerprint, without parsing it: a file
    whose stamp (name, size, modification time, inode) is among the ``known`` records keeps
    its recorded hash; only the others are read and hashed. Raises ``CorpusError``."""
    recorded = _recorded_hashes(known)
    files = []
    for file in _corpus_files(Path(path).expanduser()):
        try:
            info = file.stat()
            stamp = _stamp(file, info, info.st_size)
            content_hash = None if stamp[2] == -1 else recorded.get(stamp)
            if content_hash is None:
                digest = hashlib.blake2b(digest_size=16)
                with open(file, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                content_hash = digest.hexdigest()
        except OSError as exc:
            raise CorpusError(f"cannot read {file}: {exc.strerror}") from None
        files.append(CorpusFile(*stamp, content_hash))
    return tuple(files), _fingerprint(files)


class CorpusStream:
    """The articles under ``path``, read one file at a time (a ``.jsonl`` one line at a
    time), so that a build never holds the whole corpus. Iterate it once; then ``files`` and
    ``fingerprint`` describe what was read, and ``bytes_read`` grows as it is read (for a
    progress bar against ``total_bytes``). A file whose stamp is among the ``known`` records
    keeps its recorded hash; the others are hashed as they are read. A corpus of no
    articles is read with a warning."""

    def __init__(self, path: str | Path, known: Iterable[Mapping[str, Any]] = ()) -> None:
        self.root = Path(path).expanduser()
        self._recorded = _recorded_hashes(known)
        self._paths = _corpus_files(self.root)
        self.total_bytes = sum(p.stat().st_size for p in self._paths)
        self.bytes_read = 0
        self._files: list[CorpusFile] = []
        self._done = False

    @property
    def files(self) -> tuple[CorpusFile, ...]:
        if not self._done:
            raise RuntimeError("the corpus has not been read yet")
        return tuple(self._files)

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.files)

    def __iter__(self) -> Iterator[Article]:
        seen: dict[str, str] = {}
        for file in self._paths:
            for article, where in self._read(file):
                if article.id in seen:
                    raise CorpusError(f"{where}: article id {article.id!r} appears more than "
                                      f"once (first at {seen[article.id]})")
                seen[article.id] = where
                yield article
        self._done = True
        if not seen:
            log.warning("corpus %s holds no articles", self.root)

    def _read(self, file: Path) -> Iterator[tuple[Article, str]]:
        try:
            info = file.stat()
            handle = open(file, "rb")
        except OSError as exc:
            raise CorpusError(f"cannot read {file}: {exc.strerror}") from None
        stamp = _stamp(file, info, info.st_size)
        recorded = None if stamp[2] == -1 else self._recorded.get(stamp)
        digest = hashlib.blake2b(digest_size=16) if recorded is None else None
        size = 0
        with handle:
            if file.suffix == ".jsonl":
                def lines() -> Iterator[bytes]:
                    nonlocal size
                    for line in handle:
                        if digest is not None:
                            digest.update(line)
                        size += len(line)
                        self.bytes_read += len(line)
                        yield line[:-1] if line.endswith(b"\n") else line
                yield from _jsonl_articles(file, lines())
            else:
                data = handle.read()
                if digest is not None:
                    digest.update(data)
                size = len(data)
                self.bytes_read += size
                text = _decode(data[len(_BOM):] if data.startswith(_BOM) else data, str(file))
                del data
                article = parse_article_file(text, str(file))
                del text     # the article holds its own text: no other copy is kept
                yield article, str(file)
        try:
            after = file.stat()
        except OSError:
            after = None
        if size != stamp[1] or after is None or (after.st_size, after.st_mtime_ns,
                                                 after.st_ino) != (info.st_size,
                                                                   info.st_mtime_ns,
                                                                   info.st_ino):
            stamp, recorded = (file.name, size, -1, info.st_ino), None  # changed meanwhile
        else:
            # Unchanged from the first byte read to the last: the stamp is racy only if the
            # file was written within the racy window of the end of the read (a corpus
            # written just before a long build is stamped once it has been read).
            stamp = _stamp(file, after, size)
        self._files.append(CorpusFile(*stamp, recorded if recorded is not None
                                      else digest.hexdigest() if digest is not None else ""))
