"""Property tests: whatever a member types, the parsers refuse with a ParseError or parse, and
every handler answers, politely, in messages Telegram accepts (at most 4096 characters).

CI (CI=true) runs a derandomized profile, so a failure there reproduces on every run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FrozenClock
from bot.config import Settings
from bot.parsing.amounts import parse_amount
from bot.parsing.commands import parse_call, parse_deal, parse_schedule
from bot.parsing.dates import parse_when
from bot.parsing.errors import ParseError
from bot.parsing.new_client import parse_new_client
from bot.parsing.tokens import tokenize
from storage.db import create_engine
from tests.support.harness import BotHarness, Person

IN_CI = os.environ.get("CI", "").lower() == "true"
settings.register_profile("faults-ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("faults-dev", deadline=None, print_blob=True)
PROFILE = settings.get_profile("faults-ci" if IN_CI else "faults-dev")

NOW = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)
MAX_AMOUNT = Decimal("100000000000")
TELEGRAM_LIMIT = 4096

# Pieces the parsers look for, so that random input reaches deep branches, not only the
# "cannot read this" exit: dates, times, amounts, suffixes, outcomes, fields, separators.
# fmt: off
VOCAB = [
    "завтра", "сегодня", "послезавтра", "tomorrow", "today", "пн", "пятница", "friday", "через",
    "in", "2", "дня", "недели", "week", "месяц", "hours", "15.12", "31.02", "1.1.27",
    "29.02.2027", "10:00", "25:61", "9", "утра", "вечера", "pm", "am", "в", "at", "15", "декабря",
    "december", "12к", "1.5млн", "100 000", "1,5", "тыс", "k", "mln", "₽", "руб", "$", "%",
    "маржа", "margin", "прибыль", "profit", "-5", "0", "1e9", "999999999999999", "недозвон",
    "no answer", "перезвонить", "встреча", "сделка", "дозвонился", "talked", "—", "-", ",", ":",
    ";", "#tag", "#", "+7 999 123-45-67", "8(999)1234567", "@x", "тел", "phone", "email", "a@b.c",
    "сайт", "http://x.y", "город", "день рождения", "birthday", "др", "\n", "  ", "Иванов",
    "ООО «Ромашка»", "<b>", "&amp;", "\u200b", "🙂", "ё", "Ё", "x" * 300,
]
# fmt: on
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(VOCAB), st.text(max_size=6)), max_size=14).map(" ".join),
)


def only_parse_errors(parse: Callable[[], Any]) -> None:
    try:
        parse()
    except ParseError as exc:
        assert isinstance(exc.code, str) and exc.code


parser_settings = settings(PROFILE, max_examples=200)


@parser_settings
@given(texts)
def test_tokenize_never_raises(text: str):
    assert all(isinstance(token, str) for token in tokenize(text))


@parser_settings
@given(texts)
def test_parse_call_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_call(text, NOW, max_amount=MAX_AMOUNT))


@parser_settings
@given(texts)
def test_parse_deal_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_deal(text, max_amount=MAX_AMOUNT))


@parser_settings
@given(texts)
def test_parse_schedule_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_schedule(text, NOW))


@parser_settings
@given(texts)
def test_parse_when_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_when(text, NOW))


@parser_settings
@given(texts)
def test_parse_amount_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_amount(text, max_amount=MAX_AMOUNT))


@parser_settings
@given(texts)
def test_parse_new_client_raises_only_parse_errors(text: str):
    only_parse_errors(lambda: parse_new_client(text, max_amount=MAX_AMOUNT, max_tag_chars=20))


# --- every text handler, through the real Dispatcher ----------------------------------------

OWNER = Person(1, "Olga", "ru")
MANAGER = Person(2, "Max", "en")
# fmt: off
COMMANDS = [
    "/call", "/add", "/note", "/next", "/deal", "/meet", "/client", "/hot", "/warm", "/cold",
    "/find", "/list", "/settings", "/today", "/campaign", "/invite", "/cancel", "/help", "/start",
    "",
]
# fmt: on


class FailedUpdates(logging.Handler):
    """The errors router turns a crash into a polite answer; the crash is what we look for."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Playground:
    """One team on SQLite, kept across examples: state (clients, half-done dialogs) builds up
    the way it does for a real member typing one thing after another."""

    def __init__(self, template: Path, workdir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        target = workdir / "props.sqlite3"
        shutil.copy(template, target)
        self.engine = create_engine(f"sqlite+aiosqlite:///{target}")
        config = Settings(_env_file=None, bot_token=None, database_url="sqlite+aiosqlite://")
        self.harness = BotHarness.create(config, self.engine, FrozenClock(NOW))
        self.failures = FailedUpdates()
        logging.getLogger("handlers.errors").addHandler(self.failures)
        self.run(self._team())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _team(self) -> None:
        h = self.harness
        await h.join_owner(OWNER)
        await h.invite_and_join(OWNER, MANAGER)
        for person, text in (
            (MANAGER, "/add Иванов +7 999 123-45-67"),
            (MANAGER, "/add ООО Ромашка"),
            (OWNER, "/add Petrov"),
            (MANAGER, "/next Иванов завтра 10:00 call back"),
        ):
            await h.send(person, text)

    def close(self) -> None:
        logging.getLogger("handlers.errors").removeHandler(self.failures)
        self.run(self.harness.app.bot.session.close())
        self.run(self.engine.dispose())
        self.loop.close()


@pytest.fixture(scope="module")
def playground(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Playground]:
    ground = Playground(sqlite_template, tmp_path_factory.mktemp("props"))
    yield ground
    ground.close()


@settings(
    PROFILE,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    person=st.sampled_from([OWNER, MANAGER]),
    command=st.one_of(
        st.sampled_from(COMMANDS),
        st.from_regex(r"/[a-z_]{1,12}", fullmatch=True),
    ),
    args=texts,
)
def test_every_text_handler_answers_within_limits_and_never_crashes(
    playground: Playground, person: Person, command: str, args: str
):
    text = f"{command} {args}".strip() if command else args
    if not text.strip():
        text = "?"  # Telegram does not deliver empty messages
    h = playground.harness
    replies = playground.run(h.send(person, text))
    assert h.session.violations == [], (text, h.session.violations)
    assert playground.failures.records == [], (text, playground.failures.records[0].getMessage())
    assert replies, f"no answer to {text!r}"
    for reply in replies:
        assert 0 < len(reply.text) <= TELEGRAM_LIMIT, (text, len(reply.text))
