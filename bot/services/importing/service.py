"""Import of a client table (owner only): preview the columns, validate every row, find
duplicates, then write everything — all of it or nothing.

The file is parsed once, at preview, by a worker process (`worker.py`) that writes its rows to
a file keyed by the import's token (`parsed.py`); «Import» reads those rows back in chunks,
letting other updates run between them, so no step holds the event loop for long.

Two passes over the rows (`_check`, then `_save`). Reading validates and looks for duplicates
without writing, so when duplicates turn up and the owner has not said what to do with them,
nothing has been written and the question can be asked. Writing then goes in batches of
`import_write_rows` clients, each one bulk statement per table (`_write_batch`: a COPY per
table on PostgreSQL, an executemany on SQLite).

On PostgreSQL the whole file is the caller's one transaction: a failure rolls it back, and
other members' updates go on meanwhile. On SQLite, which has one writer at a time, each batch
is committed on its own and the write gate handed on between batches, so other members are
answered during a long import; a failure (or a shutdown) deletes the clients written so far
(their phones, tags, follow-ups and notes go with them), and the last transaction (merges into
existing cards, the roster bump, the audit entry) is all-or-nothing as before. Meanwhile the
new clients become visible batch by batch.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.errors import ErrorCode
from bot.fields import IMPORTED, Kind
from bot.parsing.names import clean_name, clean_optional
from bot.services import matching
from bot.services.clients import Due, first_contact_due, length_exceeded, new_client_row
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.gc_pause import full_collections_deferred
from bot.services.importing import parsed, values
from bot.services.importing.mapping import SKIP, guess_mapping, mapping_problem
from bot.services.importing.reader import Cell, file_kind
from bot.services.importing.worker import FileWorkers, ParseJob
from bot.telegram_limits import MB
from storage.dto import MemberDTO
from storage.enums import ActivityKind, Consent, FollowupKind, Role

# (stage, rows done, rows in all or 0 while unknown): "read" while checking, "write" after.
Progress = Callable[[str, int, int], Awaitable[None]]
# How often the progress callback hears from the loops; it decides itself when to show it.
PROGRESS_EVERY = 500
# Checking and preparing rows is pure Python on the event loop: it lets other updates in this
# often (a batch of 1,000 prepared and sent in one go held the loop 300 ms on a busy machine).
YIELD_EVERY_SECONDS = 0.02


class _Slices:
    """Long loops on the event loop give way to other updates every `YIELD_EVERY_SECONDS`."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def give_way(self) -> None:
        if time.perf_counter() - self._since > YIELD_EVERY_SECONDS:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


# Teams whose import is under way in this process, where batches are committed one by one
# (SQLite): set when it ends. A database lock cannot span those commits; SQLite is written by
# one process.
_RUNNING: dict[int, asyncio.Event] = {}

# What each import target is (bot/fields.py): how its cell is read.
_KINDS = {field.name: field.kind for field in IMPORTED}
# What a duplicate row fills into the card it duplicates, when that card lacks it.
_MERGE_FIELDS = tuple(field.name for field in IMPORTED if field.merged)
_TEXT_KINDS = frozenset({Kind.PERSON, Kind.TEXT, Kind.URL})


class DuplicatePolicy(StrEnum):
    ASK = "ask"  # find them, write nothing, let the owner choose
    SKIP = "skip"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str
    reason: str  # name, phone, email, date, manager, too_long, temperature, amount, consent
    value: str


@dataclass(frozen=True, slots=True)
class Preview:
    headers: list[str]
    mapping: list[str]
    rows: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int  # data rows read
    imported: int
    merged: int
    duplicates: int  # found, in the file or against the base
    duplicates_skipped: int
    skipped_rows: int  # rows with problems, not imported
    problems: list[Problem]
    needs_choice: bool = False


@dataclass(slots=True)
class _Row:
    number: int
    manager: MemberDTO
    name: str
    columns: dict[str, Any]
    phones: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    next_call: date | None = None


@dataclass(slots=True)
class _Checked:
    """What the first pass found: rows to add, duplicates (where each was first seen, the
    row), rows with problems."""

    count: int = 0
    new_rows: list[_Row] = field(default_factory=list)
    duplicates: list[tuple[tuple[str, int], _Row]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped_rows: int = 0

    def result(
        self, *, imported: int, merged: int, skipped: int, needs_choice: bool = False
    ) -> ImportResult:
        return ImportResult(
            rows=self.count,
            imported=imported,
            merged=merged,
            duplicates=len(self.duplicates),
            duplicates_skipped=skipped,
            skipped_rows=self.skipped_rows,
            problems=self.problems,
            needs_choice=needs_choice,
        )


@dataclass(slots=True)
class _Keys:
    """Where each duplicate key was first seen: ("base", client id) or ("file", new row index)."""

    phones: dict[str, tuple[str, int]] = field(default_factory=dict)
    emails: dict[str, tuple[str, int]] = field(default_factory=dict)
    names: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def find(self, row: _Row) -> tuple[str, int] | None:
        for _, digits in row.phones:
            if digits in self.phones:
                return self.phones[digits]
        email = row.columns.get("email")
        if email and email.casefold() in self.emails:
            return self.emails[email.casefold()]
        return self.names.get(_name_key(row.name, row.columns.get("city")))

    def remember(self, row: _Row, where: tuple[str, int]) -> None:
        for _, digits in row.phones:
            self.phones.setdefault(digits, where)
        email = row.columns.get("email")
        if email:
            self.emails.setdefault(email.casefold(), where)
        self.names.setdefault(_name_key(row.name, row.columns.get("city")), where)


_NON_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    """Case, ё/е, punctuation and spacing do not make two names different."""
    return " ".join(_NON_WORD.sub(" ", text.casefold().replace("ё", "е")).split())


def _name_key(name: str, city: str | None) -> tuple[str, str]:
    return _fold(name), _fold(city or "")


def _member_key(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").lstrip("@").split())


class ImportService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    # -- before downloading ---------------------------------------------------------------------

    def ensure_owner(self, actor: Actor) -> None:
        if actor.member.role != Role.OWNER:
            raise DomainError(ErrorCode.IMPORT_OWNER_ONLY)

    def check_upload(self, actor: Actor, file_name: str | None, file_size: int | None) -> str:
        """The file's kind, or a refusal, from what Telegram tells about it before download."""
        self.ensure_owner(actor)
        kind = file_kind(file_name)
        limit = self._ctx.limits.import_max_bytes
        if file_size is not None and file_size > limit:
            raise DomainError(ErrorCode.IMPORT_TOO_LARGE, limit=limit // MB)
        return kind

    @property
    def _files(self) -> FileWorkers:
        if self._ctx.files is None:
            raise RuntimeError("imports need the file workers (ServiceContext.files)")
        return self._ctx.files

    def _parsed_path(self, actor: Actor, token: str) -> Path:
        return parsed.parsed_path(
            self._files.limits.parsed_dir, actor.team.id, actor.member.id, token
        )

    async def preview(
        self, actor: Actor, file_name: str | None, data: bytes, token: str
    ) -> Preview:
        """The header, the guessed mapping and the row count (refused above the row limit).
        The rows are kept for «Import» under `token` (see `parsed.py`)."""
        kind = self.check_upload(actor, file_name, len(data))
        files = self._files
        out = self._parsed_path(actor, token)
        upload = out.with_suffix(".upload")
        await asyncio.to_thread(self._stage, upload, data)
        table = await files.parse(
            ParseJob(kind, upload, out, files.limits, self._ctx.limits.import_max_rows)
        )
        return Preview(headers=table.headers, mapping=guess_mapping(table.headers), rows=table.rows)

    def _stage(self, upload: Path, data: bytes) -> None:
        """The downloaded file, where the worker reads it; old leftovers go meanwhile."""
        keep = self._files.limits.parsed_keep_hours * 3600
        upload.parent.mkdir(parents=True, exist_ok=True)
        parsed.prune(upload.parent, keep)
        upload.write_bytes(data)

    def has_parsed(self, actor: Actor, token: str) -> bool:
        """Whether the rows read at preview are still here (not after a move to another
        instance or a wiped folder: then the file is read again)."""
        return self._parsed_path(actor, token).exists()

    def discard(self, actor: Actor, token: str) -> None:
        """The import is over (done, cancelled or failed): its rows are not kept."""
        parsed.discard(self._parsed_path(actor, token))

    # -- the import -----------------------------------------------------------------------------

    async def run(
        self,
        actor: Actor,
        token: str,
        headers: Sequence[str],
        mapping: Sequence[str],
        policy: DuplicatePolicy,
        progress: Progress,
        default_manager_id: int | None = None,
    ) -> ImportResult:
        # Checking 50,000 rows builds objects for each: a full garbage collection among them
        # was the longest event-loop stall of an import (over 500 ms); it waits until after.
        with full_collections_deferred():
            return await self._run(
                actor, token, headers, mapping, policy, progress, default_manager_id
            )

    async def _run(
        self,
        actor: Actor,
        token: str,
        headers: Sequence[str],
        mapping: Sequence[str],
        policy: DuplicatePolicy,
        progress: Progress,
        default_manager_id: int | None,
    ) -> ImportResult:
        """Writes the rows `preview` read under `token`, as `mapping` says.
        `default_manager_id`: who gets the rows with an empty manager cell (the importing
        owner when None); re-checked here, it came through a button. `token`: one per file
        sent; a second run with it (a double tap that passed the handler's check before the
        first run committed) is refused once it holds the team's import lock."""
        self.ensure_owner(actor)
        headers = list(headers)
        mapping = list(mapping)[: len(headers)]
        mapping += [SKIP] * (len(headers) - len(mapping))
        problem = mapping_problem(mapping)
        if problem is not None:
            raise DomainError(problem)
        async with self._one_import_per_team(actor.team.id):
            if await self._ctx.uow.imports.already_imported(actor.team.id, token):
                raise DomainError(ErrorCode.IMPORT_ALREADY_DONE)
            checked = await self._check(
                actor,
                self._parsed_path(actor, token),
                headers,
                mapping,
                default_manager_id,
                progress,
            )
            if checked.duplicates and policy is DuplicatePolicy.ASK:
                return checked.result(imported=0, merged=0, skipped=0, needs_choice=True)
            return await self._save(actor, token, checked, policy, progress)

    @asynccontextmanager
    async def _one_import_per_team(self, team_id: int) -> AsyncIterator[None]:
        """PostgreSQL: the import's advisory lock, held by its one transaction. SQLite commits
        per batch, so a lock of this process (the only one writing a SQLite file) is held
        instead; a second import waits for it with the write gate handed back."""
        uow = self._ctx.uow
        await uow.imports.lock_team(team_id)
        if not uow.imports.commits_per_batch:
            yield
            return
        while (running := _RUNNING.get(team_id)) is not None:
            async with uow.paused():
                await running.wait()
        done = _RUNNING[team_id] = asyncio.Event()
        try:
            yield
        finally:
            del _RUNNING[team_id]
            done.set()

    async def _check(
        self,
        actor: Actor,
        path: Path,
        headers: list[str],
        mapping: list[str],
        default_manager_id: int | None,
        progress: Progress,
    ) -> _Checked:
        """First pass: every row validated and looked up among the base's and the file's
        earlier clients; nothing written."""
        uow, team_id = self._ctx.uow, actor.team.id
        members = await self._member_lookup(actor)
        default_manager = await self.default_manager(actor, default_manager_id)
        keys = _Keys()
        slices = _Slices()
        for client_id, name, city, email in await uow.imports.client_keys(team_id):
            await slices.give_way()  # folding 10,000 names is 100 ms of pure Python
            keys.names.setdefault(_name_key(name, city), ("base", client_id))
            if email:
                keys.emails.setdefault(email.casefold(), ("base", client_id))
        for client_id, digits in await uow.imports.phone_keys(team_id):
            await slices.give_way()
            keys.phones.setdefault(digits, ("base", client_id))
        checked = _Checked()
        limit = self._ctx.limits.import_max_rows
        # Checking is pure Python on rows from the parsed file: on SQLite the write gate is
        # handed on meanwhile (a client another member adds in these seconds is not checked
        # against: the same as if the import had come first).
        async with self._database_released():
            for number, cells in self._rows(path):
                checked.count += 1
                if checked.count > limit:
                    raise DomainError(ErrorCode.IMPORT_TOO_MANY_ROWS, limit=limit)
                if checked.count % PROGRESS_EVERY == 0:
                    await progress("read", checked.count, 0)
                await slices.give_way()
                row, row_problems = self._parse(
                    default_manager, number, cells, headers, mapping, members
                )
                if row is None:
                    checked.skipped_rows += 1
                    checked.problems.extend(row_problems)
                    continue
                target = keys.find(row)
                if target is not None:
                    checked.duplicates.append((target, row))
                    continue
                keys.remember(row, ("file", len(checked.new_rows)))
                checked.new_rows.append(row)
        if checked.count == 0:
            raise DomainError(ErrorCode.IMPORT_EMPTY)
        await progress("read", checked.count, checked.count)
        return checked

    def _database_released(self) -> AbstractAsyncContextManager[None]:
        """Where batches commit on their own (SQLite), what the update did so far is
        committed and other members may write until the block ends. On PostgreSQL the file is
        one transaction, held on to."""
        uow = self._ctx.uow
        return uow.paused() if uow.imports.commits_per_batch else nullcontext()

    async def _save(
        self,
        actor: Actor,
        token: str,
        checked: _Checked,
        policy: DuplicatePolicy,
        progress: Progress,
    ) -> ImportResult:
        """Second pass: the new rows written, duplicates merged or skipped, the import
        audited. On SQLite a failure takes back the batches already committed."""
        uow, team_id = self._ctx.uow, actor.team.id
        in_base: list[tuple[int, _Row]] = []
        merged = 0
        if policy is DuplicatePolicy.MERGE:
            for (where, index), row in checked.duplicates:
                if where == "file":
                    _merge_rows(checked.new_rows[index], row)
                else:
                    in_base.append((index, row))
            merged = len(checked.duplicates)
        imported = len(checked.new_rows)
        written: list[int] = []
        try:
            await self._write(actor, checked.new_rows, progress, written)
            if policy is DuplicatePolicy.MERGE:
                await self._merge_into_base(actor, in_base)
            # New names and contacts: cached lookup candidates of the team are stale (see
            # Team.roster_version). Last, so the team row is locked only for the commit.
            await uow.imports.bump_roster(team_id)
            result = checked.result(
                imported=imported,
                merged=merged,
                skipped=0 if policy is DuplicatePolicy.MERGE else len(checked.duplicates),
            )
            await uow.audit.add(
                team_id=team_id,
                actor_id=actor.member.id,
                action="import",
                now=self._ctx.now(),
                details={
                    "rows": result.rows,
                    "imported": result.imported,
                    "merged": result.merged,
                    "duplicates_skipped": result.duplicates_skipped,
                    "skipped_rows": result.skipped_rows,
                    "token": token,
                },
            )
            if written:
                # The last of the file's transactions on SQLite: the last batch, the merges,
                # the roster and the audit entry together.
                await uow.commit()
        except BaseException:
            if written:
                await self._take_back(team_id, written)
            raise
        return result

    async def _take_back(self, team_id: int, written: list[int]) -> None:
        """Delete what the committed batches wrote (SQLite), then let the failure go on. A
        shutdown's cancellation waits for this: the owner is told nothing was saved."""
        undo = asyncio.ensure_future(self._remove(team_id, written))
        try:
            await asyncio.shield(undo)
        except asyncio.CancelledError:
            await undo  # cancelled once already: finish taking back, then stop
            raise

    async def _remove(self, team_id: int, written: list[int]) -> None:
        uow = self._ctx.uow
        await uow.rollback()
        await uow.imports.remove_clients(team_id, written)
        await uow.commit()

    def _rows(self, path: Path) -> Iterator[tuple[int, list[Cell]]]:
        """The rows read at preview, one chunk at a time. Gone (expired, another instance):
        the handler has the file read again before calling `run`, so this is a rare race."""
        try:
            chunks = parsed.read_chunks(path)
            first = next(chunks, [])
        except FileNotFoundError as exc:
            raise DomainError(ErrorCode.IMPORT_EXPIRED) from exc

        def rows() -> Iterator[tuple[int, list[Cell]]]:
            yield from first
            for chunk in chunks:
                yield from chunk

        return rows()

    async def _member_lookup(self, actor: Actor) -> dict[str, MemberDTO | None]:
        """Active members by full name and by @username; a name two members share is None."""
        lookup: dict[str, MemberDTO | None] = {}
        for member in (await self._ctx.uow.members.of_team(actor.team.id)).values():
            if not member.is_active:
                continue
            for key in {_member_key(member.full_name), _member_key(member.username or "")}:
                if key:
                    lookup[key] = None if key in lookup else member
        return lookup

    async def managers(self, actor: Actor) -> list[MemberDTO]:
        """Who may be the default manager of imported rows: active members, the owner first."""
        self.ensure_owner(actor)
        members = await self._ctx.uow.members.of_team(actor.team.id)
        active = [m for m in members.values() if m.is_active]
        return sorted(active, key=lambda m: (m.id != actor.member.id, m.full_name, m.id))

    async def default_manager(self, actor: Actor, member_id: int | None) -> MemberDTO:
        if member_id is None or member_id == actor.member.id:
            return actor.member
        for member in await self.managers(actor):
            if member.id == member_id:
                return member
        raise DomainError(ErrorCode.IMPORT_EXPIRED)

    def _parse(
        self,
        default_manager: MemberDTO,
        number: int,
        cells: list[Cell],
        headers: list[str],
        mapping: list[str],
        members: dict[str, MemberDTO | None],
    ) -> tuple[_Row | None, list[Problem]]:
        limits = self._ctx.limits
        problems: list[Problem] = []
        row = _Row(number=number, manager=default_manager, name="", columns={})
        name_column = ""
        for index, target in enumerate(mapping):
            if target == SKIP:
                continue
            cell = cells[index] if index < len(cells) else None
            if target == "name":
                name_column = headers[index]
            try:
                self._assign(row, target, cell, members)
            except values.BadValueError as exc:
                shown = values.text(cell) or ""
                problems.append(Problem(number, headers[index], exc.reason, shown[:60]))
        if not row.name:
            problems.append(Problem(number, name_column, "name", ""))
        elif len(row.name) > limits.max_name_chars:
            problems.append(Problem(number, name_column, "too_long", row.name[:60]))
        return (None, problems) if problems else (row, [])

    def _assign(
        self, row: _Row, target: str, cell: Cell, members: dict[str, MemberDTO | None]
    ) -> None:
        limits = self._ctx.limits
        kind = _KINDS[target]
        if kind is Kind.NAME:
            row.name = row.name or clean_name(values.text(cell) or "")
        elif kind is Kind.PHONES:
            for raw, digits in values.phones(cell):
                if all(digits != known for _, known in row.phones):
                    row.phones.append((raw, digits))
        elif kind is Kind.EMAIL:
            email = values.email(cell)
            if length_exceeded(target, email) is not None:
                raise values.BadValueError("too_long")
            row.columns[target] = email
        elif kind is Kind.DATE:
            found = values.day(cell)
            # Only birthdays are imported as dates: none is in the future.
            if found is not None and found > self._ctx.now().date():
                raise values.BadValueError("date")
            row.columns[target] = found
        elif kind is Kind.FOLLOWUP:
            row.next_call = values.day(cell)
        elif kind is Kind.TEMPERATURE:
            row.columns[target] = values.temperature(cell)
        elif kind is Kind.MONEY:
            row.columns[target] = values.potential(cell, limits.max_amount)
        elif kind is Kind.CONSENT:
            row.columns[target] = values.consent(cell)
        elif kind is Kind.TAGS:
            row.tags = values.tags(cell, limits.max_tag_chars)
        elif kind is Kind.NOTE:
            note = values.text(cell)
            row.note = note[: limits.max_note_chars] if note else None
        elif kind is Kind.MANAGER:
            named = values.text(cell)
            if named is not None:
                manager = members.get(_member_key(named))
                if manager is None:
                    raise values.BadValueError("manager")
                row.manager = manager
        elif kind in _TEXT_KINDS:
            text = values.text(cell)
            if kind is Kind.PERSON:
                text = clean_optional(text)  # a person's name, cleaned as /add cleans it
            if length_exceeded(target, text) is not None:
                raise values.BadValueError("too_long")
            row.columns[target] = text

    async def _write(
        self, actor: Actor, rows: list[_Row], progress: Progress, written: list[int]
    ) -> None:
        """The new rows, `import_write_rows` at a time. Where batches are committed one by
        one (SQLite), the ids of the clients committed are added to `written`, and the write
        gate is handed on after each batch."""
        uow = self._ctx.uow
        per_batch = uow.imports.commits_per_batch
        dues: dict[tuple[int, date | None], Due] = {}
        slices = _Slices()
        total = len(rows)
        batch_rows = self._ctx.limits.import_write_rows
        for start in range(0, total, batch_rows):
            # Taken off the list as they are written: 50,000 rows freed at once when the import
            # returned held the loop for 100-200 ms.
            batch = rows[:batch_rows]
            del rows[:batch_rows]
            ids = await uow.imports.reserve_client_ids(actor.team.id, len(batch))
            await self._write_batch(actor, ids, batch, dues, slices)
            if per_batch and start + len(batch) < total:
                written += ids
                async with self._database_released():  # committed; others write here
                    pass
            elif per_batch:
                written += ids  # committed with the rest of the last transaction
            await progress("write", start + len(batch), total)

    async def _write_batch(
        self,
        actor: Actor,
        ids: list[int],
        batch: list[_Row],
        dues: dict[tuple[int, date | None], Due],
        slices: _Slices,
    ) -> None:
        """One batch of new clients with their phones, tags, first follow-ups and notes: one
        bulk statement per table, in the current transaction. Everything an import adds goes
        through here (what keeps figures derived from clients up to date hooks in here)."""
        uow, now, team_id = self._ctx.uow, self._ctx.now(), actor.team.id
        client_rows = []
        for client_id, row in zip(ids, batch, strict=True):
            await slices.give_way()
            # Every row of one file has the same keys (one per mapped column, None when
            # empty): the INSERT then goes as one executemany (one COPY on PostgreSQL).
            client_rows.append(
                new_client_row(
                    team_id=team_id,
                    manager_id=row.manager.id,
                    name=row.name,
                    now=now,
                    digits=[digits for _, digits in row.phones],
                    id=client_id,
                    **row.columns,
                )
            )
        await uow.imports.add_clients(client_rows)
        phones, tags, followups, notes = [], [], [], []
        for client_id, row in zip(ids, batch, strict=True):
            await slices.give_way()
            phones += [
                {"team_id": team_id, "client_id": client_id, "raw": raw, "digits": digits}
                for raw, digits in row.phones
            ]
            tags += [{"team_id": team_id, "client_id": client_id, "tag": t} for t in row.tags]
            key = (row.manager.id, row.next_call)
            if key not in dues:
                dues[key] = first_contact_due(self._ctx, actor, row.manager, row.next_call)
            due = dues[key]
            followups.append(
                {
                    "team_id": team_id,
                    "client_id": client_id,
                    "manager_id": row.manager.id,
                    "created_by": actor.member.id,
                    "kind": FollowupKind.CALL,
                    "due_at": due.at,
                    "due_on": due.on,
                    "date_only": True,
                    "reason": None,
                    "state": "pending",
                    "created_at": now,
                }
            )
            if row.note:
                notes.append(
                    {
                        "team_id": team_id,
                        "client_id": client_id,
                        "author_id": actor.member.id,
                        "kind": ActivityKind.NOTE,
                        "outcome": None,
                        "text": row.note,
                        "occurred_at": now,
                    }
                )
        await uow.imports.add_phones(phones)
        await uow.imports.add_tags(tags)
        await uow.imports.add_followups(followups)
        await uow.imports.add_activities(notes)

    async def _merge_into_base(self, actor: Actor, merges: list[tuple[int, _Row]]) -> None:
        """Fill what the existing card lacks; add phones and tags it does not have. Never
        overwrite what is there: the base is the truth, the file only completes it."""
        uow, now, team_id = self._ctx.uow, self._ctx.now(), actor.team.id
        ids = list(dict.fromkeys(client_id for client_id, _ in merges))
        targets = await uow.imports.merge_targets(team_id, ids)
        tags = await uow.imports.tags_of(team_id, ids)
        notes = await uow.imports.notes_of(team_id, ids)
        slices = _Slices()
        for client_id, row in merges:
            await slices.give_way()
            current = targets.get(client_id)
            if current is None:
                continue
            changes: dict[str, Any] = {}
            for name in _MERGE_FIELDS:
                value = row.columns.get(name)
                if value is not None and current.get(name) in (None, ""):
                    changes[name] = current[name] = value
            if row.columns.get("consent") and current.get("consent") == Consent.UNKNOWN:
                changes["consent"] = current["consent"] = row.columns["consent"]
            known = set(current["phone_digits"].split())
            added = [(raw, digits) for raw, digits in row.phones if digits not in known]
            if added:
                await uow.imports.add_phones(
                    [
                        {"team_id": team_id, "client_id": client_id, "raw": r, "digits": d}
                        for r, d in added
                    ]
                )
                changes["phone_digits"] = current["phone_digits"] = " ".join(
                    [*current["phone_digits"].split(), *(d for _, d in added)]
                )
            if "contact_person" in changes:
                variants = current["search_text"].split(matching.VARIANT_SEPARATOR)
                changes["search_text"] = current["search_text"] = matching.search_text(
                    [*variants, changes["contact_person"]]
                )
            new_tags = [t for t in row.tags if t not in tags.setdefault(client_id, set())]
            if new_tags:
                tags[client_id].update(new_tags)
                await uow.imports.add_tags(
                    [{"team_id": team_id, "client_id": client_id, "tag": t} for t in new_tags]
                )
            # The same file merged again (or two rows with one note) adds the note once.
            if row.note and row.note not in notes.setdefault(client_id, set()):
                notes[client_id].add(row.note)
                await uow.imports.add_activities(
                    [
                        {
                            "team_id": team_id,
                            "client_id": client_id,
                            "author_id": actor.member.id,
                            "kind": ActivityKind.NOTE,
                            "outcome": None,
                            "text": row.note,
                            "occurred_at": now,
                        }
                    ]
                )
            if changes:
                await uow.clients.update(team_id, client_id, updated_at=now, **changes)


def _merge_rows(target: _Row, extra: _Row) -> None:
    """A duplicate within the file completes the first row with the same rules as the base."""
    for name, value in extra.columns.items():
        if value is not None and target.columns.get(name) in (None, ""):
            target.columns[name] = value
    known = {digits for _, digits in target.phones}
    target.phones += [(raw, digits) for raw, digits in extra.phones if digits not in known]
    target.tags += [tag for tag in extra.tags if tag not in target.tags]
    if extra.note:
        target.note = f"{target.note}\n{extra.note}" if target.note else extra.note
