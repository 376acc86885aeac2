"""What a handler says in answer to its update, sent only after the update's transaction commits.

The unit-of-work middleware (bot/telegram/middlewares.py) makes one `Replies` per update and
hands it to the handlers as the `replies` argument. Handlers write to it (`replies.answer(text)`,
`replies.edit(text)`, `replies.answer_callback()`, `replies.document(file)` …); nothing leaves
while the transaction is open. After the commit the middleware calls `flush()`; on a rollback it
drops the replies. So a member is never told "saved" about something rolled back, a failed
cosmetic call cannot undo saved work, and no database lock is held while Telegram is slow.

A handler that needs the real message Telegram creates (to edit it later) still writes it here,
with `then=`: a step the middleware runs once the message is sent (or could not be), in a short
unit of work of its own, given the message (`AfterSent`). It records the id where the next update
finds it; the gate and the transaction are never held during the round trip, and a rolled-back
or retried update sends nothing of its own.

The exception: a handler that must show something *during* a long update asks for it
explicitly: `answer_callback_now()`, or a direct Bot call as the import's progress message does
(handlers/importing.py). Those go out at once and must never claim that data is saved.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import unescape
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message, Update

from bot.telegram.paging import ALERT_LIMIT, cut_plain, split_text

if TYPE_CHECKING:
    from aiogram.fsm.context import FSMContext

    from bot.services.context import Actor
    from bot.services.hub import Services

log = logging.getLogger(__name__)
# A reply answered 429 is retried once if Telegram asks for at most this many seconds (the
# update keeps its webhook slot meanwhile, which slows intake: the backpressure wanted).
REPLY_MAX_RETRY_AFTER = 5


@dataclass(frozen=True, slots=True)
class About:
    """Which clients a message sent in answer is about (a card): once Telegram has created it,
    the middleware records its id, so that a reply to it logs for them (bot/services/reply_log)."""

    kind: str
    client_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AfterSent:
    """What a `then=` step is given: the message as Telegram created it (None: Telegram did not
    take it), and a unit of work of its own, opened after the update's commit and the flush,
    with the member, their conversation state and replies sent after it commits."""

    message: Message | None
    actor: Actor
    services: Services
    state: FSMContext
    replies: Replies


Then = Callable[[AfterSent], Awaitable[None]]


class Replies:
    """The update's outgoing messages, edits and button answers, in the order written."""

    def __init__(self, bot: Bot, update: Update) -> None:
        self._bot = bot
        self._pending: list[TelegramMethod[Any]] = []
        # Messages to remember once sent, by the request's identity; and what was sent of them:
        # (chat id, message id, about).
        self._about: dict[int, About] = {}
        self.sent: list[tuple[int, int, About]] = []
        # Steps to run once a message is sent, by the request's identity; and, after the flush,
        # each with what Telegram created (None: not delivered), in the order written.
        self._then: dict[int, Then] = {}
        self.delivered: list[tuple[Message | None, Then]] = []
        self.chat_id: int | None = None
        # The message a pressed button sits on (None for a typed message).
        self.message_id: int | None = None
        self._query_id: str | None = None
        # What the pressed message shows now, as Telegram sent it back with the press.
        self._pressed_message: Message | None = None
        if update.message is not None:
            self.chat_id = update.message.chat.id
        elif update.callback_query is not None:
            self._query_id = update.callback_query.id
            pressed = update.callback_query.message
            if pressed is not None:
                self.chat_id, self.message_id = pressed.chat.id, pressed.message_id
                if isinstance(pressed, Message):
                    self._pressed_message = pressed
        elif update.my_chat_member is not None:
            self.chat_id = update.my_chat_member.chat.id

    @property
    def pending(self) -> list[TelegramMethod[Any]]:
        """What flush() would send (a copy): for tests and the update log."""
        return list(self._pending)

    # -- buffered: sent after the commit ----------------------------------------------------

    def answer(
        self,
        text: str,
        reply_markup: InlineKeyboardMarkup | None = None,
        *,
        about: About | None = None,
        then: Then | None = None,
    ) -> None:
        """A message in the update's chat; split at line breaks if longer than Telegram takes,
        the buttons under the last part. `about`: the clients it shows, remembered once sent.
        `then`: a step given the (last part's) message once sent, after the commit."""
        self.send(self._chat(), text, reply_markup, about=about, then=then)

    def send(
        self,
        chat_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup | None = None,
        *,
        about: About | None = None,
        then: Then | None = None,
    ) -> None:
        """A message to any chat (an owner told that someone joined)."""
        chunks = split_text(text)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            method = SendMessage(
                chat_id=chat_id, text=chunk, reply_markup=reply_markup if last else None
            )
            if about is not None:
                self._about[id(method)] = about
            if then is not None and last:
                self._then[id(method)] = then
            self.add(method)

    def edit(self, text: str, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """New text (and buttons; none if not given) for the message whose button was pressed.

        Skipped when the message already shows exactly this (a tap on the button of the view on
        screen): Telegram refuses such an edit with "message is not modified"."""
        chat_id, message_id = self._pressed()
        if self._pressed_message is not None and shows(self._pressed_message, text, reply_markup):
            return
        self.add(
            EditMessageText(
                chat_id=chat_id, message_id=message_id, text=text, reply_markup=reply_markup
            )
        )

    def edit_markup(self, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """New buttons for the pressed message; without an argument its buttons go away."""
        chat_id, message_id = self._pressed()
        self.add(
            EditMessageReplyMarkup(
                chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
            )
        )

    def answer_callback(self, text: str | None = None, *, show_alert: bool = False) -> None:
        """Stops the pressed button's spinner, with an optional toast (or alert)."""
        self.add(self._callback_answer(text, show_alert))

    def document(self, file: BufferedInputFile, caption: str | None = None) -> None:
        self.add(SendDocument(chat_id=self._chat(), document=file, caption=caption))

    def photo(self, file: BufferedInputFile, caption: str | None = None) -> None:
        self.add(SendPhoto(chat_id=self._chat(), photo=file, caption=caption))

    def add(self, method: TelegramMethod[Any]) -> None:
        """Any other Bot API request, sent after the commit in its turn."""
        self._pending.append(method)

    # -- at once: the documented exception ----------------------------------------------------

    async def answer_callback_now(self, text: str | None = None) -> None:
        """Stops the spinner at once: a long update would outlast Telegram's patience."""
        await self._bot(self._callback_answer(text, False))

    # -- the middleware's side ----------------------------------------------------------------

    def discard(self) -> None:
        self._pending.clear()
        self._about.clear()
        self._then.clear()

    async def flush(self) -> None:
        """Sends everything written, in order. A reply that fails is logged and skipped: the
        data is saved, and a reply that cannot be delivered must not undo it."""
        methods, self._pending = self._pending, []
        about, self._about = self._about, {}
        then, self._then = self._then, {}
        for method in methods:
            step = then.get(id(method))
            try:
                try:
                    result = await self._bot(method)
                except TelegramRetryAfter as exc:
                    # Replies do not go through the sender's limiter; over Telegram's budget
                    # (a burst of updates) waiting it out once beats losing the answer.
                    if exc.retry_after > REPLY_MAX_RETRY_AFTER:
                        raise
                    await asyncio.sleep(max(exc.retry_after, 1))
                    result = await self._bot(method)
            except TelegramAPIError as exc:
                log.warning("reply %s not delivered: %s", type(method).__name__, type(exc).__name__)
                if step is not None:
                    self.delivered.append((None, step))
                continue
            if step is not None:
                self.delivered.append((result if isinstance(result, Message) else None, step))
            subject = about.get(id(method))
            if subject is not None and isinstance(result, Message):
                self.sent.append((result.chat.id, result.message_id, subject))

    # -- internals ------------------------------------------------------------------------------

    def _chat(self) -> int:
        if self.chat_id is None:
            raise RuntimeError("this update has no chat to answer in")
        return self.chat_id

    def _pressed(self) -> tuple[int, int]:
        if self.chat_id is None or self.message_id is None:
            raise RuntimeError("only a button press has a message to edit")
        return self.chat_id, self.message_id

    def _callback_answer(self, text: str | None, show_alert: bool) -> AnswerCallbackQuery:
        if self._query_id is None:
            raise RuntimeError("only a button press can be answered")
        # None, not False, when not asked: the request is then exactly what aiogram's
        # `CallbackQuery.answer()` sends.
        # Telegram refuses a longer button answer, and the member would get nothing.
        if text is not None:
            text = cut_plain(text, ALERT_LIMIT)
        return AnswerCallbackQuery(
            callback_query_id=self._query_id, text=text, show_alert=show_alert or None
        )


_TAG = re.compile(r"<[^>]+>")


def shows(message: Message, html: str, markup: InlineKeyboardMarkup | None) -> bool:
    """Whether the message already has this text and these buttons (Telegram hands the text
    back without the HTML; the same view has the same markup, so the visible text decides)."""
    current = message.text if message.text is not None else message.caption
    if current is None or current.strip() != unescape(_TAG.sub("", html)).strip():
        return False
    if markup is None or message.reply_markup is None:
        return markup is None and message.reply_markup is None
    return message.reply_markup.model_dump(exclude_none=True) == markup.model_dump(
        exclude_none=True
    )
