"""Drive the real Dispatcher with Update objects and read what the bot sent."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
)
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Application, Overrides, build
from bot.clock import FrozenClock
from bot.config import Settings
from bot.telegram.local_session import LocalSession


@dataclass
class Person:
    id: int
    first_name: str
    language: str = "en"


@dataclass
class Reply:
    text: str
    markup: InlineKeyboardMarkup | None
    message_id: int | None = None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        if self.markup is None:
            return []
        return [(b.text, b.callback_data or "") for row in self.markup.inline_keyboard for b in row]


@dataclass
class BotHarness:
    app: Application
    session: LocalSession
    clock: FrozenClock
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine, clock: FrozenClock) -> BotHarness:
        session = LocalSession()
        overrides = Overrides(clock=clock, session=session, engine=engine, dedup_updates=False)
        app = build(settings, overrides)
        return cls(app=app, session=session, clock=clock)

    @property
    def uow_factory(self):  # type: ignore[no-untyped-def]
        return self.app.uow_factory

    def _user(self, person: Person) -> User:
        return User(
            id=person.id,
            is_bot=False,
            first_name=person.first_name,
            language_code=person.language,
        )

    async def send(
        self, person: Person, text: str, *, chat_type: str = "private", chat_id: int | None = None
    ) -> list[Reply]:
        """Feed one text message; return every message the bot sent or edited in response."""
        self.session.clear()
        message = Message(
            message_id=next(self._ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id or person.id, type=chat_type),
            from_user=self._user(person),
            text=text,
        )
        await self.app.dispatcher.feed_update(
            self.app.bot, Update(update_id=next(self._ids), message=message)
        )
        return self.replies()

    async def press(self, person: Person, data: str, *, message_id: int = 1) -> list[Reply]:
        self.session.clear()
        query = CallbackQuery(
            id=str(next(self._ids)),
            from_user=self._user(person),
            chat_instance="test",
            message=Message(
                message_id=message_id,
                date=datetime.now(UTC),
                chat=Chat(id=person.id, type="private"),
                text="…",
            ),
            data=data,
        )
        await self.app.dispatcher.feed_update(
            self.app.bot, Update(update_id=next(self._ids), callback_query=query)
        )
        return self.replies()

    def replies(self) -> list[Reply]:
        out: list[Reply] = []
        for request in self.session.requests:
            if isinstance(request, SendMessage | EditMessageText):
                markup = (
                    request.reply_markup
                    if isinstance(request.reply_markup, InlineKeyboardMarkup)
                    else None
                )
                out.append(Reply(request.text, markup, getattr(request, "message_id", None)))
        return out

    def alerts(self) -> list[str]:
        return [r.text or "" for r in self.session.sent(AnswerCallbackQuery)]

    def markup_removed(self) -> bool:
        return any(r.reply_markup is None for r in self.session.sent(EditMessageReplyMarkup))

    async def join_owner(self, person: Person) -> None:
        await self.send(person, "/start")

    async def invite_and_join(self, owner: Person, newcomer: Person, role: str = "manager") -> None:
        replies = await self.send(owner, f"/invite {role}")
        link = replies[-1].text.split("start=")[1].split()[0]
        await self.send(newcomer, f"/start {link}")
