"""The README's first example is what a newcomer sees in the playground: the same lines, in the
language the playground speaks by default. Dates are the only thing that may differ."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bot.config import Settings
from bot.telegram.console import ConsoleChat, ConsolePrinter, banner
from tests.support.harness import BotHarness

README = Path(__file__).resolve().parent.parent / "README.md"
# "ср, 2 декабря", "Wed, 2 December": the day the example was run.
DATE = re.compile(r"\b[А-Яа-яA-Za-z]{2,3}, \d{1,2} [А-Яа-яA-Za-z]+\b")


def first_example() -> str:
    text = README.read_text()
    block = re.search(r"```text\n(.*?)```", text, re.S)
    assert block is not None, "the README's first example is a ```text block"
    return block.group(1)


async def transcript(harness: BotHarness, inputs: list[str], language: str) -> str:
    out = io.StringIO()
    printer = ConsolePrinter(out)
    printer.attach(harness.session)
    chat = ConsoleChat(harness.app.dispatcher, harness.app.bot, printer, language)
    print(banner(language), file=out)
    for line in inputs:
        out.write(f"\nyou> {line}\n")
        await chat.say(line)
    return out.getvalue()


def normal(text: str) -> str:
    return DATE.sub("<date>", text).strip()


async def test_the_readme_starts_with_what_the_playground_shows(harness: BotHarness):
    example = first_example()
    inputs = [
        line.removeprefix("you> ") for line in example.splitlines() if line.startswith("you> ")
    ]
    assert inputs[0] == "/start" and len(inputs) >= 3
    language = Settings(_env_file=None).default_language
    assert f"DEFAULT_LANGUAGE={language}" in example
    assert normal(await transcript(harness, inputs, language)) == normal(example)
