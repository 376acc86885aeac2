"""The update pipeline's own rules: replies are an explicit object sent after the commit, and
nothing in a router makes aiogram hop to a thread."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    Document,
    Message,
    MessageOriginHiddenUser,
    PhotoSize,
    Update,
    User,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.app import OFFLINE_TOKEN, build_dispatcher
from bot.clock import FrozenClock
from bot.config import Settings
from bot.telegram.local_session import LocalSession
from bot.telegram.replies import AfterSent, Replies
from bot.telegram.routing import LeanDispatcher
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


def _corpus(dispatcher: Dispatcher) -> list[Message | CallbackQuery]:
    """Messages naming every command the routers know (as typed, in capitals, with a mention,
    as a caption, bare), plain text and none; presses with every callback prefix and others."""
    commands: set[str] = {"unknown", "", "Call"}
    prefixes: set[str] = {"zz", ""}
    for router in dispatcher.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for f in handler.filters or []:
                    if isinstance(f.callback, Command):
                        commands.update(c for c in f.callback.commands if isinstance(c, str))
                    if isinstance(f.callback, CallbackQueryFilter):
                        prefixes.add(f.callback.callback_data.__prefix__)
    date = datetime.now(UTC)
    events: list[Message | CallbackQuery] = []
    for text in ["hello", "  ", "/", "//call x", "Ivanov done", "/start card_5"]:
        events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER, text=text))
    events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER))
    group = Chat(id=-5, type="group")
    events.append(Message(message_id=1, date=date, chat=group, from_user=USER, text="/call x"))
    events.append(Message(message_id=1, date=date, chat=group, from_user=USER, text="hi"))
    document = Document(file_id="f", file_unique_id="u", file_name="base.xlsx")
    events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER, document=document))
    photo = [PhotoSize(file_id="p", file_unique_id="pu", width=1, height=1)]
    events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER, photo=photo))
    contact = Contact(phone_number="+79990001122", first_name="Anna")
    events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER, contact=contact))
    origin = MessageOriginHiddenUser(date=date, sender_user_name="Anna")
    for forwarded in ({"text": "hello"}, {"document": document}, {"text": "/call x"}):
        events.append(
            Message(
                message_id=1,
                date=date,
                chat=CHAT,
                from_user=USER,
                forward_origin=origin,
                **forwarded,  # type: ignore[arg-type]
            )
        )
    for command in sorted(commands):
        for text in [
            f"/{command}",
            f"/{command} Ivanov done",
            f"/{command.upper()} x",
            f"/{command}@salesbot x",
            f"/{command}@other x",
            f"  /{command}\nx",
        ]:
            events.append(Message(message_id=1, date=date, chat=CHAT, from_user=USER, text=text))
        events.append(
            Message(message_id=1, date=date, chat=CHAT, from_user=USER, caption=f"/{command} x")
        )
    for prefix in sorted(prefixes):
        for data in [prefix, f"{prefix}:1", f"{prefix}:done:1:2", f"{prefix}x:1"]:
            events.append(
                CallbackQuery(id="q", from_user=USER, chat_instance="c", message=None, data=data)
            )
    events.append(CallbackQuery(id="q", from_user=USER, chat_instance="c", data=None))
    return events


async def test_a_router_passed_over_had_no_handler_that_would_take_the_update(
    settings: Settings, clock: FrozenClock
):
    """LeanDispatcher skips a router only where each of its handlers' first filter refuses the
    update: the same handler runs as through aiogram's own Dispatcher."""
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    bot, _session = _bot()
    try:
        dispatcher = build_dispatcher(
            settings, UnitOfWorkFactory(create_session_factory(engine)), clock
        )
        assert isinstance(dispatcher, LeanDispatcher)
        passed_over = 0
        for event in _corpus(dispatcher):
            update_type = "message" if isinstance(event, Message) else "callback_query"
            for router in dispatcher.sub_routers:
                if not await dispatcher._passes_over(router, update_type, event):
                    continue
                passed_over += 1
                for handler in router.observers[update_type].handlers:
                    assert handler.filters, router.name
                    taken = await handler.filters[0].call(event, bot=bot)
                    assert not taken, (router.name, event.text or event.data)  # type: ignore[union-attr]
        # The gate is not idle: most routers are passed over for most of these updates.
        assert passed_over > len(dispatcher.sub_routers) * 50
    finally:
        await engine.dispose()
        await bot.session.close()


async def test_a_filter_or_middleware_added_later_makes_the_router_asked_again():
    """The gates are kept per router; one that gains a router filter or an outer middleware
    after its gate was computed is asked again, not passed over by the stale gate."""
    from aiogram import Router
    from aiogram.filters import Command

    dispatcher = LeanDispatcher()
    router = Router(name="late")

    @router.message(Command("call"))
    async def call(message: Message) -> None: ...

    dispatcher.include_router(router)
    other = Message(
        message_id=1, date=datetime.now(UTC), chat=Chat(id=1, type="private"), text="/note x"
    )
    assert await dispatcher._passes_over(router, "message", other)
    router.message.filter(lambda _m: True)
    assert not await dispatcher._passes_over(router, "message", other)
    fresh = Router(name="late-middleware")
    fresh.message(Command("call"))(call)
    dispatcher.include_router(fresh)
    assert await dispatcher._passes_over(fresh, "message", other)

    async def outer(handler, event, data):  # type: ignore[no-untyped-def]
        return await handler(event, data)

    fresh.message.outer_middleware(outer)
    assert not await dispatcher._passes_over(fresh, "message", other)
