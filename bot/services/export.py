"""`/export`: the team's clients (all, a manager's, a segment or #tag) to XLSX or CSV, with their
activities on request. Owner, or a member the owner granted it; audited; the owners hear about
anyone else's export.

Rows are read from the database in chunks on the event loop and handed through a small bounded
queue to the file writer, which runs in a worker thread: the loop keeps serving other members
while a 100,000-row file is built, and only a few chunks are in memory at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.errors import ErrorCode
from bot.fields import EXPORTED, Kind
from bot.parsing.data_rights import CSV, ExportRequest
from bot.services.access import manager_scope, require_role
from bot.services.alerts import alert_owners
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.gc_pause import full_collections_deferred
from bot.services.tabular import Cell, Sheet, write_csv, write_xlsx
from bot.services.team import find_member
from bot.services.watch import note_viewing
from bot.telegram_limits import MB
from storage.dto import MemberDTO
from storage.enums import Role
from storage.repositories.export import ActivityExportRow, ClientExportRow, ExportFilter

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExportLabels:
    """The words of the file, in the exporter's language (services do not translate)."""

    client_sheet: str
    activity_sheet: str
    client_headers: Sequence[str]
    activity_headers: Sequence[str]
    value: Callable[[str, str], str]  # (field, stored value) -> what the file shows
    file_prefix: str = "clients"
    activity_prefix: str = "activities"


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: list[ExportFile]
    clients: int
    activities: int
    scope: str  # all | manager | segment | tag
    scope_value: str | None


def may_export(actor: Actor) -> bool:
    return actor.member.role == Role.OWNER or actor.member.can_export


class _Feed:
    """Chunks from the event loop to the writer thread; bounded, so memory stays flat.

    The queue is an asyncio one: the loop hands a chunk over without any thread of its own (a
    pool thread per handover deadlocked once every pool thread was a writer waiting for data),
    and the writer, in its own thread, asks the loop for the next chunk."""

    _END = object()
    # A writer left waiting this long has lost its producer (a cancelled update): it gives up.
    WAIT_SECONDS = 300.0

    def __init__(self, convert: Callable[[Any], Sequence[Cell]]) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)
        self._convert = convert

    def rows(self) -> Iterator[Sequence[Cell]]:
        while True:
            pending = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
            item = pending.result(self.WAIT_SECONDS)
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            for row in item:
                yield self._convert(row)

    async def put(self, item: Any, writer: asyncio.Future[Any]) -> None:
        if writer.done():
            return  # the writer failed: nobody will take the chunk
        handover = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({handover, writer}, return_when=asyncio.FIRST_COMPLETED)
        if not handover.done():
            handover.cancel()

    async def close(self, writer: asyncio.Future[Any]) -> None:
        await self.put(self._END, writer)

    async def abort(self, exc: BaseException, writer: asyncio.Future[Any]) -> None:
        await self.put(exc, writer)


def _start_writer(write: Callable[[], T]) -> asyncio.Future[T]:
    """Run the file writer in a thread of its own, never the loop's shared pool: however many
    exports run at once, none waits for a pool thread that another export's writer holds."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    # The labels translate in the exporter's language, which lives in a context variable: the
    # thread runs in a copy of the caller's context, as asyncio.to_thread did.
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(write)
        except BaseException as exc:  # handed to the awaiting coroutine, which reports it
            error = exc
        # A closed loop: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="export-writer", daemon=True).start()
    return future


async def _finish(writer: asyncio.Future[T]) -> T:
    """The writer's result; its failure is logged and answered politely, not lost."""
    try:
        return await writer
    except Exception as exc:
        log.exception("export writer failed")
        raise DomainError(ErrorCode.EXPORT_FAILED) from exc


async def _pump(chunks: AsyncIterator[list[T]], feed: _Feed, writer: asyncio.Future[Any]) -> int:
    count = 0
    try:
        async for chunk in chunks:
            count += len(chunk)
            await feed.put(chunk, writer)
    except BaseException as exc:
        await feed.abort(RuntimeError("export aborted"), writer)
        # The writer stops on the abort; its own error is the echo of ours, retrieved here so
        # it is not reported as "never retrieved".
        await asyncio.gather(writer, return_exceptions=True)
        raise exc
    await feed.close(writer)
    return count


class ExportService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def set_grant(self, actor: Actor, member_name: str, allowed: bool) -> MemberDTO:
        require_role(actor, Role.OWNER)
        member = await find_member(self._ctx, actor.team.id, member_name)
        if member.role == Role.OWNER:
            raise DomainError(ErrorCode.GRANT_OWNER, name=member.full_name)
        await self._ctx.uow.members.update(actor.team.id, member.id, can_export=allowed)
        await self._ctx.uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="grant_export" if allowed else "revoke_export",
            now=self._ctx.now(),
            details={"member": member.full_name, "member_id": member.id},
        )
        return member

    async def export(
        self, actor: Actor, request: ExportRequest, labels: ExportLabels
    ) -> ExportResult:
        # The writer thread builds objects for every cell: a full garbage collection among
        # them held the event loop 100-250 ms (bench/loop_stall.py's measure); it waits.
        with full_collections_deferred():
            return await self._export(actor, request, labels)

    async def _export(
        self, actor: Actor, request: ExportRequest, labels: ExportLabels
    ) -> ExportResult:
        if not may_export(actor):
            raise DomainError(ErrorCode.EXPORT_NOT_ALLOWED)
        uow, now = self._ctx.uow, self._ctx.now()
        # A granted manager still sees only their own clients: the grant is to export what
        # they may see, not to reach the rest of the base.
        own = manager_scope(actor)
        scope, scope_value = "all", None
        if own is not None:
            scope, scope_value = "manager", actor.member.full_name
        flt = ExportFilter(manager_id=own)
        if request.manager:
            member = await find_member(self._ctx, actor.team.id, request.manager)
            if own is not None and member.id != own:
                raise DomainError(ErrorCode.EXPORT_OWN_ONLY)
            flt = ExportFilter(manager_id=member.id)
            scope, scope_value = "manager", member.full_name
        elif request.segment:
            flt = ExportFilter(manager_id=own, segment=request.segment)
            scope, scope_value = "segment", request.segment
        elif request.tag:
            flt = ExportFilter(manager_id=own, tag=request.tag)
            scope, scope_value = "tag", request.tag
        zone = actor.zone
        # A handful of distinct stored values per column: translate each once, not per row.
        labels = replace(labels, value=cache(labels.value))
        day = now.astimezone(zone).date().isoformat()
        chunk = self._ctx.limits.export_chunk_rows
        clients_feed = _Feed(lambda row: _client_cells(row, zone, labels))
        activities_feed = _Feed(lambda row: _activity_cells(row, zone, labels))
        client_sheet = Sheet(labels.client_sheet, labels.client_headers, clients_feed.rows())
        activity_sheet = Sheet(
            labels.activity_sheet, labels.activity_headers, activities_feed.rows()
        )
        files: list[ExportFile] = []
        activities = 0
        if request.fmt == CSV:
            writer = _start_writer(lambda: write_csv(client_sheet))
            clients = await _pump(
                uow.export.clients(actor.team.id, flt, chunk), clients_feed, writer
            )
            files.append(ExportFile(f"{labels.file_prefix}-{day}.csv", await _finish(writer)))
            if request.activities:
                writer = _start_writer(lambda: write_csv(activity_sheet))
                activities = await _pump(
                    uow.export.activities(actor.team.id, flt, chunk), activities_feed, writer
                )
                files.append(
                    ExportFile(f"{labels.activity_prefix}-{day}.csv", await _finish(writer))
                )
        else:
            sheets = [client_sheet, activity_sheet] if request.activities else [client_sheet]
            writer = _start_writer(lambda: write_xlsx(sheets))
            clients = await _pump(
                uow.export.clients(actor.team.id, flt, chunk), clients_feed, writer
            )
            if request.activities:
                activities = await _pump(
                    uow.export.activities(actor.team.id, flt, chunk), activities_feed, writer
                )
            files.append(ExportFile(f"{labels.file_prefix}-{day}.xlsx", await _finish(writer)))
        if clients == 0:
            raise DomainError(ErrorCode.EXPORT_EMPTY)
        # A file bigger than the Bot API server takes from a bot is refused, not half-sent.
        limit = self._ctx.limits.export_max_bytes
        if any(len(file.data) > limit for file in files):
            raise DomainError(ErrorCode.EXPORT_TOO_LARGE, limit=-(-limit // MB))  # MB, rounded up
        details = {
            "scope": scope,
            "value": scope_value,
            "format": request.fmt,
            "rows": clients,
            "activities": activities,
        }
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="export",
            now=now,
            details=details,
        )
        if actor.member.role != Role.OWNER:
            await alert_owners(
                uow,
                team_id=actor.team.id,
                step="export",
                params={"member": actor.member.full_name, **details},
                dedup_key=f"{actor.member.id}:{now.timestamp()}",
                now=now,
                except_member=actor.member.id,
            )
            await note_viewing(self._ctx, actor)
        return ExportResult(files, clients, activities, scope, scope_value)


# Where in a row (bot.fields.EXPORTED order) the values the file shows otherwise than stored are.
_PHONES, _TAGS, _NEXT_CONTACT = (
    next(i for i, field in enumerate(EXPORTED) if field.kind is kind)
    for kind in (Kind.PHONES, Kind.TAGS, Kind.FOLLOWUP)
)
_TIMES = tuple(i for i, field in enumerate(EXPORTED) if field.kind is Kind.DATETIME)
# Stored codes shown in words: (position, the field's name for ExportLabels.value).
_WORDS = tuple(
    (i, field.name)
    for i, field in enumerate(EXPORTED)
    if field.kind in (Kind.CONSENT, Kind.TEMPERATURE, Kind.STAGE)
)


def client_headers(translate: Callable[[str], str]) -> list[str]:
    """The client sheet's column titles (bot/fields.py), through the caller's translation."""
    return [translate(field.title) for field in EXPORTED]


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(zone)


def _client_cells(row: ClientExportRow, zone: ZoneInfo, labels: ExportLabels) -> list[Cell]:
    """The row's values (bot.fields.EXPORTED order) as the file shows them; most go as read.
    Per row of a 100,000-row export: positions worked out once, above, not per field here."""
    cells = row[:-1]
    cells[_PHONES] = ", ".join(cells[_PHONES]) or None
    cells[_TAGS] = " ".join("#" + tag for tag in cells[_TAGS]) or None
    for index in _TIMES:
        cells[index] = _local(cells[index], zone)
    next_contact = _local(cells[_NEXT_CONTACT], zone)
    # A follow-up for a day, not a time: the day alone.
    cells[_NEXT_CONTACT] = next_contact.date() if next_contact and row[-1] else next_contact
    value = labels.value
    for index, name in _WORDS:
        cells[index] = value(name, cells[index])
    return cells


def _activity_cells(row: ActivityExportRow, zone: ZoneInfo, labels: ExportLabels) -> list[Cell]:
    return [
        row.client_id,
        row.client_name,
        _local(row.occurred_at, zone),
        labels.value("kind", row.kind),
        labels.value("outcome", row.outcome) if row.outcome else None,
        row.text,
        row.author,
    ]
