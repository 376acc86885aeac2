"""Start-up pieces: the token stays secret, the API URL is configurable, the command menu is
registered in both languages, and without a token the console playground runs."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from aiogram.methods import SetMyCommands
from pydantic import SecretStr

from bot.app import build_bot
from bot.config import Settings
from bot.logs import RedactSecrets
from bot.telegram.console import ConsoleChat, ConsolePrinter
from bot.telegram.local_session import LocalSession
from bot.telegram.menu import register_commands
from tests.support.harness import BotHarness

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-secret"
ROOT = Path(__file__).resolve().parent.parent


def test_token_never_reaches_the_log_even_inside_a_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([TOKEN]))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        logger.exception("request to %s failed", f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    logger.warning("a token-shaped string 987654321:%s", "Z" * 35)
    output = stream.getvalue()
    assert TOKEN not in output and "ZZZZZZZZZZ" not in output
    assert "***" in output and "RuntimeError" in output


def test_settings_never_print_the_token():
    settings = Settings(_env_file=None, bot_token=SecretStr(TOKEN))
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_bot_api_url_is_configurable_for_a_local_server():
    settings = Settings(_env_file=None, bot_token=TOKEN, telegram_api_url="http://127.0.0.1:8081/")
    bot = build_bot(settings)
    assert bot.session.api.base.startswith("http://127.0.0.1:8081/bot")
    assert bot.session.api.api_url(TOKEN, "getMe") == f"http://127.0.0.1:8081/bot{TOKEN}/getMe"


async def test_command_menu_is_registered_in_both_languages():
    session = LocalSession()
    bot = build_bot(Settings(_env_file=None), session)
    await register_commands(bot, "ru")
    calls = session.sent(SetMyCommands)
    by_language = {call.language_code: call.commands for call in calls}
    assert set(by_language) == {"ru", "en", None}
    english = {c.command: c.description for c in by_language["en"]}
    russian = {c.command: c.description for c in by_language["ru"]}
    assert english["call"].startswith("Log a call") and russian["call"].startswith("Записать")
    assert set(english) == set(russian) and {"today", "add", "help", "cancel"} <= set(english)


async def test_console_prints_replies_and_presses_buttons(harness: BotHarness):
    out = io.StringIO()
    printer = ConsolePrinter(out)
    harness.session.on_request = printer
    chat = ConsoleChat(harness.app.dispatcher, harness.app.bot, printer, "en")
    await chat.say("/start")
    await chat.say("/add Ivanov, hot")
    await chat.say("/client Ivanov")
    assert "[!1] ✅ Talked" in out.getvalue()
    await chat.say("!1")
    text = out.getvalue()
    assert "owner of a new team" in text and "Call with Ivanov logged" in text
    assert "<b>" not in text  # HTML is rendered for the terminal
    await chat.say("!9")
    assert "(no such button)" in out.getvalue()
    await chat.say("/client Ivanov")
    await chat.say("/call Ivanov done")  # the card's follow-up moves on meanwhile
    await chat.say("!1")  # a button of the now outdated card: refused, with the reason shown
    assert "already handled" in out.getvalue()


def test_run_without_a_token_explains_botfather_and_opens_the_console(tmp_path: Path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BOT_TOKEN", "DATABASE_URL", "CI"}
    }
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'first-run.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(ROOT)},
        input="/start\n/add Ivanov\n/call Ivanov done\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "@BotFather" in result.stdout
    assert "Call with Ivanov logged" in result.stdout or "Звонок записан: Ivanov" in result.stdout
    assert (tmp_path / "first-run.sqlite3").exists()
