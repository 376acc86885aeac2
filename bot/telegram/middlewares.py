"""Per-update plumbing: one unit of work, the acting member, their language, and polite errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import _, pick_language, set_locale
from bot.parsing.errors import ParseError
from bot.services.candidate_cache import CandidateCache
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.portfolio.cache import ReportCache
from bot.telegram.fsm_storage import bound_uow
from bot.telegram.outgoing import OutgoingBuffer
from bot.telegram.outgoing import bind as outgoing_bind
from bot.telegram.outgoing import unbind as outgoing_unbind
from bot.telegram.texts import error_text
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """Everything one update writes commits together, or not at all."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, settings: Settings) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settings = settings
        self._candidates = CandidateCache()
        self._reports = ReportCache(
            settings.analytics.cache_seconds, settings.analytics.cache_entries
        )

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        outgoing = OutgoingBuffer()
        failure: DomainError | ParseError | None = None
        result: Any = None
        outgoing_token = outgoing_bind(outgoing)
        try:
            async with self._uow_factory() as uow:
                await self._prepare(uow, data)
                uow_token = bound_uow.set(uow)
                try:
                    result = await handler(event, data)
                except (DomainError, ParseError) as exc:
                    await uow.rollback()
                    outgoing.discard()
                    failure = exc
                else:
                    await uow.commit()
                finally:
                    bound_uow.reset(uow_token)
        finally:
            outgoing_unbind(outgoing_token)
        # The transaction is over (and SQLite's write gate released) before Telegram is called.
        bot = data["bot"]
        await outgoing.flush(bot)
        if failure is not None:
            await _answer(event, error_text(failure.code, failure.params))
        return result

    async def _prepare(self, uow: UnitOfWork, data: dict[str, Any]) -> None:
        ctx = ServiceContext(
            uow,
            self._clock,
            self._settings.limits,
            self._settings.rules,
            self._candidates,
            self._reports,
        )
        data["services"] = Services(ctx, self._settings)
        data["settings"] = self._settings
        user = data.get("event_from_user")
        actor: Actor | None = None
        if user is not None:
            found = await uow.members.with_team(user.id)
            member, team = found if found is not None else (None, None)
            if member is not None and team is not None and member.is_active:
                if member.unreachable_at is not None:
                    # They wrote to us, so they unblocked the bot: deliveries resume.
                    await uow.members.update(member.team_id, member.id, unreachable_at=None)
                    await uow.outbox.reopen_blocked(member.id, self._clock.now())
                    member = replace(member, unreachable_at=None)
                if user.language_code and user.language_code != member.telegram_language:
                    await uow.members.update(
                        member.team_id, member.id, telegram_language=user.language_code
                    )
                    member = replace(member, telegram_language=user.language_code)
                actor = Actor(member, team)
        data["actor"] = actor
        set_locale(
            pick_language(
                actor.member.language if actor else None,
                user.language_code if user else None,
                actor.member.telegram_language if actor else None,
                default=self._settings.default_language,
            )
        )


class MembersOnlyMiddleware(BaseMiddleware):
    """Strangers may press /start (to found a team or use an invite) and nothing else."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if data.get("actor") is not None:
            return await handler(event, data)
        if isinstance(event, Message) and event.chat.type != "private":
            return await handler(event, data)  # the chat_scope router answers those
        if isinstance(event, Message) and (event.text or "").startswith("/start"):
            return await handler(event, data)
        text = _(
            "This is a private sales assistant of a team. To join, ask the owner "
            "for an invitation link."
        )
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        elif isinstance(event, Message) and event.chat.type == "private":
            await event.answer(text)
        return None


async def _answer(update: Update, text: str) -> None:
    if update.message is not None:
        await update.message.answer(text)
    elif update.callback_query is not None:
        # Alerts are plain text: strip the HTML the shared error texts use.
        plain = text.replace("<code>", "«").replace("</code>", "»").replace("&lt;", "<")
        await update.callback_query.answer(plain.replace("&gt;", ">")[:200], show_alert=True)
