"""`/import` and a table sent as a file (owner): mapping buttons, then the import itself.

How a long import shows progress although replies wait for the commit
-----------------------------------------------------------------------
The import runs inside the unit of work of the update that pressed «Import» (or «Skip» /
«Merge»), and no second unit of work is opened inside the first (SQLite's write gate would wait
on itself). On PostgreSQL the whole file is that one transaction: a failure anywhere leaves the
base as it was, and other updates proceed meanwhile (the team row is not locked); the import
takes an advisory lock per team, so two imports of one team never interleave. On SQLite, which
has one writer, the service hands the write gate on while it checks rows and commits each batch
of rows on its own (`UnitOfWork.paused`), so other members are answered during a long import;
a failure or a shutdown deletes the batches already committed before it is reported, and one
import per team at a time is kept by a lock of the process (bot/services/importing/service.py).
Replies wait for the update's commit (bot/telegram/replies.py), which is right for the final
report — it must not claim rows that were rolled back — but would hide progress. So the button
answer and the progress edits are the documented exception, sent at once
(`replies.answer_callback_now`, `ProgressMessage`): they say nothing about saved data, only
"working on it". The report and the last edit are ordinary replies and leave after the commit.
A failure is caught here, rolled back explicitly and reported on the progress message; the
update then commits nothing but the cleared state.
Reading a file (the download, then the parse in a worker process: bot/services/importing/
worker.py) happens with the unit of work paused (`UnitOfWork.paused`), so nobody waits for it;
the rows read at preview are what «Import» writes. A second press of the same button (a double
tap read the state before the first run cleared it) finds the first run's audit row once it
gets the team's import lock and is told the file is already imported. A shutdown that cancels a
long import tells the owner on the progress message that nothing was saved.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InaccessibleMessage, Message

from bot.clock import Clock
from bot.errors import ErrorCode
from bot.i18n import _
from bot.parsing.errors import ParseError
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.importing.mapping import FIELDS, SKIP
from bot.services.importing.service import DuplicatePolicy
from bot.telegram.callbacks import ImportAct, ImportAction
from bot.telegram.error_texts import error_text
from bot.telegram.filters import has_document, has_photo
from bot.telegram.replies import Replies
from bot.telegram.views import importing as texts
from bot.telegram_limits import MB
from storage.enums import Role

log = logging.getLogger(__name__)
# How long a cancelled import may spend telling the owner so: shutdown is waiting.
CANCELLED_NOTICE_SECONDS = 3.0


class ImportSteps(StatesGroup):
    mapping = State()


class ProgressMessage:
    """Edits one message with the import's progress at most every `interval` seconds by the
    injected clock (Telegram limits edits; tests drive the clock). The edits go to Telegram at
    once, not with the update's replies after the commit: the documented exception."""

    def __init__(
        self, bot: Bot, chat_id: int, message_id: int, clock: Clock, interval: float
    ) -> None:
        self._bot, self._chat_id, self._message_id = bot, chat_id, message_id
        self._clock, self._interval = clock, interval
        self._last: datetime | None = None
        self.edits = 0

    async def show(self, text: str) -> None:
        try:
            await self._bot.edit_message_text(
                text=text, chat_id=self._chat_id, message_id=self._message_id
            )
            self.edits += 1
        except TelegramAPIError as exc:
            # Progress is cosmetic: a failed edit must not stop the import.
            log.warning("import progress not shown: %s", type(exc).__name__)

    async def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock.now()
        if self._last is not None and (now - self._last).total_seconds() < self._interval:
            return
        self._last = now
        await self.show(texts.progress_text(stage, done, total))


async def _download(bot: Bot, file_id: str) -> bytes:
    try:
        stream = await bot.download(file_id)
    except TelegramAPIError as exc:
        raise DomainError(ErrorCode.IMPORT_DOWNLOAD_FAILED) from exc
    if stream is None:
        raise DomainError(ErrorCode.IMPORT_DOWNLOAD_FAILED)
    return stream.read()


async def import_command(
    message: Message, actor: Actor, services: Services, replies: Replies
) -> None:
    services.imports.ensure_owner(actor)
    limits = services.limits
    replies.answer(texts.import_help_text(limits.import_max_bytes // MB, limits.import_max_rows))


async def document_received(
    message: Message,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    document = message.document
    assert document is not None
    imports = services.imports
    # Refused from what Telegram says about the file, before downloading a byte of it.
    imports.check_upload(actor, document.file_name, document.file_size)
    earlier = await state.get_data()
    if isinstance(earlier.get("tok"), str):
        imports.discard(actor, earlier["tok"])  # a new file replaces a preview left unanswered
    tok = secrets.token_hex(3)
    # Downloading and reading take seconds (the file is read in a worker process): meanwhile
    # the database is free for others. Nothing of the import is written before this point.
    async with services.database_released():
        content = await _download(bot, document.file_id)
        preview = await imports.preview(actor, document.file_name, content, tok)
    file_name = document.file_name or "table"
    await state.set_state(ImportSteps.mapping)
    await state.set_data(
        {
            "tok": tok,
            "file_id": document.file_id,
            "file_name": file_name,
            "headers": preview.headers,
            "mapping": preview.mapping,
            "rows": preview.rows,
            "mgr": actor.member.id,
            "mgr_name": actor.member.full_name,
        }
    )
    text, markup = texts.mapping_view(
        tok, file_name, preview.rows, preview.headers, preview.mapping, actor.member.full_name
    )
    replies.answer(text, reply_markup=markup)


async def _owner(message: Message, actor: Actor) -> bool:
    return actor.member.role == Role.OWNER


async def photo_received(message: Message, replies: Replies) -> None:
    """An owner who sends a photo of a table means to import it; others' photos are not
    about import at all and get the general hint."""
    replies.answer(texts.photo_hint_text())


async def _draft(
    button: ImportAction, actor: Actor, services: Services, state: FSMContext
) -> dict[str, Any]:
    """The import in progress this button belongs to; an older file's button, or one pressed
    after the import ended, gets «expired»."""
    services.imports.ensure_owner(actor)
    data = await state.get_data()
    if await state.get_state() != ImportSteps.mapping.state or data.get("tok") != button.tok:
        raise DomainError(ErrorCode.IMPORT_EXPIRED)
    return data


def _column(button: ImportAction, data: dict[str, Any]) -> int:
    if not 0 <= button.col < len(data["headers"]):
        raise DomainError(ErrorCode.IMPORT_EXPIRED)
    return button.col


def _show_mapping(replies: Replies, tok: str, data: dict[str, Any], mapping: list[str]) -> None:
    replies.answer_callback()
    replies.edit(
        *texts.mapping_view(
            tok,
            data["file_name"],
            data["rows"],
            list(data["headers"]),
            mapping,
            data.get("mgr_name"),
        )
    )


async def choose_column(
    query: CallbackQuery,
    callback_data: ImportAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await _draft(callback_data, actor, services, state)
    col = _column(callback_data, data)
    replies.answer_callback()
    replies.edit(
        texts.field_choice_text(data["headers"][col], col),
        texts.field_keyboard(callback_data.tok, col, data["mapping"][col]),
    )


async def set_field(
    query: CallbackQuery,
    callback_data: ImportAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await _draft(callback_data, actor, services, state)
    col = _column(callback_data, data)
    field = SKIP if callback_data.fld == "-" else callback_data.fld
    if field not in FIELDS and field != SKIP:
        raise DomainError(ErrorCode.IMPORT_EXPIRED)
    mapping: list[str] = list(data["mapping"])
    mapping[col] = field
    await state.update_data(mapping=mapping)
    _show_mapping(replies, callback_data.tok, data, mapping)


async def back_to_mapping(
    query: CallbackQuery,
    callback_data: ImportAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await _draft(callback_data, actor, services, state)
    _show_mapping(replies, callback_data.tok, data, list(data["mapping"]))


async def next_manager(
    query: CallbackQuery,
    callback_data: ImportAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    """The next active member in turn takes the rows whose manager cell is empty."""
    data = await _draft(callback_data, actor, services, state)
    managers = await services.imports.managers(actor)
    ids = [m.id for m in managers]
    current = data.get("mgr")
    chosen = managers[(ids.index(current) + 1) % len(ids) if current in ids else 0]
    data["mgr"], data["mgr_name"] = chosen.id, chosen.full_name
    await state.update_data(mgr=chosen.id, mgr_name=chosen.full_name)
    _show_mapping(replies, callback_data.tok, data, list(data["mapping"]))


async def cancel_import(
    query: CallbackQuery,
    callback_data: ImportAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    await _draft(callback_data, actor, services, state)
    services.imports.discard(actor, callback_data.tok)
    await state.clear()
    replies.answer_callback()
    replies.edit(_("Import cancelled. Nothing was saved."))


# «Import» first asks about duplicates when there are any; «Skip» and «Merge» answer that.
POLICIES = {
    ImportAct.GO: DuplicatePolicy.ASK,
    ImportAct.SKIP: DuplicatePolicy.SKIP,
    ImportAct.MERGE: DuplicatePolicy.MERGE,
}


async def start_import(
    query: CallbackQuery,
    callback_data: ImportAction,
    message: Message | InaccessibleMessage,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await _draft(callback_data, actor, services, state)
    policy = POLICIES[callback_data.act]
    await _run_import(replies, bot, message, actor, services, state, data, policy)


async def _run_import(
    replies: Replies,
    bot: Bot,
    pressed: Message | InaccessibleMessage,
    actor: Actor,
    services: Services,
    state: FSMContext,
    data: dict[str, object],
    policy: DuplicatePolicy,
) -> None:
    # The pressed message (the mapping) becomes the progress message.
    progress = ProgressMessage(
        bot,
        pressed.chat.id,
        pressed.message_id,
        services.clock,
        services.limits.import_progress_seconds,
    )
    # Answered now: the import may take a minute, Telegram's spinner does not wait that long.
    await replies.answer_callback_now(_("Importing…"))
    await progress.show(texts.progress_text("read", 0, 0))
    tok = str(data["tok"])
    try:
        if not services.imports.has_parsed(actor, tok):
            # The rows read at preview are not here (another instance, or they expired): the
            # file is read again, once, before anything is written.
            async with services.database_released():
                content = await _download(bot, str(data["file_id"]))
                await services.imports.preview(actor, str(data["file_name"]), content, tok)
        result = await services.imports.run(
            actor,
            tok,
            list(data["headers"]),  # type: ignore[call-overload]
            list(data["mapping"]),  # type: ignore[call-overload]
            policy,
            progress,
            default_manager_id=manager if isinstance(manager := data.get("mgr"), int) else None,
        )
    except asyncio.CancelledError:
        # Shutdown: the transaction is rolled back by the unit of work; without a word the
        # owner would look at "Importing…" forever. Best effort and short, then cancelled.
        try:
            await asyncio.wait_for(
                progress.show(texts.interrupted_text()), timeout=CANCELLED_NOTICE_SECONDS
            )
        except Exception:  # a timeout or a network error: the cancellation goes on anyway
            log.warning("import cancellation not shown")
        raise
    except Exception as exc:
        # Nothing of the file stays: the transaction is rolled back here rather than by the
        # middleware, because the button was already answered and the failure is told on the
        # progress message instead.
        await services.discard_changes()
        if isinstance(exc, DomainError | ParseError):
            text = error_text(exc.code, exc.params)
        else:
            log.exception("import failed: %s", type(exc).__name__)
            text = _("The import failed and nothing was saved. Please try again.")
        services.imports.discard(actor, tok)
        await state.clear()
        await progress.show(text)
        return
    if result.needs_choice:
        replies.edit(texts.duplicates_text(result), texts.duplicates_keyboard(tok))
        return
    services.imports.discard(actor, tok)
    await state.clear()
    replies.edit(_("✅ Import finished."))
    listed = services.limits.import_problems_listed
    replies.answer(texts.report_text(result, listed))
    if len(result.problems) > listed:
        replies.document(
            BufferedInputFile(texts.problems_csv(result), filename="import-problems.csv")
        )


def build_router() -> Router:
    router = Router(name="importing")
    router.message.register(import_command, Command("import"))
    router.message.register(document_received, has_document)
    router.message.register(photo_received, has_photo, _owner)
    steps = {
        ImportAct.COL: choose_column,
        ImportAct.SET: set_field,
        ImportAct.BACK: back_to_mapping,
        ImportAct.MGR: next_manager,
        ImportAct.STOP: cancel_import,
    }
    for act, handler in steps.items():
        router.callback_query.register(handler, ImportAction.filter(F.act == act))
    router.callback_query.register(start_import, ImportAction.filter(F.act.in_(POLICIES)))
    return router
