"""No LOG_LEVEL writes client data: with LOG_LEVEL=DEBUG the database drivers and SQLAlchemy
stay quiet about SQL parameters and result rows."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import PRIVATE_LOGGERS, setup_logging
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
NAME = "Zebulon Quarkwright"
PHONE = "+7 912 345-67-89"
NOTE = "prefers Xylophonic invoices"


def _configured_as_main_does(level: str) -> Iterator[io.StringIO]:
    """setup_logging as `python -m bot run` calls it, writing into a buffer; the logging state
    of the test session is put back afterwards."""
    root = logging.getLogger()
    names = [*PRIVATE_LOGGERS, "aiohttp.access", "aiogram.event", "apscheduler.executors"]
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    stream = io.StringIO()
    setup_logging(level, [], "text")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, value in saved[2].items():
            logging.getLogger(name).setLevel(value)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    yield from _configured_as_main_does("DEBUG")


async def test_debug_logging_keeps_client_names_phones_and_notes_out(
    harness: BotHarness, debug_log: io.StringIO
):
    await harness.join_owner(OWNER)
    replies = await harness.send(OWNER, f"/add {NAME}, {PHONE}")
    assert NAME in replies[0].text
    await harness.send(OWNER, f"/note Quarkwright {NOTE}")
    await harness.send(OWNER, "/client Quarkwright")
    await harness.send(OWNER, "/find 3456789")
    output = debug_log.getvalue()
    assert output, "DEBUG logging wrote nothing at all: the test would prove nothing"
    for secret in ("Quarkwright", "Zebulon", "345-67-89", "3456789", "Xylophonic"):
        assert secret not in output, f"{secret!r} reached the log:\n{output[-3000:]}"


def test_no_logger_is_made_more_verbose_than_log_level():
    for stream in _configured_as_main_does("ERROR"):
        for name in [*PRIVATE_LOGGERS, "aiohttp.access", "apscheduler.executors"]:
            assert logging.getLogger(name).getEffectiveLevel() == logging.ERROR, name
        logging.getLogger("aiosqlite").info("closing")
        assert stream.getvalue() == ""
