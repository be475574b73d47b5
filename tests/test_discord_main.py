"""Starting the bot: the token, and one-line messages instead of tracebacks. No network:
``login`` is replaced where Discord would be contacted."""
from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.discord import create_bot, main, read_token
from bot.discord.app import EXIT_NO_TOKEN, EXIT_REJECTED, TokenError
from retrieval.settings import Settings
from tests.discord_fixtures import test_settings

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret.token-that-must-never-be-shown"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "index")


def test_no_token_exits_with_one_clear_line(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(settings, None) == EXIT_NO_TOKEN
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "DISCORD_TOKEN" in err and "discord.token_file" in err


def test_a_missing_token_file_is_named(settings: Settings, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    missing = tmp_path / "nope.token"
    assert main(settings.with_overrides(**{"discord.token_file": str(missing)}), None) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1


def test_the_environment_wins_over_the_token_file(settings: Settings, tmp_path: Path) -> None:
    token_file = tmp_path / "bot.token"
    token_file.write_text(" from-file \n", encoding="utf-8")
    with_file = settings.with_overrides(**{"discord.token_file": str(token_file)})
    assert read_token(with_file, {}) == "from-file"
    assert read_token(with_file, {"DISCORD_TOKEN": "from-env"}) == "from-env"
    token_file.write_text("\n", encoding="utf-8")
    with pytest.raises(TokenError, match="empty"):
        read_token(with_file, {})


def test_a_rejected_token_exits_with_one_line_and_is_never_shown(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    async def rejected(self: discord.Client, token: str) -> None:
        assert token == SECRET
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(discord.Client, "login", rejected)
    monkeypatch.setenv("DISCORD_TOKEN", SECRET)
    assert main(settings, 1234) == EXIT_REJECTED
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "rejected" in err and "Traceback" not in err
    assert SECRET not in out + err + caplog.text


def test_create_bot_with_no_arguments_uses_the_default_config_and_corpus(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QABOT_INDEX__DIR", str(tmp_path / "index"))  # keep the repo clean
    bot = create_bot()
    try:
        assert isinstance(bot, discord.ext.commands.Bot)
        assert bot.service.articles and bot.settings.discord.cooldown_questions >= 1
        mentions = bot.allowed_mentions
        assert mentions is not None
        assert not (mentions.everyone or mentions.users or mentions.roles or mentions.replied_user)
    finally:
        bot.executor.shutdown()


def test_a_token_file_readable_by_others_is_warned_about_as_ssh_does(
        settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token_file = tmp_path / "bot.token"
    token_file.write_text("from-file\n", encoding="utf-8")
    with_file = settings.with_overrides(**{"discord.token_file": str(token_file)})
    token_file.chmod(0o644)
    assert read_token(with_file, {}) == "from-file"
    assert f"the token file {token_file} can be read by others (mode 0644)" in caplog.text
    assert "chmod 600" in caplog.text and "from-file" not in caplog.text
    caplog.clear()
    token_file.chmod(0o600)
    assert read_token(with_file, {}) == "from-file"
    assert caplog.text == ""


def test_no_voice_support_warnings_before_the_one_line(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    async def rejected(self: discord.Client, token: str) -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    # discord.py warns once per process that voice (PyNaCl, davey) is not supported.
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True, raising=False)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True, raising=False)
    monkeypatch.setattr(discord.Client, "login", rejected)
    monkeypatch.setenv("DISCORD_TOKEN", SECRET)
    assert main(settings, None) == EXIT_REJECTED
    assert "voice" not in caplog.text
    assert capsys.readouterr().err.count("\n") == 1
