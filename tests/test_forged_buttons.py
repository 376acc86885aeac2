"""Forged buttons with absurd values: every field of every callback is range-checked when the
press is parsed, and a bad one is refused like an unknown button — the polite "no longer active",
no traceback, no ERROR line, nothing changed."""

from __future__ import annotations

import inspect
import logging
from enum import StrEnum
from typing import Any

import pytest
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Update, User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.telegram import callbacks
from handlers import get_routers
from handlers.flow import CLIENT_COMMANDS
from storage.models import Base
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
UNKNOWN_BUTTON = "This button is no longer active."

CLASSES: list[type[CallbackData]] = sorted(
    (
        cls
        for _name, cls in inspect.getmembers(callbacks, inspect.isclass)
        if issubclass(cls, CallbackData) and cls is not CallbackData
    ),
    key=lambda cls: cls.__name__,
)

# A valid press of each kind (ids of the rows the `team` fixture makes): each case below changes
# one field of it, so that field alone is what makes the press bad.
VALID: dict[str, dict[str, str]] = {
    "AddAnyway": {"tok": "0123abcd"},
    "AuditPage": {
        "mid": "2",
        "grp": "views",
        "since": "739000",
        "until": "739100",
        "off": "20",
        "pt": "1",
    },
    "CalendarAction": {"act": "off"},
    "CardAction": {"act": "done", "cid": "1", "fid": "1"},
    "ForgetClient": {"act": "ask", "cid": "1"},
    "ForwardedNote": {"act": "to", "tok": "a1b2c3d4", "cid": "1"},
    "ImportAction": {"act": "set", "tok": "a1b2c3", "col": "0", "fld": "name"},
    "ListPage": {"flt": "a", "off": "25", "pt": "-1"},
    "PickClient": {"cmd": "client", "cid": "1", "pid": "abc123"},
    "PortfolioAct": {"a": "csv", "p": "M202611", "m": "0", "s": "1"},
    "PortfolioView": {"p": "C20260101-20260331", "m": "2", "s": "0"},
    "PortfolioOpen": {"p": "M202612"},
    "Remind": {"act": "open", "fid": "1"},
    "ReplyPick": {"tok": "a1b2c3", "cid": "1"},
    "SetConsent": {"cid": "1", "val": "yes"},
    "SetLanguage": {"code": "ru"},
    "SharedContacts": {"act": "one", "tok": "a1b2c3d4", "i": "0"},
    "TeamAct": {"act": "to", "mid": "2", "arg": "1", "off": "0", "pt": "0"},
    "TransferPick": {"step": "from", "mid": "2"},
}
# Fields whose every value is meaningful (a list filter key reads anything unknown as "all").
FREE_TEXT = {("ListPage", "flt")}

HUGE = "9" * 20  # beyond int8 too
BAD_NUMBERS = [HUGE, "-" + HUGE, "2147483648", "-2", "12abc", "1.5", "0x1f"]
BAD_WORDS = ["zz!z", "DONE", "x" * 40]
# Every choice a button carries as an enum (an action, a step, a command, an output).
CHOICES: dict[tuple[str, str], type[StrEnum]] = {
    (cls.__name__, field): info.annotation
    for cls in CLASSES
    for field, info in cls.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, StrEnum)
}
# Forged actions: another button's action, an empty one, near misses of real ones.
OTHER_ACTIONS = sorted({member.value for choice in CHOICES.values() for member in choice})
NEAR_MISSES = ["", " open", "open ", "Open", "0", "done\n"]
# Period keys: well-formed but days Python cannot step before or after, or no period at all.
BAD_PERIODS = ["Y0001", "M999912", "Q00011", "C00010101-00010102", "Y1899", "M202613", "Y20260"]


def _bad_values(cls: type[CallbackData], field: str) -> list[str]:
    annotation = cls.model_fields[field].annotation
    if field == "p" and cls.__name__.startswith("Portfolio"):
        return BAD_PERIODS
    if annotation is int:
        values = list(BAD_NUMBERS)
        if field in ("since", "until"):
            values += ["1", "3652059", str(693595)]  # 0001-01-01, 9999-12-31, 1899-12-31
        return values
    if field in ("pid", "tok"):  # random names: any short word of letters and digits is one
        return ["zz!z", "x" * 40, ""]
    if (cls.__name__, field) == ("TeamAct", "arg"):
        return [*BAD_WORDS, HUGE, "2147483648", "0", "-1"]
    choice = CHOICES.get((cls.__name__, field))
    if choice is not None:
        others = [value for value in OTHER_ACTIONS if value not in set(choice)]
        return [*BAD_WORDS, *NEAR_MISSES, *others]
    return BAD_WORDS


CASES = [
    pytest.param(cls, field, id=f"{cls.__name__}.{field}")
    for cls in CLASSES
    for field in cls.model_fields
    if (cls.__name__, field) not in FREE_TEXT
]


def _data(cls: type[CallbackData], **changed: str) -> str:
    values = {**VALID[cls.__name__], **changed}
    return ":".join([cls.__prefix__, *(values[name] for name in cls.model_fields)])


def test_every_callback_class_has_a_valid_sample_that_unpacks():
    assert sorted(VALID) == [cls.__name__ for cls in CLASSES]
    for cls in CLASSES:
        assert cls.unpack(_data(cls)).pack() == _data(cls)


def test_pick_commands_are_the_commands_a_pick_can_finish():
    assert set(callbacks.ClientCommand) == set(CLIENT_COMMANDS)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(commands=((OWNER, "/add Petrov, +7 999 555-44-33"),))


async def _rows(engine: AsyncEngine) -> dict[str, list[Any]]:
    async with engine.connect() as conn:
        return {
            table.name: sorted(map(tuple, await conn.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name != "processed_updates"
        }


@pytest.mark.parametrize(("cls", "field"), CASES)
async def test_a_forged_button_with_an_absurd_value_is_refused_like_an_unknown_one(
    team: BotHarness,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    cls: type[CallbackData],
    field: str,
):
    before = await _rows(engine)
    caplog.set_level(logging.INFO)
    for value in _bad_values(cls, field):
        data = _data(cls, **{field: value})
        assert len(data.encode()) <= 64, data  # what Telegram lets a button carry
        for person in (OWNER, MANAGER):
            caplog.clear()
            replies = await team.press(person, data)
            assert team.alerts() == [UNKNOWN_BUTTON], (data, team.alerts())
            assert replies == [], data
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [], (data, [r.getMessage() for r in errors])
    assert await _rows(engine) == before


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/audit 01.01.0001-31.12.9999", "01.01.0001"),
        ("/audit 31.12.9999", "31.12.9999"),
        ("/portfolio 01.01.0001-02.01.0001", "period"),
        ("/portfolio 01.01.1899-31.01.1899", "period"),
    ],
)
async def test_typed_days_beyond_the_bots_range_are_refused_politely(
    team: BotHarness, caplog: pytest.LogCaptureFixture, command: str, expected: str
):
    replies = await team.send(OWNER, command)
    assert len(replies) == 1 and expected in replies[0].text, [r.text for r in replies]
    assert "Something went wrong" not in replies[0].text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_first_and_last_months_the_bot_offers_have_working_buttons(team: BotHarness):
    first = await team.send(OWNER, "/portfolio 01.01.1900-31.01.1900")
    labels = [text for text, _data in first[0].buttons]
    assert "◀ Previous" not in labels
    last = await team.send(OWNER, "/portfolio 01.12.2999-31.12.2999")
    data = dict(last[0].buttons)["◀ Previous"]
    assert data.startswith("pf:C29991031-29991130")
    replies = await team.press(OWNER, data)
    assert team.alerts() != [UNKNOWN_BUTTON] and len(replies) == 1


def _handlers_of(cls: type[CallbackData]) -> list[HandlerObject]:
    return [
        handler
        for router in get_routers()
        for handler in router.callback_query.handlers
        if any(
            isinstance(f.callback, CallbackQueryFilter) and f.callback.callback_data is cls
            for f in handler.filters or []
        )
    ]


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        pytest.param(cls, field, id=f"{cls.__name__}.{field}")
        for cls in CLASSES
        for field in cls.model_fields
        if (cls.__name__, field) in CHOICES
    ],
)
async def test_every_choice_a_button_carries_has_exactly_one_handler(
    cls: type[CallbackData], field: str
):
    """One handler per action, chosen by its filter: no action without one (it would read as
    an unknown button), none that two handlers compete for."""
    handlers = _handlers_of(cls)
    assert handlers, cls
    user = User(id=OWNER.id, is_bot=False, first_name="Olga")
    for member in CHOICES[(cls.__name__, field)]:
        data = _data(cls, **{field: member.value})
        query = CallbackQuery(id="1", from_user=user, chat_instance="1", data=data)
        matched = [h.callback.__name__ for h in handlers if (await h.check(query))[0]]
        assert len(matched) == 1, (data, matched)


# -- a press on a message Telegram no longer shows ------------------------------------------------

EXPIRED = "This choice has expired. Please send the command again."


async def _press_on(h: BotHarness, person: Person, data: str, message: dict[str, Any] | None):
    """A press as Telegram sends it: `message` None (a button under an inline-mode message), or
    only chat and id with date 0 (an InaccessibleMessage: Telegram sends one even for presses on
    messages only hours old)."""
    h.session.clear()
    query: dict[str, Any] = {
        "id": str(next(h._ids)),
        "from": {"id": person.id, "is_bot": False, "first_name": person.first_name},
        "chat_instance": "test",
        "data": data,
    }
    if person.language:
        query["from"]["language_code"] = person.language
    if message is not None:
        query["message"] = message
    else:
        query["inline_message_id"] = "AAAA"
    update = Update.model_validate(
        {"update_id": next(h._ids), "callback_query": query}, context={"bot": h.app.bot}
    )
    await h.app.dispatcher.feed_update(h.app.bot, update)


@pytest.fixture
def handlers_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The callback handlers aiogram called, by name."""
    ran: list[str] = []
    real = HandlerObject.call

    async def call(self: HandlerObject, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], CallbackQuery):
            ran.append(self.callback.__name__)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(HandlerObject, "call", call)
    return ran


@pytest.mark.parametrize("cls", CLASSES, ids=[cls.__name__ for cls in CLASSES])
async def test_a_press_with_no_message_is_answered_and_runs_nothing(
    team: BotHarness, engine: AsyncEngine, handlers_run: list[str], cls: type[CallbackData]
):
    before = await _rows(engine)
    for person in (OWNER, MANAGER):
        await _press_on(team, person, _data(cls), None)
        [answer] = team.session.requests  # the one answer, nothing else
        assert isinstance(answer, AnswerCallbackQuery), answer
        assert (answer.text, answer.show_alert) == (EXPIRED, True)
    assert handlers_run == []
    assert await _rows(engine) == before
    # The same button on a message Telegram still shows reaches its handler.
    await team.press(OWNER, _data(cls))
    assert handlers_run


@pytest.mark.parametrize("cls", CLASSES, ids=[cls.__name__ for cls in CLASSES])
async def test_a_press_on_an_inaccessible_message_reaches_its_handler(
    team: BotHarness, handlers_run: list[str], cls: type[CallbackData]
):
    """Date 0 comes with ordinary presses on messages hours old (tdlib/telegram-bot-api#401):
    the press reaches its handler as it would with the full message (which may still refuse
    a sample that fits no open question, as it would anyway)."""
    inaccessible = {"message_id": 5, "chat": {"id": OWNER.id, "type": "private"}, "date": 0}
    await _press_on(team, OWNER, _data(cls), inaccessible)
    assert handlers_run


async def test_the_answer_is_in_the_members_language(team: BotHarness, handlers_run: list[str]):
    russian = Person(OWNER.id, OWNER.first_name, language="ru")
    await _press_on(team, russian, _data(callbacks.CardAction), None)
    assert team.alerts() == ["Выбор устарел. Отправьте команду ещё раз."]
    assert handlers_run == []


async def test_a_stranger_pressing_an_old_message_hears_how_to_join(
    team: BotHarness, handlers_run: list[str]
):
    stranger = Person(99, "Eve")
    message = {"message_id": 5, "chat": {"id": stranger.id, "type": "private"}, "date": 0}
    await _press_on(team, stranger, _data(callbacks.CardAction), message)
    [alert] = team.alerts()
    assert "ask the owner" in alert and handlers_run == []
