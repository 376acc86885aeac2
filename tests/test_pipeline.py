"""The update pipeline's own rules: replies are an explicit object sent after the commit, and
nothing in a router makes aiogram hop to a thread."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram import Bot
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.app import OFFLINE_TOKEN, build_dispatcher
from bot.clock import FrozenClock
from bot.config import Settings
from bot.telegram.local_session import LocalSession
from bot.telegram.replies import AfterSent, Replies
from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory

USER = User(id=7, is_bot=False, first_name="Nina")
CHAT = Chat(id=7, type="private")


def _message_update() -> Update:
    message = Message(message_id=5, date=datetime.now(UTC), chat=CHAT, from_user=USER, text="x")
    return Update(update_id=1, message=message)


def _press_update() -> Update:
    pressed = Message(message_id=41, date=datetime.now(UTC), chat=CHAT, text="…")
    query = CallbackQuery(id="q1", from_user=USER, chat_instance="c", message=pressed, data="d")
    return Update(update_id=2, callback_query=query)


def _bot() -> tuple[Bot, LocalSession]:
    session = LocalSession()
    return Bot(OFFLINE_TOKEN, session=session), session


async def test_replies_are_sent_only_when_flushed_and_in_the_order_written():
    bot, session = _bot()
    replies = Replies(bot, _press_update())
    replies.answer_callback("ok")
    replies.edit("new text")
    replies.answer("below")
    assert session.requests == []
    await replies.flush()
    sent = session.requests
    assert [type(r) for r in sent] == [AnswerCallbackQuery, EditMessageText, SendMessage]
    assert sent[1].message_id == 41 and sent[1].chat_id == 7
    assert sent[2].chat_id == 7
    await replies.flush()  # flushed replies are not sent twice
    assert len(session.requests) == 3


async def test_a_button_answer_is_cut_to_what_telegram_takes_counting_utf16_units():
    bot, session = _bot()
    replies = Replies(bot, _press_update())
    replies.answer_callback("⚠️ " + "🙂" * 150, show_alert=True)  # 303 UTF-16 units
    await replies.flush()
    text = session.requests[0].text
    assert len(text.encode("utf-16-le")) // 2 <= 200
    assert text.startswith("⚠️ 🙂") and "\ufffd" not in text
    assert session.violations == []


async def test_discarded_replies_are_never_sent():
    bot, session = _bot()
    replies = Replies(bot, _message_update())
    replies.answer("saved!")
    replies.discard()
    await replies.flush()
    assert session.requests == []


async def test_a_long_answer_is_split_with_the_buttons_under_the_last_part():
    bot, session = _bot()
    replies = Replies(bot, _message_update())
    b = InlineKeyboardBuilder()
    b.button(text="go", callback_data="go")
    replies.answer("\n".join(["line " * 50] * 40), b.as_markup())
    await replies.flush()
    parts = session.sent(SendMessage)
    assert len(parts) > 1 and session.violations == []
    assert [p.reply_markup is not None for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_an_undeliverable_reply_does_not_stop_the_next_ones(caplog):
    bot, session = _bot()
    session.fail_next(403, "Forbidden: bot was blocked by the user", method=SendMessage)
    replies = Replies(bot, _message_update())
    replies.answer("first")
    replies.answer("second")
    await replies.flush()
    assert [r.text for r in session.sent(SendMessage)] == ["first", "second"]
    assert "not delivered" in caplog.text


async def test_a_step_after_sending_gets_the_message_telegram_created_or_none():
    bot, session = _bot()
    replies = Replies(bot, _message_update())

    async def step(_after: AfterSent) -> None:
        return None

    session.fail_next(403, "Forbidden: bot was blocked by the user", method=SendMessage)
    replies.answer("refused", then=step)
    replies.answer("a" * 5000, then=step)  # two parts: the step follows the last one
    assert session.requests == []  # nothing leaves before the flush
    await replies.flush()
    [(refused, first), (message, second)] = replies.delivered
    assert first is step and second is step and refused is None
    assert isinstance(message, Message) and message.text == session.sent(SendMessage)[-1].text
    # A discarded reply's step is forgotten with it.
    dropped = Replies(bot, _message_update())
    dropped.answer("never", then=step)
    dropped.discard()
    await dropped.flush()
    assert dropped.delivered == []


async def test_a_typed_message_has_no_pressed_message_to_edit():
    bot, _session = _bot()
    replies = Replies(bot, _message_update())
    with pytest.raises(RuntimeError):
        replies.edit("text")
    with pytest.raises(RuntimeError):
        replies.answer_callback()


async def test_no_filter_or_handler_makes_aiogram_hop_to_a_thread(
    settings: Settings, clock: FrozenClock
):
    """aiogram runs a non-coroutine filter or handler through asyncio.to_thread (a ~0.1 ms hop
    per check): every one in every router must be awaited directly."""
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        dispatcher = build_dispatcher(
            settings, UnitOfWorkFactory(create_session_factory(engine)), clock
        )
        threaded: list[str] = []
        for router in dispatcher.chain_tail:
            for name, observer in router.observers.items():
                # The observer's own HandlerObject is a placeholder holding router-wide filters
                # (`router.message.filter(...)`); only those filters are ever called.
                checked = list(observer._handler.filters or [])
                for handler in getattr(observer, "handlers", []):
                    checked += [handler, *(handler.filters or [])]
                threaded += [
                    f"{router.name}.{name}: {c.callback!r}" for c in checked if not c.awaitable
                ]
        assert threaded == []
    finally:
        await engine.dispose()
