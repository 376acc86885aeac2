"""The console playground as a newcomer meets it: buttons that stay with their message, charts
saved where a path shows them, a quiet Ctrl+C, and a banner that names the language."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.telegram.console import ConsoleChat, ConsolePrinter, banner
from tests.support.harness import BotHarness

ROOT = Path(__file__).resolve().parent.parent


def console(harness: BotHarness, files_dir: Path | None = None) -> tuple[ConsoleChat, io.StringIO]:
    out = io.StringIO()
    printer = ConsolePrinter(out, files_dir=files_dir)
    printer.attach(harness.session)
    return ConsoleChat(harness.app.dispatcher, harness.app.bot, printer, "en"), out


async def test_a_card_picked_from_a_list_keeps_its_buttons(harness: BotHarness):
    chat, out = console(harness)
    await chat.say("/start")
    await chat.say("/add Petrov Ivan, hot")
    await chat.say("/add Petrov Oleg, warm")
    await chat.say("/client Petrov")
    assert "Which one?" in out.getvalue()
    await chat.say("!1")  # the list's buttons go away; the card printed below keeps its own
    card = out.getvalue().rsplit("Which one?", 1)[1]
    assert "[!1] ✅ Talked" in card
    await chat.say("!1")
    assert "(no such button)" not in out.getvalue()
    assert "Call with" in out.getvalue() and "logged" in out.getvalue()
    assert not harness.session.violations


async def test_buttons_removed_from_one_message_leave_the_others(harness: BotHarness):
    chat, out = console(harness)
    await chat.say("/start")
    await chat.say("/add Ivanov Petr, hot")
    await chat.say("/client Ivanov")
    await chat.say("/settings")  # a second keyboard, on its own message
    assert [label for label, _ in chat.printer.buttons] == ["Русский", "English"]
    await chat.say("!2")
    assert "Language: English" in out.getvalue()
    assert not harness.session.violations


async def test_charts_are_saved_as_png_and_their_path_printed(harness: BotHarness, tmp_path):
    chat, out = console(harness, files_dir=tmp_path)
    await chat.say("/start")
    await chat.say("/add Ivanov Petr, hot")
    await chat.say("/deal Ivanov 150000")
    await chat.say("/portfolio")
    labels = [label for label, _ in chat.printer.buttons]
    await chat.say(f"!{labels.index('2 ABC-XYZ') + 1}")
    labels = [label for label, _ in chat.printer.buttons]
    await chat.say(f"!{labels.index('📊 Chart') + 1}")
    printed = [line for line in out.getvalue().splitlines() if line.startswith("[chart: ")]
    assert printed, out.getvalue()[-2000:]
    path = Path(printed[-1].removeprefix("[chart: ").split("]")[0])
    assert path.parent == tmp_path and path.suffix == ".png"
    assert (await asyncio.to_thread(path.read_bytes)).startswith(b"\x89PNG")


def test_the_banner_names_the_language_and_how_to_switch():
    assert "answers in Russian (DEFAULT_LANGUAGE=ru)" in banner("ru")
    assert "/settings lang en" in banner("ru")
    assert "answers in English (DEFAULT_LANGUAGE=en)" in banner("en")
    assert "/settings lang ru" in banner("en")


def _playground(tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL", "CI"}}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'quit.sqlite3'}"
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("after", [0.3, 1.5, "prompt"])
def test_ctrl_c_in_the_first_seconds_exits_without_a_traceback(tmp_path: Path, after):
    process = _playground(tmp_path)
    try:
        if after == "prompt":
            assert process.stdout is not None
            while "Buttons:" not in process.stdout.readline():
                pass
        else:
            time.sleep(after)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "Traceback" not in err, err
    # -SIGINT: the signal came before Python set up its handler (still nothing printed).
    assert process.returncode in (0, 130, -signal.SIGINT)
