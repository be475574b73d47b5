"""Configuration: defaults, user file, environment, and one-line errors naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from retrieval.settings import DEFAULT_CONFIG, load_settings

from tests.conftest import ROOT


def test_defaults_point_at_the_bundled_corpus():
    settings = load_settings(environ={})
    assert settings.corpus.path == ROOT / "corpus"
    assert settings.answer.top_k == 3


def test_user_file_overrides_and_resolves_paths_next_to_itself(tmp_path: Path):
    user = tmp_path / "conf" / "me.toml"
    user.parent.mkdir()
    user.write_text('[corpus]\npath = "articles.jsonl"\n[answer]\ntop_k = 7\n')
    settings = load_settings(user, environ={})
    assert settings.corpus.path == user.parent / "articles.jsonl"
    assert settings.answer.top_k == 7
    assert settings.answer.min_confidence == load_settings(environ={}).answer.min_confidence


def test_environment_overrides_the_user_file(tmp_path: Path):
    user = tmp_path / "me.toml"
    user.write_text("[answer]\ntop_k = 7\n")
    settings = load_settings(environ={"QABOT_CONFIG": str(user), "QABOT_ANSWER__TOP_K": "9",
                                      "QABOT_DISCORD__ALLOWED_CHANNELS": "[1, 2]"})
    assert settings.answer.top_k == 9
    assert settings.discord.allowed_channels == (1, 2)


@pytest.mark.parametrize(("toml", "message"), [
    ("[answer]\ntop_k = 0\n", "answer.top_k: Input should be greater than or equal to 1 (got 0)"),
    ("[answer]\nmin_confidence = 'high'\n", "answer.min_confidence: Input should be a valid number"),
    ("[answer]\ntopk = 3\n", "answer.topk: unknown key (did you mean answer.top_k?)"),
    ("[answer]\nthreshold = 0.45\n",
     "answer.threshold: no longer a setting: answer.min_confidence (a probability from 0 to 1) "
     "replaced it"),
    ("[answer]\nmin_score = 0.35\n",
     "answer.min_score: no longer a setting: answer.min_confidence alone decides whether to "
     "answer; remove the key"),
    ("[retreival]\nstem = true\n", "retreival: unknown key (did you mean retrieval?)"),
    ("[colour]\nx = 1\n", "colour: unknown key"),
    ("[retrieval]\nstem = 'maybe'\n", "retrieval.stem: Input should be a valid boolean"),
    ("answer = 3\n", "answer"),
    ("[answer\n", "is not valid TOML"),
])
def test_wrong_key_type_or_value_is_one_line(tmp_path: Path, toml: str, message: str):
    user = tmp_path / "me.toml"
    user.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(user, environ={})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_user_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/no/such.toml", environ={})


def test_malformed_environment_variable():
    with pytest.raises(ConfigError, match="QABOT_<TABLE>__<KEY>"):
        load_settings(environ={"QABOT_ANSWER": "3"})


def test_a_variable_naming_no_table_is_ignored_with_a_warning(caplog):
    settings = load_settings(environ={"QABOT_FOO": "1", "QABOT_TOPK": "3"})
    assert settings == load_settings(environ={})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and all("names no table of the settings" in w for w in warnings)
    assert "QABOT_FOO" in warnings[0] + warnings[1] and "QABOT_TOPK" in warnings[0] + warnings[1]


def test_every_default_key_is_documented_in_the_readme():
    import tomllib
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    defaults = tomllib.loads(DEFAULT_CONFIG.read_text())
    for table, values in defaults.items():
        for key in values:
            assert f"`{table}.{key}`" in readme, f"{table}.{key} is not in README.md"


@pytest.mark.parametrize(("toml", "message"), [
    ("[answer]\ntop_k = " + "1" * 5000 + "\n", "4300 digits"),
    ("x = " + "[" * 2000 + "]" * 2000 + "\n", "nested too deeply"),
    ("x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", "nested too deeply"),
    ("[" + ".".join(["a"] * 5000) + "]\n", "a: unknown key"),
    ("[answer." + ".".join(["a"] * 5000) + "]\n", "answer.a: unknown key"),
    ("[retrieval]\nstem = " + "[" * 300 + "]" * 300 + "\n", "retrieval.stem: Input should"),
    ("[retrieval]\nweighting = '" + "x" * 5000 + "'\n", "retrieval.weighting: Input should"),
])
def test_a_config_file_with_a_huge_integer_or_deep_nesting_is_one_line(
        tmp_path: Path, toml: str, message: str):
    user = tmp_path / "bad.toml"
    user.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(user, environ={})
    assert message in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_config_file_that_crashed_is_one_line_on_the_command_line(tmp_path: Path, capsys):
    from bot.cli import main
    user = tmp_path / "bad.toml"
    user.write_text("[answer]\ntop_k = " + "1" * 5000 + "\n")
    assert main(["ask", "q", "--config", str(user)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("qabot: config file ") and str(user) in err and "\n" not in err
