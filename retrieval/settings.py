"""Settings: ``config/default.toml``, then a user file, then ``QABOT_*`` environment
variables, validated into one frozen ``Settings`` object.

The object is made once at the edge (a CLI command, the bot's start) and handed down;
nothing deeper reads files or the environment."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.analysis import Analyzer
from retrieval.answerer import AnswerSettings
from retrieval.conversation import ConversationSettings
from retrieval.errors import ConfigError
from retrieval.index import TfidfIndex
from retrieval.text import SegmentationRules

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "QABOT_"
CONFIG_ENV = "QABOT_CONFIG"

log = logging.getLogger(__name__)
_RAY_ADDRESS = re.compile(r"^(|auto|(ray://)?[^\s/:]+:\d{1,5})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CorpusSettings(_Section):
    path: Path


class IndexSettings(_Section):
    dir: Path | None = None
    cache_dir: Path | None = None
    auto_rebuild: bool = True
    jobs: Annotated[int, Field(ge=0, le=1024)] = 0   # 0: one process per CPU


class RetrievalSettings(_Section):
    stem: bool = True
    lemmatize: bool = False
    stop_words: bool = True
    bigrams: bool = False
    sublinear_tf: bool = True
    weighting: Literal["bm25", "tfidf"] = "bm25"
    k1: Annotated[float, Field(ge=0.0, le=10.0)] = 1.2
    b: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    sentence_k1: Annotated[float, Field(ge=0.0, le=10.0)] = 0.6
    sentence_b: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    min_block_words: Annotated[int, Field(ge=1, le=100)] = 5
    min_sentence_words: Annotated[int, Field(ge=1, le=100)] = 4

    def index(self) -> TfidfIndex:
        """A new, unfitted index with these settings."""
        return TfidfIndex(self.analyzer(), sublinear_tf=self.sublinear_tf, rules=self.rules(),
                          weighting=self.weighting, k1=self.k1, b=self.b,
                          sentence_k1=self.sentence_k1, sentence_b=self.sentence_b)

    def analyzer(self) -> Analyzer:
        return Analyzer(stem=self.stem, stop_words=self.stop_words, bigrams=self.bigrams,
                        lemmatize=self.lemmatize)

    def rules(self) -> SegmentationRules:
        return SegmentationRules(min_block_words=self.min_block_words,
                                 min_sentence_words=self.min_sentence_words)


class ReplSettings(_Section):
    history_file: Path | None = None


class DiscordSettings(_Section):
    token_file: Path | None = None
    cooldown_seconds: Annotated[float, Field(ge=0.0)] = 10.0
    cooldown_questions: Annotated[int, Field(ge=1)] = 3
    allowed_channels: tuple[int, ...] = ()
    answer_in_dms: bool = True


class ClusterSettings(_Section):
    enabled: bool = False
    # "auto": the Ray cluster this machine belongs to (`ray start`); "ray://host:port": a
    # remote one through Ray Client; "host:port": a head node's address; "": a local Ray.
    address: str = ""
    shards: Annotated[int, Field(ge=1, le=1024)] = 2
    replicas: Annotated[int, Field(ge=1, le=64)] = 1
    timeout_seconds: Annotated[float, Field(gt=0.0, le=3600.0)] = 10.0

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _RAY_ADDRESS.match(value):
            raise ValueError('expected "auto", "ray://HOST:PORT", "HOST:PORT" or "" (a local Ray)')
        return value


class IngestSettings(_Section):
    timeout_seconds: Annotated[float, Field(gt=0.0, le=600.0)] = 20.0
    max_bytes: Annotated[int, Field(ge=1024)] = 5_000_000
    max_redirects: Annotated[int, Field(ge=0, le=30)] = 5
    user_agent: Annotated[str, Field(min_length=1)] = "qabot/0.1 (news question answering)"
    syndicated_similarity: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    allow_private_addresses: bool = False


class Settings(_Section):
    """Every setting of the bot, validated."""

    corpus: CorpusSettings
    index: IndexSettings
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    conversation: ConversationSettings = ConversationSettings()
    repl: ReplSettings = ReplSettings()
    discord: DiscordSettings = DiscordSettings()
    cluster: ClusterSettings = ClusterSettings()
    ingest: IngestSettings = IngestSettings()

    @property
    def index_dir(self) -> Path:
        """Where the index of the configured corpus lives: ``index.dir`` when set, else a
        directory of its own under ``index.cache_dir``, named after the corpus and keyed by
        its resolved path, so that each corpus keeps its own index."""
        if self.index.dir is not None:
            return self.index.dir
        corpus = self.corpus.path.expanduser().resolve()
        key = hashlib.blake2b(str(corpus).encode("utf-8", "surrogatepass"),
                              digest_size=8).hexdigest()
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", corpus.name)[:40] or "corpus"
        cache = self.index.cache_dir or _user_cache(os.environ)
        return cache / f"{name}-{key}"

    def with_overrides(self, **values: Any) -> "Settings":
        """A copy with dotted keys replaced, e.g. ``with_overrides(**{"answer.top_k": 5})``;
        validated like a config file."""
        data = self.model_dump()
        for dotted, value in values.items():
            section, _, key = dotted.partition(".")
            if (section, key) in _PATH_KEYS and isinstance(value, str) and value:
                value = Path(value).expanduser()  # `--index-dir=~/idx` comes unexpanded
            data.setdefault(section, {})[key] = value
        return _validate(data, "command line")


_PATH_KEYS = {("corpus", "path"), ("index", "dir"), ("index", "cache_dir"),
              ("repl", "history_file"), ("discord", "token_file")}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, an integer > 4,300 digits
        raise ConfigError(f"config file {path} is not valid TOML: "
                          f"{str(exc).split(';')[0]}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is not valid TOML: nested too deeply") from None
    return _resolve_paths(data, path.parent)


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    for section, key in _PATH_KEYS:
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            value = table[key]
            if not value:
                table[key] = None
                continue
            expanded = Path(value).expanduser()
            table[key] = expanded if expanded.is_absolute() else (base / expanded).resolve()
    return data


def _merge(base: dict[str, Any], extra: Mapping[str, Any], origin: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict):
            if key in merged and not isinstance(merged[key], dict):
                raise ConfigError(f"{key}: expected a value, got a table [{origin}]")
            merged[key] = {**merged.get(key, {}), **value}  # tables hold values: one level
        else:
            merged[key] = value
    return merged


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        section, sep, key = name[len(ENV_PREFIX):].lower().partition("__")
        if section not in Settings.model_fields:    # not ours, or a typo: say so, go on
            log.warning("ignoring the environment variable %s: it names no table of the "
                        "settings (%s<TABLE>__<KEY>, e.g. QABOT_ANSWER__TOP_K)", name, ENV_PREFIX)
            continue
        if not sep or not key:
            raise ConfigError(f"environment variable {name}: expected "
                              f"{ENV_PREFIX}<TABLE>__<KEY>, e.g. QABOT_ANSWER__TOP_K")
        value: Any = raw
        if raw.strip().startswith("["):
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                raise ConfigError(f"environment variable {name}: {raw!r} is not a list") from None
        data.setdefault(section, {})[key] = value
    return _resolve_paths(data, Path.cwd())


# Keys of earlier versions, and what took their place (said instead of "unknown key").
RENAMED: dict[str, str] = {
    "answer.threshold": "answer.min_confidence (a probability from 0 to 1) replaced it",
    "answer.min_score": "answer.min_confidence alone decides whether to answer; remove the key",
}


def _unknown(loc: tuple[Any, ...]) -> str:
    """Why the key at ``loc`` is not a setting: renamed, or a near spelling of one."""
    key = ".".join(str(part) for part in loc)
    if key in RENAMED:
        return f"no longer a setting: {RENAMED[key]}"
    names = _keys(Settings)
    for part in loc[:-1]:
        names = _keys(names.get(str(part)))
    near = difflib.get_close_matches(str(loc[-1]), list(names), n=1, cutoff=0.75)
    prefix = "".join(f"{part}." for part in loc[:-1])
    return f"unknown key (did you mean {prefix}{near[0]}?)" if near else "unknown key"


def _keys(table: Any) -> dict[str, Any]:
    """The keys of a table of the settings (a model or a dataclass) and their types; none
    for anything else."""
    if isinstance(table, type) and issubclass(table, BaseModel):
        return {name: field.annotation for name, field in table.model_fields.items()}
    if dataclasses.is_dataclass(table):
        return {field.name: field.type for field in dataclasses.fields(table)}
    return {}


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = _unknown(tuple(error["loc"]))
        elif error["type"] == "missing":
            message = "missing"
        else:
            got = repr(error.get("input"))
            got = got if len(got) <= 80 else f"{got[:60]}... ({len(got):,} characters)"
            message = f"{error['msg']} (got {got})"
        raise ConfigError(f"{key}: {message} [{origin}]") from None


def load_settings(config_file: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Default settings, overridden by ``config_file`` (or the file named by ``QABOT_CONFIG``)
    and then by ``QABOT_<TABLE>__<KEY>`` variables of ``environ``."""
    environ = os.environ if environ is None else environ
    data = _read_toml(DEFAULT_CONFIG)
    origins = [str(DEFAULT_CONFIG)]
    user_file = config_file or environ.get(CONFIG_ENV)
    if user_file:
        path = Path(user_file).expanduser()
        data = _merge(data, _read_toml(path), str(path))
        origins.append(str(path))
    env = _env_overrides(environ)
    if env:
        data = _merge(data, env, "environment")
        origins.append("environment")
    index = data.setdefault("index", {})
    if isinstance(index, dict) and index.get("cache_dir") is None:
        index["cache_dir"] = _user_cache(environ)
    return _validate(data, ", ".join(origins))


def _user_cache(environ: Mapping[str, str]) -> Path:
    """The user's cache directory for qabot, as the XDG base directory rules say."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not base or not Path(base).is_absolute():
        base = str(Path(environ.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "qabot"
