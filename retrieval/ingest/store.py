"""The corpus directory as ``qabot add`` and ``qabot remove`` change it.

An added article is one file ``<id>.txt`` in the documented front-matter format, its
``[origin]`` table saying when it was added, from what, and where each field came from; a
page's original HTML is kept beside it as ``<id>.html``. Files are written aside under a
hidden name and renamed into place, so a reader never sees half an article.

A removed article's files are moved into ``.removed/`` in the corpus directory (hidden: the
corpus ignores it), never deleted: moving them back restores the article."""
from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.corpus import (ORIGIN_TABLE, ORIGINAL_SUFFIX, Article, format_article_file,
                              split_front_matter)
from retrieval.errors import CorpusError
from retrieval.ingest.records import IngestError, Origin
from retrieval.system import directory_locked, process_running

REMOVED_DIR = ".removed"
ARTICLE_SUFFIX = ".txt"
_SLUG_WORDS = re.compile(r"[a-z0-9]+")
_MAX_SLUG = 60
_MAX_ID_BYTES = 200
# names Windows keeps for devices (with any extension): a corpus may be shared with it
_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?", re.IGNORECASE)


def article_id(title: str, digest: str) -> str:
    """A readable id: the title's words in ASCII (``harbour-bridge-reopens``) and 8 hex
    digits of ``digest``, which tell apart articles of the same title."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = "-".join(_SLUG_WORDS.findall(ascii_title.lower()))[:_MAX_SLUG].rstrip("-")
    return f"{slug or 'article'}-{digest[:8]}"


@dataclass(frozen=True)
class StoredOrigin:
    """An article file of the corpus directory and its origin (None when written by hand)."""

    article_id: str
    path: Path
    origin: Origin | None


def corpus_directory(path: Path) -> Path:
    """The corpus directory articles are added to; refuses a ``.jsonl`` or ``.txt`` corpus."""
    path = path.expanduser()
    if path.exists() and not path.is_dir():
        raise CorpusError(f"the corpus {path} is a file: `qabot add` writes article files "
                          "into a corpus directory (set corpus.path to a directory)")
    return path


def has_articles(path: Path) -> bool:
    """Whether the corpus at ``path`` holds article files (a corpus file, or a directory with
    ``*.txt`` or ``*.jsonl`` files) to be indexed."""
    path = path.expanduser()
    if path.is_file():
        return True
    return path.is_dir() and any(p.suffix in (ARTICLE_SUFFIX, ".jsonl") and p.is_file()
                                 for p in path.iterdir())


def stored_origins(directory: Path) -> Iterator[StoredOrigin]:
    """Every article file of ``directory`` with its origin, in file-name order. Files that
    cannot be read as articles are left to the corpus loader to report."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*" + ARTICLE_SUFFIX)):
        header = _header(path)
        ident = header.get("id") if header is not None else None
        if isinstance(ident, str):
            yield StoredOrigin(ident.strip(), path, _origin(header))


def origin_of(directory: Path, article_id: str) -> Origin | None:
    """The origin of the article ``article_id`` when ``qabot add`` wrote its file."""
    try:
        name = article_file_name(article_id)
    except IngestError:        # an id of a .jsonl corpus file (``AC/DC#3``): no file of its own
        return None
    header = _header(directory / name)
    return _origin(header) if header is not None else None


def _header(path: Path) -> dict[str, Any] | None:
    try:
        header, _ = split_front_matter(path.read_text(encoding="utf-8-sig"), str(path))
    except (OSError, UnicodeDecodeError, CorpusError):
        return None
    return header


def _origin(header: dict[str, Any]) -> Origin | None:
    table = header.get(ORIGIN_TABLE)
    return Origin.from_table(table) if isinstance(table, dict) else None


def write_article(directory: Path, article: Article, origin: Origin,
                  original: bytes | None) -> Path:
    """Write ``article`` (and the ``original`` page beside it) into ``directory``, creating
    it if needed. Raises ``IngestError`` when a file of that name exists already."""
    path = directory / article_file_name(article.id)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestError(f"cannot create the corpus directory {directory} "
                          f"({exc.strerror or exc}): set corpus.path to a directory") from None
    with directory_locked(directory):   # one writer at a time decides: two adds of one
        if path.exists():               # source at once do not both add it
            raise IngestError(f"{path} exists already")
        if original is not None:
            _write_aside(directory / (article.id + ORIGINAL_SUFFIX), original)
        _write_aside(path, format_article_file(article, origin.to_table()).encode("utf-8"))
    return path


# The temporary files an add writes aside in the corpus directory (``.NAME.tmp-PID``): a killed
# add leaves its own, which the next add removes once that process is gone; nothing else.
_TEMPORARY = re.compile(r"^\.(?P<name>.+\.(?:txt|html))\.tmp-(?P<pid>\d+)$")


def remove_temporaries(directory: Path) -> list[str]:
    """Remove the temporary files that killed adds left in ``directory`` (named as
    ``_write_aside`` names them, by a process that has ended); returns their names."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:          # no directory yet, or not one we can read: nothing of ours
        return removed
    for entry in entries:
        found = _TEMPORARY.match(entry.name)
        if found and entry.is_file(follow_symlinks=False) and \
                not process_running(int(found["pid"])):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:    # removed by another add meanwhile
                continue
            removed.append(entry.name)
    return removed


def _write_aside(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise IngestError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_file_id(article_id: str) -> None:
    """Raise ``IngestError`` unless ``article_id`` can name a file of the corpus directory
    as it is: a plain name (no ``/`` or ``\\``, not hidden, not a reserved device name, no
    control character), so that nothing is written outside the directory and a rebuild
    finds the article under the same id."""
    if (not article_id or article_id != article_id.strip() or article_id.startswith(".")
            or any(c in article_id for c in "/\\") or not article_id.isprintable()
            or _RESERVED.fullmatch(article_id)
            or len(article_id.encode("utf-8")) > _MAX_ID_BYTES):
        raise IngestError(f"the id {article_id!r} cannot be a file name in the corpus "
                          "directory (it must be a plain name: no / or \\, no leading dot, "
                          f"not a device name, at most {_MAX_ID_BYTES} bytes): give the "
                          "article another id")


def article_file_name(article_id: str) -> str:
    """The name of the file ``write_article`` writes for the article ``article_id`` (refused
    with ``IngestError`` when the id cannot be one, see ``check_file_id``)."""
    check_file_id(article_id)
    return article_id + ARTICLE_SUFFIX


@dataclass(frozen=True)
class Removed:
    article_id: str
    file: str                   # the name the article file had in the corpus directory
    moved: tuple[Path, ...]     # where its files are now


def remove_articles(directory: Path, ids: Iterable[str]) -> list[Removed]:
    """Move the files of the articles ``ids`` into ``directory/.removed/``. Raises
    ``IngestError`` naming the ids that are not article files of ``directory`` (nothing is
    moved then)."""
    wanted = list(dict.fromkeys(ids))
    found = _article_files(directory, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise IngestError(f"no article file with the id {', '.join(map(repr, missing))} in "
                          f"{directory} (`qabot sources` lists the ids; articles of a .jsonl "
                          "file are removed by editing it)")
    trash = directory / REMOVED_DIR
    removed = []
    try:
        trash.mkdir(exist_ok=True)
        for ident in wanted:
            path = found[ident]
            moved = []
            for source in (path.with_suffix(ORIGINAL_SUFFIX), path):   # the article last
                if source.exists():
                    target = _free_name(trash / source.name)
                    os.replace(source, target)
                    moved.append(target)
            removed.append(Removed(ident, path.name, tuple(moved)))
    except OSError as exc:
        done = f" ({', '.join(r.article_id for r in removed)} removed)" if removed else ""
        raise IngestError(f"cannot move the files aside into {trash}: "
                          f"{exc.strerror or exc}{done}; {REMOVED_DIR} must be a directory "
                          "we can write in") from None
    return removed


def _article_files(directory: Path, ids: list[str]) -> dict[str, Path]:
    """The article files of ``ids`` in ``directory``: ``<id>.txt`` (the name ``qabot add``
    writes) when it holds that id, so that the cost is in proportion to the ids; the other
    files are read only for ids not found so (a file named by hand)."""
    found = {}
    for ident in ids:
        try:
            path = directory / article_file_name(ident)
        except IngestError:          # not a file name: no file of its own
            continue
        header = _header(path)
        if header is not None and isinstance(header.get("id"), str) \
                and header["id"].strip() == ident:
            found[ident] = path
    if len(found) < len(ids):
        rest = set(ids) - set(found)
        for stored in stored_origins(directory):
            if stored.article_id in rest and stored.article_id not in found:
                found[stored.article_id] = stored.path
    return found


def _free_name(path: Path) -> Path:
    """``path``, or ``name.1.txt``, ``name.2.txt``... when it is taken."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
    return candidate
