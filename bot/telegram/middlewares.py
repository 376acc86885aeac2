"""Per-update plumbing: one unit of work, the acting member, their language, and polite errors."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import _, pick_language, set_locale
from bot.metrics import Metrics
from bot.parsing.errors import ParseError
from bot.services.context import Actor, ConversationEraser
from bot.services.errors import DomainError
from bot.services.hub import ServiceParts
from bot.services.importing.worker import FileWorkers
from bot.telegram.error_texts import error_text
from bot.telegram.fsm_storage import TransactionalFSMMiddleware
from bot.telegram.replies import Replies
from storage.db import is_unavailable
from storage.dto import MemberDTO, TeamDTO
from storage.repositories.sent_messages import SentMessageDTO
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
update_log = logging.getLogger("bot.updates")
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})")
_CALLBACK_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
# First pause before an update is retried after a transient database error; doubles each time.
RETRY_BACKOFF_SECONDS = 0.5


@dataclass
class UpdateTrace:
    """What one update's log line reports; the inner middlewares fill in what they learn."""

    outcome: str = "ok"
    member_id: int | None = None


class UpdateLogMiddleware(BaseMiddleware):
    """One INFO line per update: id, type, command name, member id, time, outcome.

    Never the text: command arguments, names, phones and notes are clients' personal data.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics or Metrics()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        trace = data["update_trace"] = UpdateTrace()
        started = time.perf_counter()
        self._metrics.in_flight += 1
        try:
            return await handler(event, data)
        except BaseException:
            trace.outcome = "error"
            raise
        finally:
            self._metrics.in_flight -= 1
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._metrics.count_update(trace.outcome)
            try:
                kind = event.event_type
            except Exception:  # an update type newer than this aiogram knows
                kind = "unknown"
            command = command_name(event)
            update_log.info(
                "update %s %s%s %s in %.1f ms",
                event.update_id,
                kind,
                f" {command}" if command else "",
                trace.outcome,
                elapsed_ms,
                extra={
                    "update_id": event.update_id,
                    "update_type": kind,
                    "command": command,
                    "member_id": trace.member_id,
                    "duration_ms": round(elapsed_ms, 1),
                    "outcome": trace.outcome,
                },
            )


def command_name(update: Update) -> str | None:
    """`/call` for "/call Ivanov tomorrow", `cb:done` for a button's data "done:42"; None for
    plain text (which is personal data and is not logged)."""
    if update.message is not None and update.message.text:
        match = _COMMAND.match(update.message.text)
        return f"/{match.group(1).lower()}" if match else None
    if update.callback_query is not None and update.callback_query.data:
        match = _CALLBACK_PREFIX.match(update.callback_query.data)
        return f"cb:{match.group(0)}" if match else "cb"
    return None


class UnitOfWorkMiddleware(BaseMiddleware):
    """Everything one update writes commits together, or not at all."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        settings: Settings,
        *,
        dedup_updates: bool = False,
        metrics: Metrics | None = None,
        conversations: ConversationEraser | None = None,
        files: FileWorkers | None = None,
        parts: ServiceParts | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settings = settings
        # Shared with the Mini App's requests when the application passes its own.
        self._parts = parts or ServiceParts(settings, clock, conversations, files)
        # On for updates from Telegram (webhook, polling), whose ids are unique per bot; off for
        # the console and test harnesses, which number their updates from 1 on every start.
        self._dedup = dedup_updates
        self._metrics = metrics or Metrics()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        # Telegram already has its 200 (or its getUpdates offset moved on): an update failing
        # because the database was briefly unavailable would never come again. Retrying it is
        # safe: the attempt rolled back everything, the dedup row included, and its replies
        # were not sent yet. Off without dedup (console, harnesses), which never retry.
        retries = self._settings.update_db_retries if self._dedup else 0
        for attempt in range(retries + 1):
            try:
                result, replies, failure = await self._attempt(handler, event, data)
                break
            except Exception as exc:
                if attempt >= retries or not is_unavailable(exc):
                    if is_unavailable(exc) and retries:
                        log.error(
                            "update %s failed after %d attempts: database unavailable (%s)",
                            event.update_id,
                            attempt + 1,
                            type(exc).__name__,
                        )
                    raise
                self._metrics.updates_retried += 1
                log.warning(
                    "update %s: database unavailable (%s), retrying",
                    event.update_id,
                    type(exc).__name__,
                )
                await asyncio.sleep(RETRY_BACKOFF_SECONDS * 2**attempt)
        # The transaction is over (and SQLite's write gate released) before Telegram is called;
        # a failure from here on is Telegram's, never retried (the update is already committed).
        await replies.flush()
        if replies.sent:
            await self._remember_sent(replies, data.get("actor"))
        if failure is not None:
            refusal = Replies(data["bot"], event)
            _refuse(refusal, event, error_text(failure.code, failure.params))
            await refusal.flush()
        return result

    async def _remember_sent(self, replies: Replies, actor: Actor | None) -> None:
        """Which clients the cards just sent are about: only Telegram knew their ids, after the
        commit. Its own short transaction; if it fails, a reply to such a card falls back to
        the card's buttons (handlers/reply_log.py), so it is logged, never raised."""
        if actor is None:
            return
        now = self._clock.now()
        team_id, member_id = actor.team.id, actor.member.id
        rows = [
            SentMessageDTO(chat, message_id, team_id, member_id, a.kind, a.client_ids, now)
            for chat, message_id, a in replies.sent
        ]
        try:
            # One statement per card, each standing alone: no BEGIN and COMMIT around it.
            async with self._uow_factory.single_write() as uow:
                await uow.sent_messages.record(rows)
                await uow.commit()
        except Exception as exc:
            log.warning("sent messages not recorded: %s", type(exc).__name__)

    async def _attempt(
        self, handler: Handler, event: Update, data: dict[str, Any]
    ) -> tuple[Any, Replies, DomainError | ParseError | None]:
        """One try in one transaction; what it said is returned unsent, to send after it."""
        replies = data["replies"] = Replies(data["bot"], event)
        failure: DomainError | ParseError | None = None
        result: Any = None
        trace: UpdateTrace = data.get("update_trace") or UpdateTrace()
        user = data.get("event_from_user")
        # Until the member is read (the database may be what fails), answer in Telegram's
        # language of the sender.
        set_locale(
            pick_language(
                user.language_code if user else None, default=self._settings.default_language
            )
        )
        async with self._uow_factory() as uow:
            # Duplicate deliveries: the update id is recorded in the update's own
            # transaction, so it is taken exactly when the update's effects are committed.
            # A handler that crashes rolls the id back with everything else and a redelivery
            # is handled afresh (at-least-once for failures, once for successes). On
            # PostgreSQL a second instance that receives the same id meanwhile waits on the
            # row lock, then skips it. Answering the webhook early is what makes Telegram
            # not redeliver; this table catches its retries, polling restarts and replicas.
            if self._dedup and not await uow.updates.claim(event.update_id, self._clock.now()):
                trace.outcome = "duplicate"
                return None, replies, None
            await self._prepare(uow, data)
            actor = data.get("actor")
            trace.member_id = actor.member.id if actor is not None else None
            # The FSM middleware, next in the chain, joins the conversation state to it.
            data["uow"] = uow
            try:
                result = await handler(event, data)
            except (DomainError, ParseError) as exc:
                await uow.rollback()
                replies.discard()
                failure = exc
                trace.outcome = "refused"
                if self._dedup:
                    # Nothing else is kept, but the polite refusal is not repeated.
                    await uow.updates.claim(event.update_id, self._clock.now())
                    await uow.commit()
            else:
                await uow.commit()
            finally:
                del data["uow"]
        return result, replies, failure

    async def _prepare(self, uow: UnitOfWork, data: dict[str, Any]) -> None:
        services = data["services"] = self._parts.services(uow)
        data["settings"] = self._settings
        user = data.get("event_from_user")
        actor: Actor | None = None
        found: tuple[MemberDTO, TeamDTO] | None = None
        if user is not None:
            fsm = getattr(data.get("dispatcher"), "fsm", None)
            conversation = (
                fsm.conversation_row(data) if isinstance(fsm, TransactionalFSMMiddleware) else None
            )
            if conversation is None:
                found = await uow.members.with_team(user.id)
            else:
                # The conversation state comes along: the FSM middleware finds it in the cache.
                with_state = await uow.members.with_team_and_conversation(user.id, conversation)
                found = None
                if with_state is not None:
                    found = with_state[:2]
                    uow.fsm_cache[conversation] = with_state[2]
            actor = await services.enter(found, user.language_code)
        data["actor"] = actor
        # A removed member is told their access is closed, not treated as a stranger.
        data["access_closed"] = actor is None and found is not None and not found[0].is_active
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
        if data.get("access_closed"):
            text = _(
                "Your access to this team has been closed. Ask the owner if this is a mistake."
            )
        replies: Replies = data["replies"]
        if isinstance(event, CallbackQuery):
            replies.answer_callback(text, show_alert=True)
        elif isinstance(event, Message) and event.chat.type == "private":
            replies.answer(text)
        return None


def _refuse(replies: Replies, update: Update, text: str) -> None:
    """A service's or parser's refusal, worded for the member."""
    if update.message is not None:
        replies.answer(text)
    elif update.callback_query is not None:
        # Alerts are plain text: strip the HTML the shared error texts use.
        plain = text.replace("<code>", "«").replace("</code>", "»").replace("&lt;", "<")
        replies.answer_callback(plain.replace("&gt;", ">"), show_alert=True)
