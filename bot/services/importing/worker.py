"""Reading an imported file in a worker process, never on the event loop.

Parsing a table is pure Python and C work that holds the interpreter: on the event loop a
50,000-row sheet or a zip bomb would stop every other member's updates, the sweep and polling.
So each file is read by a process of its own, forked from a forkserver that has this module
(and openpyxl) loaded already, which makes a start take a few milliseconds. The child limits
its own address space (RLIMIT_AS) and CPU time; the parent kills it when `worker_seconds` have
passed or when the awaiting update is cancelled (shutdown). A process per file rather than a
pool: a killed or crashed child is simply gone, there is no broken pool to rebuild, and one
file's memory never stays in a process that reads the next.

The child writes the rows to the parsed-rows file (`parsed.py`) and sends back only the header
and the row count, so nothing large crosses the pipe. A refusal (`DomainError`) crosses as its
code and parameters; a crash, a timeout or exhausted memory become polite refusals too, and the
half-written file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bot.config import ImportFileSettings
from bot.errors import ErrorCode
from bot.services.errors import DomainError
from bot.services.importing import parsed
from bot.services.importing.mapping import header_score
from bot.services.importing.reader import open_table

log = logging.getLogger(__name__)
MB = 1024 * 1024
# Seconds the child may use beyond the parent's deadline before the kernel stops it: the parent
# kills it first; this only guards against a parent that is itself stuck.
_CPU_MARGIN = 10
_context: Any = None


@dataclass(frozen=True, slots=True)
class ParseJob:
    kind: str  # "xlsx" or "csv"
    upload: Path  # the file as downloaded; the child removes it
    out: Path  # where the rows go
    limits: ImportFileSettings
    max_rows: int


@dataclass(frozen=True, slots=True)
class ParsedTable:
    headers: list[str]
    rows: int
    path: Path


def parse_to_file(
    kind: str, data: bytes, out: Path, limits: ImportFileSettings, max_rows: int
) -> tuple[list[str], int]:
    """Read the table and write its data rows to `out`: (headers, row count). Runs anywhere
    (the tests call it directly); the application runs it in the child process."""
    table = open_table(data, kind, header_score=header_score, limits=limits)
    writer = parsed.RowsWriter(out, table.headers)
    count = 0
    try:
        for number, cells in table.rows:
            count += 1
            if count > max_rows:
                raise DomainError(ErrorCode.IMPORT_TOO_MANY_ROWS, limit=max_rows)
            writer.add(number, cells)
        if count == 0:
            raise DomainError(ErrorCode.IMPORT_EMPTY)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return table.headers, count


def _limit_resources(limits: ImportFileSettings) -> None:
    memory = limits.worker_memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.worker_seconds) + _CPU_MARGIN
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _child(conn: Connection, job: ParseJob) -> None:
    """The worker process: everything it says is one message on `conn`."""
    reply: tuple[Any, ...]
    try:
        _limit_resources(job.limits)
        data = job.upload.read_bytes()
        job.upload.unlink()
        headers, count = parse_to_file(job.kind, data, job.out, job.limits, job.max_rows)
        reply = ("ok", headers, count)
    except DomainError as exc:
        reply = ("refused", exc.code, exc.params)
    except MemoryError:
        reply = ("refused", ErrorCode.IMPORT_WORKER_MEMORY, {})
    except Exception as exc:  # an unexpected failure: the parent logs its type and refuses
        reply = ("failed", type(exc).__name__)
    with contextlib.suppress(Exception):
        conn.send((*reply, _peak_mb()))
    conn.close()


def _peak_mb() -> int:
    """The child's peak resident memory in MB (reported to the benchmark and tests)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _ready() -> None:
    """A child that only proves the forkserver is up."""


def _mp_context() -> Any:
    """The forkserver, with this module loaded in it once: children start in milliseconds."""
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        _context = context
    return _context


class FileWorkers:
    """Runs `ParseJob`s, at most `workers` at a time, each in its own limited process."""

    def __init__(self, limits: ImportFileSettings) -> None:
        self.limits = limits
        self._slots: asyncio.Semaphore | None = None
        self._live: set[Any] = set()
        self.started = 0  # processes started (the tests count them)
        self.last_peak_mb: int | None = None  # the last child's peak memory, if it said

    async def warm_up(self) -> None:
        """Start the forkserver now and wait until it has loaded what a child needs (about two
        seconds on a busy machine, in a thread), so that the first file sent does not wait."""

        def start_one() -> None:
            process = _mp_context().Process(target=_ready, daemon=True)
            process.start()
            process.join(60)

        try:
            await asyncio.to_thread(start_one)
        except Exception as exc:  # the first file will start it instead
            log.warning("import worker warm-up failed: %s", type(exc).__name__)

    async def parse(self, job: ParseJob) -> ParsedTable:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.workers)
        async with self._slots:
            return await self._run(job)

    async def _run(self, job: ParseJob) -> ParsedTable:
        context = _mp_context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(sender, job), daemon=True)
        self._live.add(process)
        self.started += 1
        # Starting may wait for the forkserver to come up: not on the loop.
        starting = asyncio.ensure_future(asyncio.to_thread(process.start))
        try:
            await asyncio.shield(starting)
            # The child has its own end now: with ours closed, its death reads as EOF.
            sender.close()
            reply = await self._reply(receiver)
        finally:
            sender.close()
            receiver.close()
            await self._stop(process, starting)
            with contextlib.suppress(FileNotFoundError):
                job.upload.unlink()
            if process.pid is not None:
                # Half a file of rows from a child killed while writing it.
                parsed.discard(parsed.temporary_path(job.out, process.pid))
        kind = reply[0]
        if kind in ("ok", "refused", "failed"):
            reply, self.last_peak_mb = reply[:-1], reply[-1]
        if kind == "ok":
            return ParsedTable(headers=reply[1], rows=reply[2], path=job.out)
        parsed.discard(job.out)
        if kind == "refused":
            raise DomainError(reply[1], **reply[2])
        if kind == "timeout":
            raise DomainError(
                ErrorCode.IMPORT_WORKER_TIMEOUT, limit=int(self.limits.worker_seconds)
            )
        # No answer at all (the child died: the kernel stopped it at its memory or CPU limit,
        # or it crashed) or an unexpected exception. Its type is all the log gets: the file is
        # client data.
        log.warning("import worker failed: %s", reply[1] if len(reply) > 1 else "no answer")
        raise DomainError(ErrorCode.IMPORT_WORKER_FAILED)

    async def _stop(self, process: Any, starting: asyncio.Future[None]) -> None:
        """Kill the child if it still runs and reap it; a start cancelled half-way (shutdown)
        is let finish first, or the child would outlive us."""
        try:
            await asyncio.shield(starting)
        except Exception:  # it never started: nothing to stop
            self._live.discard(process)
            return
        if process.is_alive():
            process.kill()
        with contextlib.suppress(ValueError):
            await asyncio.shield(asyncio.to_thread(process.join, 5))
        self._live.discard(process)

    async def _reply(self, receiver: Connection) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(receiver.fileno(), readable)
        try:
            await asyncio.wait_for(ready, timeout=self.limits.worker_seconds)
        except TimeoutError:
            return ("timeout",)
        finally:
            loop.remove_reader(receiver.fileno())
        try:
            reply: tuple[Any, ...] = receiver.recv()
        except (EOFError, OSError):
            return ("died",)
        return reply

    def close(self) -> None:
        """Stop every file still being read (the application is shutting down)."""
        for process in list(self._live):
            with contextlib.suppress(Exception):
                process.kill()
        self._live.clear()
