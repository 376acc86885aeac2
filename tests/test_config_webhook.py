"""A weak webhook secret or a webhook address Telegram would not post to is refused at start-up,
with a message naming the variable and never repeating the secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.__main__ import main
from tests.support.runtime_kit import SECRET, TOKEN, runtime_settings


@pytest.mark.parametrize(
    "secret",
    [
        "abc",
        "Q",
        "a" * 15,  # one short of the minimum
        "sixteen chars ok",  # a space is outside Telegram's alphabet
        "sixteen-chars-ok!",
        "пароль-пароль-пароль",
        "a" * 257,  # Telegram's maximum is 256
    ],
)
def test_a_short_or_foreign_webhook_secret_is_refused_without_echoing_it(secret: str):
    with pytest.raises(ValidationError) as refused:
        runtime_settings(webhook_secret=secret)
    errors = refused.value.errors(include_input=False, include_url=False)
    assert [e["loc"] for e in errors] == [("webhook_secret",)]
    assert "16-256 characters" in errors[0]["msg"]
    assert secret not in str(errors)


@pytest.mark.parametrize("secret", ["a" * 16, "A-z_0-9" * 3, "f" * 256])
def test_a_long_enough_secret_in_telegrams_alphabet_is_accepted(secret: str):
    assert runtime_settings(webhook_secret=secret).webhook_secret is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://bot.example.org",
        "bot.example.org",
        "ftp://bot.example.org",
        "https://",
        "https://bot.example.org:8080/hook",
        "https://bot.example.org:99999",
    ],
)
def test_a_webhook_url_telegram_does_not_post_to_is_refused(url: str):
    with pytest.raises(ValidationError, match="WEBHOOK_URL must"):
        runtime_settings(webhook_url=url)
    # Polling mode with a leftover WEBHOOK_URL is refused too: the value is wrong either way.
    with pytest.raises(ValidationError, match="WEBHOOK_URL must"):
        runtime_settings(bot_mode="polling", webhook_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.org",
        "https://bot.example.org:8443/bots/sales",
        "https://bot.example.org:443",
        "HTTPS://Bot.Example.org/",
    ],
)
def test_an_https_webhook_url_on_a_telegram_port_is_accepted(url: str):
    assert runtime_settings(webhook_url=url).webhook_url == url


def test_a_self_hosted_bot_api_server_may_post_to_plain_http_on_any_port():
    settings = runtime_settings(
        telegram_api_url="http://127.0.0.1:8081", webhook_url="http://bot:8080/hook"
    )
    assert settings.public_webhook_url == "http://bot:8080/hook"


def test_start_up_names_the_variable_and_keeps_the_secret_out_of_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    weak = "abcSECRET"
    for name in list(os.environ):
        if name.startswith(("WEBHOOK", "BOT_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the tree
    for name, value in {
        "BOT_TOKEN": TOKEN,
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": "https://bot.example.org",
        "WEBHOOK_SECRET": weak,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
    }.items():
        monkeypatch.setenv(name, value)
    # `migrate` ends by itself where the old code accepted the settings (`run` would serve).
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "Configuration error: WEBHOOK_SECRET" in err and "16-256 characters" in err
    assert weak not in err and TOKEN not in err
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("WEBHOOK_URL", "http://bot.example.org")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "WEBHOOK_URL must be an https:// address" in err
    assert SECRET not in err
    assert not (tmp_path / "db.sqlite3").exists()  # refused before touching anything
