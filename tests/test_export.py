"""`/export`: files opened back and checked, formula cells neutralised, access and audit."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook
from sqlalchemy import select

from bot.telegram.error_texts import error_text
from bot.telegram_limits import MB
from storage.models import AuditEntry, Member
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
HEAD = Person(4, "Hugo")

EVIL_NAME = '=HYPERLINK("http://evil.example")'


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (
                MANAGER,
                "/add Иванов Петр, +7 999 123-45-67, ivanov@mail.ru, Москва, #vip, hot, "
                "contact: Анна, source: выставка, consent: yes, birthday: 15.03.1980",
            ),
            (MANAGER, f"/add {EVIL_NAME}"),
            (OTHER, "/add Сидоров, +7 999 555-44-33, segment: VIP"),
            (MANAGER, "/note Иванов +7 call him first"),
            (MANAGER, "/note Иванов -discount 5%"),
            (MANAGER, "/note Иванов @boss asked"),
            (MANAGER, "/call Иванов done"),
        ),
        clear=True,
    )


def _documents(h: BotHarness) -> list[BufferedInputFile]:
    files = [m.document for m in h.session.sent(SendDocument)]
    assert all(isinstance(f, BufferedInputFile) for f in files)
    return files  # type: ignore[return-value]


def _xlsx(doc: BufferedInputFile) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(io.BytesIO(doc.data), read_only=True)
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in book}


def _csv(doc: BufferedInputFile) -> list[list[str]]:
    text = doc.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


async def test_owner_exports_every_client_to_xlsx_with_activities(team: BotHarness):
    replies = await team.send(OWNER, "/export with activities")
    assert "3 clients exported" in replies[-1].text
    [doc] = _documents(team)
    assert doc.filename == "clients-2026-12-02.xlsx"
    sheets = _xlsx(doc)
    assert list(sheets) == ["Clients", "Activities"]
    header, *rows = sheets["Clients"]
    assert header[:5] == ("ID", "Name", "Contact", "Position", "Phones")
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_name) == {"Иванов Петр", EVIL_NAME, "Сидоров"}
    ivanov = by_name["Иванов Петр"]
    assert ivanov["Phones"] == "+7 999 123-45-67"
    assert ivanov["Email"] == "ivanov@mail.ru"
    assert ivanov["City"] == "Москва"
    assert ivanov["Tags"] == "#vip"
    assert ivanov["Source"] == "выставка"
    assert ivanov["Consent"] == "yes"
    assert ivanov["Contact"] == "Анна"
    assert ivanov["Temperature"] == "hot"
    assert ivanov["Manager"] == "Max"
    assert ivanov["Birthday"] == datetime(1980, 3, 15)
    # Created at 07:15 UTC: 10:15 in the owner's Moscow time.
    assert ivanov["Created"] == datetime(2026, 12, 2, 10, 15)
    assert by_name["Сидоров"]["Segment"] == "VIP"
    # The formula is text, not a formula: openpyxl would report data_type "f" otherwise, and
    # Excel's quote prefix keeps it text even when edited.
    book = load_workbook(io.BytesIO(doc.data))
    cells = {c.value: c for ws in book for row in ws.iter_rows() for c in row if c.value}
    assert all(c.data_type != "f" for c in cells.values())
    for text in (EVIL_NAME, "+7 999 123-45-67", "+7 call him first", "-discount 5%", "@boss asked"):
        assert cells[text].data_type == "s" and cells[text].quotePrefix, text
    activity_header, *activities = sheets["Activities"]
    assert activity_header == ("Client ID", "Client", "When", "Kind", "Result", "Text", "Author")
    texts = sorted(str(a[5]) for a in activities if a[5])
    assert texts == ["+7 call him first", "-discount 5%", "@boss asked"]
    assert {a[3] for a in activities} == {"note", "call"}


async def test_csv_export_of_a_managers_clients_with_history_is_two_files(team: BotHarness):
    await team.send(OWNER, "/export csv Max с историей")
    clients_doc, activities_doc = _documents(team)
    assert clients_doc.filename == "clients-2026-12-02.csv"
    assert activities_doc.filename == "activities-2026-12-02.csv"
    header, *rows = _csv(clients_doc)
    assert header[1] == "Name"
    names = sorted(row[1] for row in rows)
    assert names == ["'" + EVIL_NAME, "Иванов Петр"]
    created = {row[1]: row[header.index("Created")] for row in rows}
    assert created["Иванов Петр"] == "2026-12-02 10:15"
    _head, *acts = _csv(activities_doc)
    assert sorted(a[5] for a in acts if a[5]) == [
        "'+7 call him first",
        "'-discount 5%",
        "'@boss asked",
    ]


async def test_phones_and_tags_stay_with_their_clients_across_chunks(team: BotHarness):
    """Clients, their phones and their tags are read by three cursors side by side, a chunk
    at a time: a client with none, or one whose phones end a chunk, must not shift the rest."""
    await team.send(MANAGER, "/add Без телефона")
    await team.send(MANAGER, "/add Два телефона, +7 999 000-00-01, +7 999 000-00-02, #b #a")
    await team.send(OTHER, "/add Чужой, +7 999 000-00-03, #c")
    await team.send(MANAGER, "/add Последний, +7 999 000-00-04")
    team.session.clear()
    team.app.settings.limits.export_chunk_rows = 2
    await team.send(OWNER, "/export csv Max")
    [doc] = _documents(team)
    header, *rows = _csv(doc)
    by_name = {row[1]: (row[header.index("Phones")], row[header.index("Tags")]) for row in rows}
    assert by_name == {
        "Иванов Петр": ("'+7 999 123-45-67", "#vip"),
        "'" + EVIL_NAME: ("", ""),
        "Без телефона": ("", ""),
        "Два телефона": ("'+7 999 000-00-01, +7 999 000-00-02", "#a #b"),
        "Последний": ("'+7 999 000-00-04", ""),
    }
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), key=int)


async def test_export_of_a_segment_and_a_tag(team: BotHarness):
    await team.send(OWNER, "/export segment vip")
    [doc] = _documents(team)
    assert [row[1] for row in _xlsx(doc)["Clients"][1:]] == ["Сидоров"]
    team.session.clear()
    await team.send(OWNER, "/export #VIP")
    [doc] = _documents(team)
    assert [row[1] for row in _xlsx(doc)["Clients"][1:]] == ["Иванов Петр"]
    team.session.clear()
    replies = await team.send(OWNER, "/export #nosuchtag")
    assert "nothing to export" in replies[-1].text
    assert _documents(team) == []


async def test_every_export_is_audited(team: BotHarness):
    await team.send(OWNER, "/export csv")
    async with team.uow_factory() as uow:
        rows = list(
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        )
    assert len(rows) == 1
    assert rows[0].details == {
        "scope": "all",
        "value": None,
        "format": "csv",
        "rows": 3,
        "activities": 0,
    }


@pytest.mark.parametrize("person", [MANAGER, HEAD])
async def test_manager_and_head_are_refused_without_a_grant(team: BotHarness, person: Person):
    replies = await team.send(person, "/export")
    assert "Only the owner, or a member the owner granted it" in replies[-1].text
    assert _documents(team) == []
    async with team.uow_factory() as uow:
        assert (
            await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
            is None
        )


async def test_granted_manager_exports_own_clients_and_the_owner_is_told(team: BotHarness):
    replies = await team.send(OWNER, "/grant export Max")
    assert "<b>Max</b> may now export" in replies[-1].text
    await team.send(MANAGER, "/export")
    [doc] = _documents(team)
    # Still only what a manager may see: their own two clients, not Nina's.
    assert sorted(row[1] for row in _xlsx(doc)["Clients"][1:]) == [EVIL_NAME, "Иванов Петр"]
    team.session.clear()
    await make_sweep(team).run_once()
    alerts = [
        m.text for m in team.session.sent(SendMessage) if m.chat_id == OWNER.id and "📤" in m.text
    ]
    assert len(alerts) == 1
    assert "<b>Max</b> exported clients of Max: 2 rows, XLSX." in alerts[0]
    # Another manager's clients stay out of reach; a granted head sees the whole team.
    assert "only your own clients" in (await team.send(MANAGER, "/export Nina"))[-1].text
    await team.send(OWNER, "/grant export Hugo")
    team.session.clear()
    await team.send(HEAD, "/export segment VIP")
    [doc] = _documents(team)
    assert [row[1] for row in _xlsx(doc)["Clients"][1:]] == ["Сидоров"]
    # Revoked: the next export is refused at once.
    await team.send(OWNER, "/revoke export Max")
    replies = await team.send(MANAGER, "/export")
    assert "Only the owner" in replies[-1].text
    async with team.uow_factory() as uow:
        actions = list(await uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        granted = await uow.session.scalar(select(Member.can_export).where(Member.telegram_id == 2))
    assert [a for a in actions if a.endswith("_export") or a == "export"] == [
        "grant_export",
        "export",
        "grant_export",
        "export",
        "revoke_export",
    ]
    assert granted is False


async def test_the_owners_own_export_alerts_nobody(team: BotHarness):
    await team.send(OWNER, "/export")
    team.session.clear()
    await make_sweep(team).run_once()
    assert not [m for m in team.session.sent(SendMessage) if "📤" in m.text]


async def test_grant_errors_are_polite(team: BotHarness):
    assert "Only the team owner" in (await team.send(MANAGER, "/grant export Max"))[-1].text
    assert "/grant export Petrov" in (await team.send(OWNER, "/grant Max"))[-1].text
    assert "No team member matches «Zed»" in (await team.send(OWNER, "/grant export Zed"))[-1].text
    assert "owners can always export" in (await team.send(OWNER, "/grant export Olga"))[-1].text
    assert "No team member matches «Zed»" in (await team.send(OWNER, "/export Zed"))[-1].text
    assert "/export segment VIP" in (await team.send(OWNER, "/export segment"))[-1].text


async def test_russian_export_has_russian_headers(team: BotHarness):
    ru_owner = Person(OWNER.id, OWNER.first_name, language="ru")
    await team.send(ru_owner, "/settings lang ru")
    team.session.clear()
    replies = await team.send(ru_owner, "/export")
    [doc] = _documents(team)
    sheets = _xlsx(doc)
    header = sheets[next(iter(sheets))][0]
    assert header[1] == "Название"
    assert "Экспортирован" in replies[-1].text


async def test_a_file_over_telegrams_limit_is_refused(team: BotHarness):
    limits = team.app.settings.limits
    assert "larger than the 50 MB" in error_text(
        "export_too_large", {"limit": limits.export_max_bytes // MB}
    )
    limits.export_max_bytes = 100
    replies = await team.send(OWNER, "/export csv")
    assert "larger than the 1 MB Telegram lets a bot send" in replies[-1].text
    assert _documents(team) == []
    async with team.uow_factory() as uow:
        assert (
            await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
            is None
        )


async def _chunks(n: int) -> AsyncIterator[list[tuple[int, str]]]:
    for i in range(n):
        await asyncio.sleep(0.005)  # a database round trip
        yield [(i, "x")] * 50


async def test_more_concurrent_exports_than_pool_threads_all_finish():
    """Each writer used to hold a pool thread waiting for data while the handover needed
    another: as many exports as pool threads hung for ever."""
    from bot.services.export import _Feed, _finish, _pump, _start_writer
    from bot.services.tabular import Sheet, write_csv

    async def one() -> int:
        feed = _Feed(lambda row: list(row))
        sheet = Sheet("s", ["a", "b"], feed.rows())
        writer = _start_writer(lambda: write_csv(sheet))
        await _pump(_chunks(20), feed, writer)
        return len(await _finish(writer))

    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(4))
    sizes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(8))), timeout=20)
    assert len(sizes) == 8 and all(size > 1000 for size in sizes)


async def test_a_failing_writer_is_reported_not_lost(caplog: pytest.LogCaptureFixture):
    from bot.services.errors import DomainError
    from bot.services.export import _Feed, _finish, _pump, _start_writer

    def broken(rows: Iterator[object]) -> bytes:
        next(iter(rows))
        raise OSError("disk full")

    feed = _Feed(lambda row: list(row))
    writer = _start_writer(lambda: broken(feed.rows()))
    await asyncio.wait_for(_pump(_chunks(30), feed, writer), timeout=20)
    with pytest.raises(DomainError) as err:
        await _finish(writer)
    assert err.value.code == "export_failed"
    assert "export writer failed" in caplog.text


async def test_a_failing_export_is_answered_politely(harness: BotHarness, monkeypatch):
    import bot.services.export as export_module

    def broken(sheets: object) -> bytes:
        raise OSError("disk full")

    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Иванов, +7 999 123-45-67")
    monkeypatch.setattr(export_module, "write_xlsx", broken)
    replies = await harness.send(OWNER, "/export")
    assert "could not be built" in replies[-1].text
