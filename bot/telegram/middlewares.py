"""Per-update plumbing: one unit of work, the acting member, their language, and polite errors."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.clock import Clock
from bot.config import Settings
from bot.errors import ErrorCode
from bot.i18n import _, pick_language, set_locale
from bot.metrics import Metrics
from bot.parsing.errors import ParseError
from bot.services.context import Actor, ConversationEraser
from bot.services.errors import DomainError
from bot.services.hub import ServiceParts
from bot.services.importing.worker import FileWorkers
from bot.telegram.error_texts import error_text
from bot.telegram.fsm_storage import TransactionalFSMMiddleware
from bot.telegram.replies import AfterSent, Replies, Then
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
    # What the `then=` steps after the update's messages did ("ok", "failed", "refused"),
    # in order; they run in units of work of their own, after the update committed.
    after_sent: list[str] = field(default_factory=list)


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
            steps = f" then={','.join(trace.after_sent)}" if trace.after_sent else ""
            update_log.info(
                "update %s %s%s %s%s in %.1f ms",
                event.update_id,
                kind,
                f" {command}" if command else "",
                trace.outcome,
                steps,
                elapsed_ms,
                extra={
                    "update_id": event.update_id,
                    "update_type": kind,
                    "command": command,
                    "member_id": trace.member_id,
                    "duration_ms": round(elapsed_ms, 1),
                    "outcome": trace.outcome,
                    "after_sent": list(trace.after_sent),
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
        for message, then in replies.delivered:
            await self._after_sent(event, data, message, then)
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

    async def _after_sent(
        self, event: Update, data: dict[str, Any], message: Message | None, then: Then
    ) -> None:
        """A `then=` step of a message just sent (bot/telegram/replies.py): one short unit of
        work as the update's own (the member and their conversation state read afresh), its
        replies sent after it commits. The update is committed and answered: a failure here is
        logged, never raised (the error handler would tell the member nothing was saved)."""
        # Its own trace: the step's outcome must not overwrite the update's; the update's log
        # line gets the step's outcome beside its own (`then=`).
        outer: UpdateTrace | None = data.get("update_trace")
        steps = outer.after_sent if outer is not None else []
        own = {**data, "update_trace": UpdateTrace()}
        fsm = getattr(data.get("dispatcher"), "fsm", None)

        async def step(_event: TelegramObject, inner: dict[str, Any]) -> None:
            actor, state = inner.get("actor"), inner.get("state")
            if actor is None or state is None:
                return  # the member left meanwhile: nothing of theirs to record
            await then(AfterSent(message, actor, inner["services"], state, inner["replies"]))

        async def chain(update: TelegramObject, inner: dict[str, Any]) -> None:
            if isinstance(fsm, TransactionalFSMMiddleware):
                await fsm(step, update, inner)
            else:
                await step(update, inner)

        try:
            _result, replies, failure = await self._attempt(chain, event, own, claim=False)
        except Exception as exc:
            steps.append("failed")
            log.warning(
                "update %s: step after a sent message failed: %s",
                event.update_id,
                type(exc).__name__,
            )
            return
        if failure is not None:
            steps.append("refused")
            log.warning(
                "update %s: step after a sent message refused: %s", event.update_id, failure.code
            )
            return
        steps.append("ok")
        log.debug("update %s: step after a sent message done", event.update_id)
        await replies.flush()
        # A step's own message may have a step too (capture sends a refused answer again, once).
        for sent, after in replies.delivered:
            await self._after_sent(event, data, sent, after)

    async def _attempt(
        self, handler: Handler, event: Update, data: dict[str, Any], *, claim: bool = True
    ) -> tuple[Any, Replies, DomainError | ParseError | None]:
        """One try in one transaction; what it said is returned unsent, to send after it.
        `claim=False`: a step after the update's commit, which already holds its id."""
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
            dedup = self._dedup and claim
            if dedup and not await uow.updates.claim(event.update_id, self._clock.now()):
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
                if dedup:
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


class PressedMessageMiddleware(BaseMiddleware):
    """A button press reaches a handler only with the message the button sits on, as
    `message: Message | InaccessibleMessage` in the handler's arguments.

    Telegram sends no message at all with a press under an inline-mode message: there is no
    chat to answer in, and nothing to edit. Such a press is answered here, once for every
    button, and no handler runs.

    An `InaccessibleMessage` (date 0: chat and id, no text) is not refused: Telegram sends one
    for ordinary presses on messages only hours or days old (tdlib/telegram-bot-api#401,
    aiogram#1675). Its chat and id are all a reply needs, and the bot's own message is still
    edited by id; a handler that would read what the message shows falls back to a new
    message (handlers/reminders.py `_summarise`)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        if event.message is not None:
            data["message"] = event.message
            return await handler(event, data)
        replies: Replies = data["replies"]
        replies.answer_callback(_plain(error_text(ErrorCode.PICK_EXPIRED, {})), show_alert=True)
        return None


def _plain(text: str) -> str:
    """Alerts are plain text: the HTML the shared error texts use, spelled out."""
    plain = text.replace("<code>", "«").replace("</code>", "»").replace("&lt;", "<")
    return plain.replace("&gt;", ">")


def _refuse(replies: Replies, update: Update, text: str) -> None:
    """A service's or parser's refusal, worded for the member."""
    if update.message is not None:
        replies.answer(text)
    elif update.callback_query is not None:
        replies.answer_callback(_plain(text), show_alert=True)
