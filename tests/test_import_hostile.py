"""Hostile and oversized files: zip bombs refused by the limit they hit, with bounded memory,
in a worker process; other members answered while a big file is read; a file parsed once;
CSV from Excel's «Unicode text» and a CSV with an absurd cell."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import EditMessageText, GetFile

from bot.config import ImportFileSettings
from bot.services.errors import DomainError
from bot.services.importing import parsed
from bot.services.importing.worker import FileWorkers, ParseJob
from storage.models import Client
from tests.support.bombs import BOMBS, NO_SIZE_LIMITS
from tests.support.builders import MANAGER, OWNER
from tests.support.harness import BotHarness, Person
from tests.support.reads import count
from tests.support.uploads import button, csv_bytes, upload

RU_OWNER = Person(5, "Ольга", language="ru")
# A bomb must be refused by the limit it hits, never by running out of this much memory or
# time (which would give a different answer).
BOUNDED_MEMORY_MB = 768
# A safety net only: every bomb is refused in well under a second or a few; the old code took
# minutes (or ran out of memory).
NO_HANG_SECONDS = 60


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def _parse(tmp_path: Path, data: bytes, **limits: Any) -> str:
    settings = ImportFileSettings(parsed_dir=tmp_path, worker_memory_mb=BOUNDED_MEMORY_MB, **limits)
    workers = FileWorkers(settings)
    upload_path = tmp_path / "bomb.upload"
    upload_path.write_bytes(data)
    job = ParseJob("xlsx", upload_path, tmp_path / "bomb.rows", settings, 50_000)
    try:
        await asyncio.wait_for(workers.parse(job), NO_HANG_SECONDS)
    except DomainError as exc:
        if exc.code != "import_worker_timeout":
            assert workers.last_peak_mb is not None and workers.last_peak_mb < BOUNDED_MEMORY_MB
        return exc.code
    finally:
        # Nothing is left behind: neither the upload nor half a file of rows.
        assert _leftovers(tmp_path) == []
    raise AssertionError("the bomb was read")


@pytest.mark.parametrize("bomb", list(BOMBS))
async def test_each_bomb_is_refused_by_the_zip_headers_at_once(bomb: str, tmp_path: Path):
    build, by_headers, _ = BOMBS[bomb]
    assert await _parse(tmp_path, build()) == by_headers


@pytest.mark.parametrize("bomb", list(BOMBS))
async def test_each_bomb_is_refused_while_streaming_when_the_headers_let_it_pass(
    bomb: str, tmp_path: Path
):
    """With the size limits lifted, the checks made as the bytes stream in stop each bomb:
    rows, the cell's length, the shared strings' total, the depth, the tag's length."""
    build, _, streaming = BOMBS[bomb]
    assert await _parse(tmp_path, build(), **NO_SIZE_LIMITS) == streaming


async def test_a_file_over_the_time_limit_is_stopped_and_leaves_nothing(tmp_path: Path):
    build, _, _ = BOMBS["256 MB of empty rows"]
    code = await _parse(tmp_path, build(), worker_seconds=0.2, **NO_SIZE_LIMITS)
    assert code == "import_worker_timeout"


async def test_a_file_over_the_memory_limit_gets_a_polite_refusal(tmp_path: Path):
    build, _, _ = BOMBS["1 GB of shared strings"]
    limits = dict(NO_SIZE_LIMITS, max_shared_chars=10**12, max_shared_strings=10**9)
    settings = ImportFileSettings(parsed_dir=tmp_path, worker_memory_mb=256, **limits)
    workers = FileWorkers(settings)
    (tmp_path / "bomb.upload").write_bytes(build())
    job = ParseJob("xlsx", tmp_path / "bomb.upload", tmp_path / "bomb.rows", settings, 50_000)
    with pytest.raises(DomainError) as refused:
        await asyncio.wait_for(workers.parse(job), NO_HANG_SECONDS)
    assert refused.value.code == "import_worker_memory"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("bomb", "expected"),
    [
        ("256 MB of empty rows", "A sheet of this .xlsx unpacks to more than 160 MB"),
        ("deeply nested XML", "compressed more than 200 to 1"),
    ],
)
async def test_the_owner_is_told_which_limit_a_bomb_hit_and_what_to_do(
    team: BotHarness, bomb: str, expected: str
):
    build, _, _ = BOMBS[bomb]
    replies = await asyncio.wait_for(upload(team, OWNER, build(), "clients.xlsx"), NO_HANG_SECONDS)
    assert expected in replies[-1].text and "save it as .csv" in replies[-1].text
    assert await team.send(OWNER, "/today")  # not stuck in some state
    assert not list(team.app.settings.import_files.parsed_dir.glob("*"))


async def test_the_streaming_refusal_names_the_cell_in_russian(harness: BotHarness):
    team = harness
    await team.join_owner(RU_OWNER)
    team.app.settings.import_files.max_part_mb = 4096
    team.app.settings.import_files.max_unpacked_mb = 4096
    team.app.settings.import_files.max_ratio = 10**9
    build, _, _ = BOMBS["one 1 GB cell"]
    replies = await upload(team, RU_OWNER, build(), "база.xlsx")
    assert "Строка 2, столбец B: в ячейке больше 32767 символов" in replies[-1].text


def _big_csv(rows: int) -> bytes:
    lines = ["Название;Телефон;Город;Email;Примечание"]
    lines += [f"Клиент {i};+7 9{i:09d};Москва;c{i}@example.ru;заметка {i}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


async def _answered_meanwhile(h: BotHarness, busy: asyncio.Task[Any]) -> None:
    """Another member's command is answered while `busy` (a long update) is still running."""
    replies = await h.send(MANAGER, "/help")
    assert replies, "the other member got no answer"
    assert not busy.done(), "the other member was answered only after the import"


async def test_another_member_is_answered_while_a_50000_row_file_is_read(team: BotHarness):
    reading = asyncio.create_task(upload(team, OWNER, _big_csv(50_000), "big.csv"))
    assert team.app.files is not None
    while not team.app.files._live:  # the worker process has started
        await asyncio.sleep(0.005)
        assert not reading.done(), reading.result()
    await _answered_meanwhile(team, reading)
    mapping = (await reading)[-1]
    assert "Where each column goes" in mapping.text


async def test_another_member_is_answered_while_rows_are_checked_and_written(team: BotHarness):
    """On PostgreSQL other updates go on beside the import's transaction; on SQLite the
    import hands the write gate on while it checks rows and between its batches."""
    team.app.settings.limits.import_write_rows = 100
    team.app.settings.limits.import_progress_seconds = 0
    # Fewer rows than above: writing 50,000 through the test harness takes a minute.
    mapping = (await upload(team, OWNER, _big_csv(5_000), "big.csv"))[-1]
    importing = asyncio.create_task(team.press(OWNER, button(mapping, "go")))
    # The import has begun once its first progress edit went out.
    while not any(
        "Checking the file" in (r.text or "") for r in team.session.sent(EditMessageText)
    ):
        await asyncio.sleep(0.005)
        assert not importing.done()
    await _answered_meanwhile(team, importing)
    # And again once rows are being written.
    while not any("written" in (r.text or "") for r in team.session.sent(EditMessageText)):
        await asyncio.sleep(0.005)
        assert not importing.done()
    await _answered_meanwhile(team, importing)
    await importing
    assert await count(team, Client) == 5_000


async def test_a_file_is_parsed_once_for_the_preview_and_the_import(team: BotHarness):
    rows = [["Название", "Телефон"], ["Ромашка", "9991234567"], ["Лютик", "9991234568"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    downloads = len(team.session.sent(GetFile))
    assert downloads == 1
    replies = await team.press(OWNER, button(mapping, "go"))
    assert "Clients added: 2." in replies[-1].text
    assert len(team.session.sent(GetFile)) == 0  # cleared per update: nothing downloaded again
    assert team.app.files is not None and team.app.files.started == 1  # read by one worker
    # Done: the rows kept for «Import» are gone.
    assert not list(team.app.settings.import_files.parsed_dir.glob("*.rows"))


async def test_cancel_removes_the_rows_kept_for_the_import(team: BotHarness):
    mapping = (await upload(team, OWNER, csv_bytes([["Название"], ["Ромашка"]]), "t.csv"))[-1]
    directory = team.app.settings.import_files.parsed_dir
    assert len(list(directory.glob("*.rows"))) == 1
    await team.press(OWNER, button(mapping, "stop"))
    assert not list(directory.glob("*.rows"))


def test_rows_never_imported_are_removed_after_the_keep_time(tmp_path: Path):
    old, fresh = tmp_path / "1-1-abc.rows", tmp_path / "1-1-def.rows"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 49 * 3600,) * 2)
    assert parsed.prune(tmp_path, 48 * 3600) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["1-1-def.rows"]


async def test_excel_unicode_text_csv_is_read(team: BotHarness):
    """Excel's «Unicode text»: UTF-16 little-endian with a BOM, tab-separated."""
    text = "Название\tТелефон\tГород\r\nООО «Ёлка»\t+7 999 123-45-67\tМосква\r\n"
    content = "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    mapping = (await upload(team, OWNER, content, "clients.txt.csv"))[-1]
    assert "1 rows" in mapping.text or "1 row" in mapping.text
    replies = await team.press(OWNER, button(mapping, "go"))
    assert "Clients added: 1." in replies[-1].text
    async with team.uow_factory() as uow:
        from sqlalchemy import select

        client = await uow.session.scalar(select(Client))
        assert client is not None and client.name == "ООО «Ёлка»" and client.city == "Москва"


async def test_a_csv_with_one_huge_cell_says_which_cell(team: BotHarness):
    rows = [["Название", "Примечание"], ["Ромашка", "ok"], ["Лютик", "x" * 200_000]]
    replies = await upload(team, OWNER, csv_bytes(rows), "notes.csv")
    text = replies[-1].text
    assert "Row 3, column 2: the cell is longer than 32767 characters" in text
    assert "Send an <b>.xlsx</b> or <b>.csv</b> file" not in text


async def test_a_paused_unit_of_work_lets_others_in_and_a_cancelled_one_gives_back_nothing(
    engine: Any,
):
    from storage.db import create_session_factory
    from storage.uow import UnitOfWorkFactory

    factory = UnitOfWorkFactory(create_session_factory(engine), serialize=True)
    other_ran = asyncio.Event()
    taken_back = asyncio.Event()
    held = asyncio.Event()

    async def other() -> None:
        async with factory():  # would wait forever if the gate were still held
            other_ran.set()

    async def reader() -> None:
        async with factory() as uow:
            async with uow.paused():
                # Another task: a unit of work opened by the same one would be nested.
                await asyncio.wait_for(asyncio.create_task(other()), 10)
                held.set()
                await taken_back.wait()
            raise AssertionError("the gate came back while another unit of work held it")

    async def holder() -> None:
        await held.wait()
        async with factory():
            taken_back.set()
            await asyncio.sleep(0.05)  # the reader now waits to take the gate back
            task.cancel()
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    await asyncio.wait_for(holder(), 10)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert other_ran.is_set()
    async with asyncio.timeout(5), factory():  # the gate is free, released exactly once
        pass


async def test_a_shutdown_while_a_file_is_read_stops_its_worker(tmp_path: Path):
    """The runtime cancels updates still running at SHUTDOWN_TIMEOUT_SECONDS: the process
    reading the file goes with them, and so does the uploaded copy."""
    build, _, _ = BOMBS["256 MB of empty rows"]
    settings = ImportFileSettings(parsed_dir=tmp_path, **NO_SIZE_LIMITS)
    workers = FileWorkers(settings)
    (tmp_path / "big.upload").write_bytes(build())
    job = ParseJob("xlsx", tmp_path / "big.upload", tmp_path / "big.rows", settings, 50_000)
    reading = asyncio.create_task(workers.parse(job))
    while not workers._live:  # the worker process has started
        await asyncio.sleep(0.005)
        assert not reading.done()
    (process,) = workers._live
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert not process.is_alive()
    assert workers._live == set()
    assert "big.upload" not in _leftovers(tmp_path)


async def test_a_worker_that_dies_without_a_word_gets_a_polite_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A child killed by the kernel (memory, CPU) sends nothing: its end of the pipe closing
    is the answer, at once, not after the time limit."""
    from bot.services.importing import worker

    settings = ImportFileSettings(parsed_dir=tmp_path, worker_seconds=600)
    workers = FileWorkers(settings)
    monkeypatch.setattr(worker, "_child", _die)
    (tmp_path / "t.upload").write_bytes(b"Name\\nA\\n")
    job = ParseJob("csv", tmp_path / "t.upload", tmp_path / "t.rows", settings, 50_000)
    with pytest.raises(DomainError) as refused:
        await asyncio.wait_for(workers.parse(job), NO_HANG_SECONDS)
    assert refused.value.code == "import_worker_failed"
    assert _leftovers(tmp_path) == []


def _die(conn: Any, job: Any) -> None:
    os._exit(9)
