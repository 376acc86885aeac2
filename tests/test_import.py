"""Import of client tables through the real Dispatcher: files made here with openpyxl and csv the
way offices really keep them, the mapping buttons, duplicates, refusals and all-or-nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetFile, SendDocument
from aiogram.types import Chat, Message, PhotoSize, Update
from openpyxl import Workbook
from sqlalchemy import select

from bot.services.importing import service as import_service
from bot.services.importing.mapping import FIELDS
from bot.telegram.callbacks import ImportAction
from storage.models import Activity, AuditEntry, Client, ClientPhone, ClientTag, Followup
from storage.repositories.imports import ImportRepository
from tests.support.harness import BotHarness, Person, Reply
from tests.support.reads import count
from tests.support.uploads import button, csv_bytes, upload

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
RU_OWNER = Person(5, "Ольга", language="ru")


def tok_of(reply: Reply) -> str:
    return ImportAction.unpack(reply.buttons[0][1]).tok


def xlsx(rows: list[list[Any]], merge: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def clients(h: BotHarness) -> dict[str, Client]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(select(Client))
        return {row.name: row for row in rows}


async def phones_of(h: BotHarness, name: str) -> list[str]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(
            select(ClientPhone.digits)
            .join(Client, Client.id == ClientPhone.client_id)
            .where(Client.name == name)
            .order_by(ClientPhone.id)
        )
        return list(rows)


async def tags_of(h: BotHarness, name: str) -> list[str]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(
            select(ClientTag.tag)
            .join(Client, Client.id == ClientTag.client_id)
            .where(Client.name == name)
            .order_by(ClientTag.tag)
        )
        return list(rows)


OFFICE_XLSX = [
    ["Клиентская база ООО «Вектор»"],  # a title above the header, merged across in Excel
    [],
    ["Название", "Контактное лицо", "Телефон", None, "E-mail", "Город", "ДР", "Ответственный"],
    ["ООО Ромашка", "Пётр Иванов", "+7 (999) 123-45-67", "8 999 1234568", "info@romashka.ru",
     "Москва", 29295, "Max"],
    [],
    ["ИП Сидоров", None, 9991234569, None, None, "Тула", "15.03.1980", None],
    [None, None, None, None, None, None, None, None],
    ["Альфа", None, "12", None, "alpha@", "Казань", "31.02.1980", "Вася Пупкин"],
    ["Бета", None, "9991234570", None, None, "Сочи", "15 марта 1980", "@max"],
]  # fmt: skip


async def import_office_file(h: BotHarness) -> list[Reply]:
    replies = await upload(h, OWNER, xlsx(OFFICE_XLSX, merge="C3:D3"), "база.xlsx")
    mapping = replies[-1]
    assert "4 rows" in mapping.text
    # The merged "Телефон" names both phone columns; the title row is not the header.
    assert "3. Телефон → <b>Phone</b>" in mapping.text
    assert "4. Телефон → <b>Phone</b>" in mapping.text
    assert "8. Ответственный → <b>Manager</b>" in mapping.text
    return await h.press(OWNER, button(mapping, "go"))


async def test_an_office_xlsx_is_imported_and_bad_rows_are_reported(team: BotHarness):
    replies = await import_office_file(team)
    report = replies[-1].text
    assert "Rows read: 4. Clients added: 3." in report
    assert "Rows skipped because of problems: 1." in report
    assert "row 8, Телефон: not a phone number «12»" in report
    assert "row 8, E-mail: not an email address «alpha@»" in report
    assert "row 8, ДР: not a date «31.02.1980»" in report
    assert "row 8, Ответственный: no such team member «Вася Пупкин»" in report
    # A row with problems is skipped whole, not imported half.
    assert set(await clients(team)) == {"ООО Ромашка", "ИП Сидоров", "Бета"}


async def test_office_xlsx_values_land_in_the_right_fields(team: BotHarness):
    await import_office_file(team)
    found = await clients(team)
    romashka = found["ООО Ромашка"]
    assert romashka.contact_person == "Пётр Иванов"
    assert romashka.email == "info@romashka.ru"
    assert romashka.city == "Москва"
    assert romashka.birthday == date(1980, 3, 15)  # an Excel serial
    assert romashka.temperature == "warm" and romashka.consent == "unknown"
    assert "petr ivanov" in romashka.search_text  # found by the contact person too
    assert await phones_of(team, "ООО Ромашка") == ["79991234567", "79991234568"]
    assert romashka.phone_digits == "79991234567 79991234568"
    sidorov = found["ИП Сидоров"]
    assert sidorov.birthday == date(1980, 3, 15)  # text date
    assert await phones_of(team, "ИП Сидоров") == ["79991234569"]  # a number cell
    async with team.uow_factory() as uow:
        members = {m.full_name: m.id for m in (await uow.members.of_team(1)).values()}
    assert romashka.manager_id == members["Max"]
    assert sidorov.manager_id == members["Olga"]  # empty manager: the importing owner


async def test_named_month_dates_and_username_managers_are_understood(team: BotHarness):
    async with team.uow_factory() as uow:
        members = {m.full_name: m.id for m in (await uow.members.of_team(1)).values()}
        await uow.members.update(1, members["Max"], username="maxsales")
        await uow.commit()
    rows = [
        ["Клиент", "Менеджер", "День рождения"],
        ["Бета", "@MaxSales", "15 марта 1980"],
        ["Гамма", "max", "1 December 1975"],
    ]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "m.csv"))[-1]
    await team.press(OWNER, button(mapping, "go"))
    found = await clients(team)
    assert found["Бета"].birthday == date(1980, 3, 15)
    assert found["Гамма"].birthday == date(1975, 12, 1)
    assert found["Бета"].manager_id == found["Гамма"].manager_id == members["Max"]


async def test_every_new_client_gets_a_first_call_today_and_the_import_is_audited(
    team: BotHarness,
):
    await import_office_file(team)
    async with team.uow_factory() as uow:
        followups = list(await uow.session.scalars(select(Followup)))
        audit = await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert len(followups) == len(await clients(team))
    assert {f.due_on for f in followups} == {date(2026, 12, 2)}
    assert all(f.state == "pending" and f.date_only for f in followups)
    assert audit is not None and audit.actor_id is not None
    assert audit.details is not None and audit.details["imported"] == len(followups)
    assert audit.details["skipped_rows"] >= 1


async def test_a_windows_1251_csv_with_semicolons_and_next_calls(team: BotHarness):
    rows = [
        ["Компания", "Тел.", "Почта", "Город", "Следующий звонок", "Температура", "Теги",
         "Потенциал", "Согласие", "Комментарий"],
        ["Гамма", "8 999 1234567", "g@gamma.ru", "Пермь", "10.12.2026", "горячий", "vip, опт",
         "1 500 000", "да", "Любит скидки"],
        ["", "", "", "", "", "", "", "", "", ""],
        ["Дельта", "9991234599", "", "Омск", "", "cold", "", "", "нет", ""],
    ]  # fmt: skip
    replies = await upload(team, OWNER, csv_bytes(rows), "clients.csv")
    mapping = replies[-1]
    assert "2 rows" in mapping.text
    for line in ("1. Компания → <b>Name</b>", "2. Тел. → <b>Phone</b>", "3. Почта → <b>Email</b>",
                 "5. Следующий звонок → <b>Next call</b>", "8. Потенциал → <b>Potential</b>",
                 "9. Согласие → <b>Consent</b>", "10. Комментарий → <b>Note</b>"):  # fmt: skip
        assert line in mapping.text
    replies = await team.press(OWNER, button(mapping, "go"))
    assert "Clients added: 2." in replies[-1].text
    found = await clients(team)
    gamma, delta = found["Гамма"], found["Дельта"]
    assert gamma.temperature == "hot" and delta.temperature == "cold"
    assert gamma.consent == "yes" and delta.consent == "no"
    assert str(gamma.potential) == "1500000.00"
    assert await tags_of(team, "Гамма") == ["vip", "опт"]
    async with team.uow_factory() as uow:
        due = await uow.session.scalar(
            select(Followup.due_on).where(Followup.client_id == gamma.id)
        )
        note = await uow.session.scalar(select(Activity.text).where(Activity.client_id == gamma.id))
    assert due == date(2026, 12, 10)
    assert note == "Любит скидки"


@pytest.mark.parametrize(
    ("delimiter", "encoding"), [(",", "utf-8-sig"), ("\t", "utf-8"), (";", "utf-8")]
)
async def test_csv_in_utf8_with_or_without_bom_and_any_delimiter(
    team: BotHarness, delimiter: str, encoding: str
):
    rows = [["Name", "Phone", "City"], ["Иванов и партнёры", "+7 999 123-45-67", "Москва"]]
    content = csv_bytes(rows, delimiter=delimiter, encoding=encoding)
    mapping = (await upload(team, OWNER, content, "export.CSV"))[-1]
    await team.press(OWNER, button(mapping, "go"))
    found = await clients(team)
    assert found["Иванов и партнёры"].city == "Москва"


async def test_duplicates_ask_first_then_skip(team: BotHarness):
    await team.send(OWNER, "/add Старый клиент, +7 999 123-45-67, old@x.ru")
    rows = [
        ["Название", "Телефон", "Email", "Город"],
        ["Новый по телефону", "8 (999) 123-45-67", "", "Москва"],  # same phone as the base
        ["Новый по почте", "", "OLD@x.ru", ""],  # same email, other case
        ["Ромашка", "9990000001", "", "Тула"],
        ["ромашка", "9990000002", "", "тула"],  # same name and city as the row above
        ["Уникальный", "9990000003", "", ""],
    ]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "dups.csv"))[-1]
    replies = await team.press(OWNER, button(mapping, "go"))
    question = replies[-1]
    assert "Duplicates found: 3." in question.text
    assert await count(team, Client) == 1  # nothing written before the choice
    replies = await team.press(OWNER, button(question, "skip"))
    report = replies[-1].text
    assert "Clients added: 2." in report and "Duplicates skipped: 3." in report
    assert set(await clients(team)) == {"Старый клиент", "Ромашка", "Уникальный"}
    assert await phones_of(team, "Ромашка") == ["79990000001"]


async def test_duplicates_merge_fills_empty_fields_and_never_overwrites(team: BotHarness):
    await team.send(OWNER, "/add Старый клиент, +7 999 123-45-67, Москва, #vip")
    rows = [
        ["Название", "Телефон", "Телефон 2", "Город", "Email", "Сегмент", "Теги"],
        ["Старый клиент (дубль)", "89991234567", "+7 999 765-43-21", "Казань", "s@x.ru",
         "Опт", "vip, новые"],
        ["Ромашка", "9990000001", "", "Тула", "", "", ""],
        ["Ромашка", "9990000009", "", "Тула", "r@x.ru", "Розница", "лид"],
    ]  # fmt: skip
    mapping = (await upload(team, OWNER, csv_bytes(rows), "dups.csv"))[-1]
    question = (await team.press(OWNER, button(mapping, "go")))[-1]
    assert "Duplicates found: 2." in question.text
    report = (await team.press(OWNER, button(question, "merge")))[-1].text
    assert "Clients added: 1." in report
    assert "Duplicates merged into existing clients: 2." in report
    found = await clients(team)
    assert set(found) == {"Старый клиент", "Ромашка"}
    old = found["Старый клиент"]
    assert old.city == "Москва"  # kept, not overwritten by Казань
    assert old.email == "s@x.ru" and old.segment == "Опт"  # were empty: filled
    assert await phones_of(team, "Старый клиент") == ["79991234567", "79997654321"]
    assert old.phone_digits.split() == ["79991234567", "79997654321"]
    assert await tags_of(team, "Старый клиент") == ["vip", "новые"]
    romashka = found["Ромашка"]
    assert romashka.email == "r@x.ru" and romashka.segment == "Розница"
    assert await phones_of(team, "Ромашка") == ["79990000001", "79990000009"]
    assert await tags_of(team, "Ромашка") == ["лид"]
    # The merged phone finds the old client.
    found_by_phone = (await team.send(OWNER, "/find 7654321"))[-1]
    assert any("Старый клиент" in text for text, _ in found_by_phone.buttons)


async def test_mapping_is_fixed_with_buttons(team: BotHarness):
    rows = [["Фирма", "Что-то", "Телефон"], ["Ромашка", "Москва", "9991234567"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    assert "1. Фирма → <i>skip</i>" in mapping.text
    tok = tok_of(mapping)
    # Import without a name column is refused politely.
    await team.press(OWNER, button(mapping, "go"))
    assert await count(team, Client) == 0
    assert any("column with the client's name" in r.text for r in team.replies())
    # The refusal ends that attempt; send again and fix the mapping this time.
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    tok = tok_of(mapping)
    choice = (await team.press(OWNER, ImportAction(act="col", tok=tok, col=0).pack()))[-1]
    # A button per field (bot/fields.py), then "skip" and "back".
    assert "«Фирма»" in choice.text and len(choice.buttons) == len(FIELDS) + 2
    back = await team.press(OWNER, ImportAction(act="set", tok=tok, col=0, fld="name").pack())
    assert "1. Фирма → <b>Name</b>" in back[-1].text
    await team.press(OWNER, ImportAction(act="set", tok=tok, col=1, fld="city").pack())
    await team.press(OWNER, ImportAction(act="set", tok=tok, col=2, fld="-").pack())
    await team.press(OWNER, ImportAction(act="go", tok=tok).pack())
    romashka = (await clients(team))["Ромашка"]
    assert romashka.city == "Москва" and romashka.phone_digits == ""


async def test_forged_or_old_import_buttons_do_nothing(team: BotHarness):
    rows = [["Название"], ["Ромашка"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    tok = tok_of(mapping)
    for data in (
        ImportAction(act="go", tok="000000").pack(),
        f"im:set:{tok}:0:hacked",  # refused when parsed, like an unknown button
        ImportAction(act="set", tok=tok, col=99, fld="name").pack(),
        f"im:explode:{tok}:-1:",
    ):
        await team.press(OWNER, data)
        alerts = team.alerts()
        assert any("expired" in a or "no longer active" in a for a in alerts), data
    await team.press(MANAGER, ImportAction(act="go", tok=tok).pack())
    assert any("Only the team owner" in alert for alert in team.alerts())
    assert await count(team, Client) == 0
    await team.press(OWNER, button(mapping, "stop"))
    assert "cancelled" in team.replies()[-1].text
    await team.press(OWNER, button(mapping, "go"))
    assert any("expired" in alert for alert in team.alerts())
    assert await count(team, Client) == 0


async def test_restart_in_the_middle_of_the_mapping_loses_nothing(
    team: BotHarness, engine: Any, clock: Any, settings: Any
):
    rows = [["Фирма", "Телефон"], ["Ромашка", "9991234567"]]
    content = csv_bytes(rows)
    mapping = (await upload(team, OWNER, content, "t.csv"))[-1]
    tok = tok_of(mapping)
    await team.press(OWNER, ImportAction(act="set", tok=tok, col=0, fld="name").pack())
    file_id = next(iter(team.session.files))
    # A new process: new Dispatcher, new Bot session; only the database is the same.
    restarted = BotHarness.create(settings, engine, clock)
    restarted.session.add_file(file_id, content)
    try:
        replies = await restarted.press(OWNER, ImportAction(act="go", tok=tok).pack())
        assert "Clients added: 1." in replies[-1].text
        # The rows read at preview were kept on disk under the token: not downloaded again.
        assert not restarted.session.sent(GetFile)
        assert restarted.session.violations == []
    finally:
        await restarted.app.bot.session.close()
    assert await phones_of(team, "Ромашка") == ["79991234567"]


async def test_too_large_file_is_refused_before_downloading(team: BotHarness):
    replies = await upload(team, OWNER, b"x", "big.xlsx", size=21 * 1024 * 1024)
    assert "too large: at most 20 MB" in replies[-1].text
    assert not team.session.sent(GetFile)


async def test_more_than_50000_rows_is_refused(team: BotHarness):
    content = ("Название\n" + "Клиент\n" * 50_001).encode()
    replies = await upload(team, OWNER, content, "huge.csv")
    assert "more than 50000 rows" in replies[-1].text
    assert await count(team, Client) == 0


async def test_exactly_the_row_limit_is_accepted(team: BotHarness):
    team.app.settings.limits.import_max_rows = 3
    content = "Название\nА\nБ\nВ\n".encode()
    mapping = (await upload(team, OWNER, content, "ok.csv"))[-1]
    assert "3 rows" in mapping.text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("scan.pdf", b"%PDF-1.4", "not a table I can read"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "save it as <b>.xlsx</b>"),
        ("broken.xlsx", b"not a zip at all", "not a table I can read"),
        ("binary.csv", b"\x00\x01\x02PK", "not a table I can read"),
        ("empty.csv", b"\r\n;;\r\n", "The table is empty"),
        ("header-only.csv", b"Name;Phone\r\n", "The table is empty"),
    ],
)
async def test_files_that_are_not_tables_get_a_clear_refusal(
    team: BotHarness, name: str, content: bytes, expected: str
):
    replies = await upload(team, OWNER, content, name)
    assert expected in replies[-1].text
    assert await team.send(OWNER, "/today")  # the owner is not stuck in some state


async def test_a_photo_gets_a_hint_to_send_a_file(team: BotHarness):
    team.session.clear()
    message = Message(
        message_id=next(team._ids),
        date=datetime.now(UTC),
        chat=Chat(id=OWNER.id, type="private"),
        from_user=team._user(OWNER),
        photo=[PhotoSize(file_id="p1", file_unique_id="p1", width=10, height=10)],
    )
    await team.app.dispatcher.feed_update(
        team.app.bot, Update(update_id=next(team._ids), message=message)
    )
    assert "I can only read tables" in team.replies()[-1].text


async def test_non_owners_get_a_polite_refusal(team: BotHarness):
    rows = [["Название"], ["Ромашка"]]
    replies = await upload(team, MANAGER, csv_bytes(rows), "t.csv")
    assert "Only the team owner can import clients" in replies[-1].text
    assert not team.session.sent(GetFile)
    assert "Only the team owner" in (await team.send(MANAGER, "/import"))[-1].text
    assert (
        "This is a private sales assistant"
        in (await upload(team, Person(99, "Stranger"), csv_bytes(rows), "t.csv"))[-1].text
    )


async def test_import_command_explains_what_to_send_in_russian(harness: BotHarness):
    await harness.join_owner(RU_OWNER)
    text = (await harness.send(RU_OWNER, "/import"))[-1].text
    assert ".xlsx" in text and "20" in text and "Windows-1251" in text
    assert "Пришлите" in text or "файл" in text
    help_messages = await harness.send(RU_OWNER, "/help")
    assert any("/import" in m.text for m in help_messages)


async def test_a_failure_half_way_leaves_the_base_as_it_was(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    await team.send(OWNER, "/add Старый клиент, +7 999 123-45-67")
    before = {model: await count(team, model) for model in (Client, ClientPhone, Followup)}
    team.app.settings.limits.import_write_rows = 2
    calls = {"n": 0}
    original = ImportRepository.add_followups

    async def failing(self: ImportRepository, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the first batch is written, the second fails
            raise RuntimeError("disk full")
        await original(self, rows)

    monkeypatch.setattr(ImportRepository, "add_followups", failing)
    rows = [["Название", "Телефон"]] + [[f"Клиент {i}", f"99900000{i:02d}"] for i in range(5)]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    replies = await team.press(OWNER, button(mapping, "go"))
    assert calls["n"] == 2
    assert "failed and nothing was saved" in replies[-1].text
    after = {model: await count(team, model) for model in (Client, ClientPhone, Followup)}
    assert after == before
    assert not any(a.action == "import" for a in await _audit(team))
    # The owner is not stuck: the next command works.
    assert "Старый клиент" in (await team.send(OWNER, "/client Старый"))[-1].text


async def _audit(h: BotHarness) -> list[AuditEntry]:
    async with h.uow_factory() as uow:
        return list(await uow.session.scalars(select(AuditEntry)))


async def test_progress_is_shown_while_importing_and_the_button_is_answered_at_once(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    team.app.settings.limits.import_progress_seconds = 0
    monkeypatch.setattr(import_service, "PROGRESS_EVERY", 10)
    team.app.settings.limits.import_write_rows = 25
    rows = [["Название"]] + [[f"Клиент {i}"] for i in range(100)]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    await team.press(OWNER, button(mapping, "go"))
    requests = team.session.requests
    answer = next(i for i, r in enumerate(requests) if isinstance(r, AnswerCallbackQuery))
    edits = [r.text for r in requests if isinstance(r, EditMessageText)]
    assert answer == 0  # before any progress: the spinner stops at once
    assert any("rows read" in text for text in edits)
    assert "⏳ Importing… clients written: 50 of 100 (50%)." in edits
    assert edits[-1] == "✅ Import finished."


async def test_many_problems_come_with_a_csv_of_all_of_them(team: BotHarness):
    rows = [["Название", "Телефон"]] + [[f"Клиент {i}", "12"] for i in range(25)]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    replies = await team.press(OWNER, button(mapping, "go"))
    report = replies[-1].text
    assert report.count("not a phone number") == 20
    assert "and 5 more" in report
    documents = team.session.sent(SendDocument)
    assert len(documents) == 1
    data = documents[0].document.data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(data), delimiter=";"))
    assert lines[0] == ["Row", "Column", "Problem", "Value"]
    assert len(lines) == 26 and lines[-1] == ["26", "Телефон", "not a phone number", "12"]


async def test_an_xlsx_counts_its_rows_exactly_at_preview(team: BotHarness):
    mapping = (await upload(team, OWNER, xlsx(OFFICE_XLSX), "база.xlsx"))[-1]
    assert "4 rows" in mapping.text  # row 7 is kept by Excel although empty: not counted
    replies = await team.press(OWNER, button(mapping, "go"))
    assert "Rows read: 4." in replies[-1].text


async def test_progress_edits_wait_for_the_interval_on_the_clock(team: BotHarness):
    from handlers.importing import ProgressMessage

    clock = team.clock
    progress = ProgressMessage(team.app.bot, OWNER.id, 77, clock, interval=5)
    team.session.clear()
    await progress("read", 500, 0)  # the first one is shown
    await progress("read", 1000, 0)  # a moment later: not yet
    clock.advance(timedelta(seconds=4))
    await progress("read", 1500, 0)
    clock.advance(timedelta(seconds=1))
    await progress("write", 1000, 4000)
    edits = [r.text for r in team.session.sent(EditMessageText)]
    assert edits == [
        "⏳ Checking the file… rows read: 500.",
        "⏳ Importing… clients written: 1,000 of 4,000 (25%).",
    ]
    # A failed edit (Telegram hiccup) does not stop the import.
    team.session.fail_next(400, "Bad Request: message to edit not found")
    clock.advance(timedelta(seconds=5))
    await progress("write", 2000, 4000)
    assert progress.edits == 2


async def test_an_exception_in_the_service_rolls_the_whole_file_back(team: BotHarness):
    """Below the handler: the unit of work that saw the failure commits nothing."""
    from bot.config import Settings
    from bot.services.context import Actor, ServiceContext
    from bot.services.importing.service import DuplicatePolicy, ImportService

    rows = [["Название", "Телефон", "Теги"]]
    rows += [[f"Клиент {i}", f"99900000{i:02d}", "vip"] for i in range(10)]
    content = csv_bytes(rows)
    settings = Settings(_env_file=None, bot_token=None, limits={"import_write_rows": 3})
    tables = (Client, ClientPhone, ClientTag, Followup, AuditEntry)
    before = [await count(team, model) for model in tables]
    async with team.uow_factory() as uow:
        version = (await uow.teams.get(1)).roster_version

    async def explode(stage: str, done: int, total: int) -> None:
        if stage == "write" and done >= 6:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        async with team.uow_factory() as uow:
            found = await uow.members.with_team(OWNER.id)
            assert found is not None
            ctx = ServiceContext(
                uow, team.clock, settings.limits, settings.rules, files=team.app.files
            )
            service, actor = ImportService(ctx), Actor(*found)
            preview = await service.preview(actor, "t.csv", content, "abc123")
            await service.run(
                actor, "abc123", preview.headers, ["name", "phone", "tags"],
                DuplicatePolicy.ASK, explode,
            )  # fmt: skip
            await uow.commit()  # never reached
    assert [await count(team, model) for model in tables] == before
    async with team.uow_factory() as uow:
        assert (await uow.teams.get(1)).roster_version == version


async def test_rows_without_a_manager_go_to_the_chosen_default_manager(team: BotHarness):
    rows = [["Название", "Менеджер"], ["Ромашка", ""], ["Лютик", "Olga"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    assert "Rows without a manager go to <b>Olga</b>." in mapping.text
    chosen = (await team.press(OWNER, button(mapping, "mgr")))[-1]
    assert "Rows without a manager go to <b>Max</b>." in chosen.text
    assert "👤 No manager → Max" in [text for text, _ in chosen.buttons]
    await team.press(OWNER, button(chosen, "go"))
    found = await clients(team)
    async with team.uow_factory() as uow:
        members = {m.full_name: m.id for m in (await uow.members.of_team(1)).values()}
        followup_manager = await uow.session.scalar(
            select(Followup.manager_id).where(Followup.client_id == found["Ромашка"].id)
        )
    assert found["Ромашка"].manager_id == members["Max"] == followup_manager
    assert found["Лютик"].manager_id == members["Olga"]


async def test_a_default_manager_who_left_meanwhile_is_not_used(team: BotHarness):
    rows = [["Название"], ["Ромашка"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    chosen = (await team.press(OWNER, button(mapping, "mgr")))[-1]
    async with team.uow_factory() as uow:
        members = {m.full_name: m.id for m in (await uow.members.of_team(1)).values()}
        await uow.members.update(1, members["Max"], is_active=False)
        await uow.commit()
    replies = await team.press(OWNER, button(chosen, "go"))
    assert "expired" in replies[-1].text
    assert await count(team, Client) == 0


async def test_a_managers_photo_is_not_taken_for_an_import(team: BotHarness):
    team.session.clear()
    message = Message(
        message_id=next(team._ids),
        date=datetime.now(UTC),
        chat=Chat(id=MANAGER.id, type="private"),
        from_user=team._user(MANAGER),
        photo=[PhotoSize(file_id="p2", file_unique_id="p2", width=10, height=10)],
    )
    await team.app.dispatcher.feed_update(
        team.app.bot, Update(update_id=next(team._ids), message=message)
    )
    text = team.replies()[-1].text
    assert "I can only read tables" not in text and "/help" in text


async def _notes(h: BotHarness) -> list[str]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(
            select(Activity.text).where(Activity.kind == "note").order_by(Activity.id)
        )
        return [text or "" for text in rows]


NOTED_ROWS = [
    ["Название", "Телефон", "Примечание"],
    ["Старый клиент", "89991234567", "Просил перезвонить в марте"],
    ["Ромашка", "9990000001", "Опт"],
]


async def test_a_second_press_of_merge_after_the_first_committed_imports_nothing(
    team: BotHarness,
):
    """A double tap on PostgreSQL: the second press read the state (with its token) before the
    first run cleared it, then waited for the team's import lock. Replayed here in order: the
    state as the second press saw it is put back after the first run committed."""
    from aiogram.fsm.storage.base import StorageKey

    await team.send(OWNER, "/add Старый клиент, +7 999 123-45-67")
    mapping = (await upload(team, OWNER, csv_bytes(NOTED_ROWS), "dups.csv"))[-1]
    question = (await team.press(OWNER, button(mapping, "go")))[-1]
    assert "Duplicates found: 1." in question.text
    storage = team.app.dispatcher.storage
    key = StorageKey(bot_id=team.app.bot.id, chat_id=OWNER.id, user_id=OWNER.id)
    seen_state, seen_data = await storage.get_state(key), await storage.get_data(key)
    report = (await team.press(OWNER, button(question, "merge")))[-1].text
    assert "Clients added: 1." in report and "merged into existing clients: 1." in report
    await storage.set_state(key, seen_state)
    await storage.set_data(key, seen_data)
    again = await team.press(OWNER, button(question, "merge"))
    assert "already been imported" in again[-1].text
    assert not any("Import finished" in reply.text for reply in again)
    assert sorted(await _notes(team)) == ["Опт", "Просил перезвонить в марте"]
    assert await count(team, Client) == 2
    assert len([a for a in await _audit(team) if a.action == "import"]) == 1


async def test_the_same_file_merged_again_does_not_repeat_notes(team: BotHarness):
    async with team.uow_factory() as uow:
        version = (await uow.teams.get(1)).roster_version
    for attempt in range(2):
        mapping = (await upload(team, OWNER, csv_bytes(NOTED_ROWS), "notes.csv"))[-1]
        replies = await team.press(OWNER, button(mapping, "go"))
        if attempt:
            replies = await team.press(OWNER, button(replies[-1], "merge"))
            assert "Duplicates merged into existing clients: 2." in replies[-1].text
    assert sorted(await _notes(team)) == ["Опт", "Просил перезвонить в марте"]
    async with team.uow_factory() as uow:  # new names: cached lookups are stale
        assert (await uow.teams.get(1)).roster_version > version
    # A note the client does not have yet is still added by a merge.
    rows = [NOTED_ROWS[0], ["Ромашка", "9990000001", "Новый склад"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "notes.csv"))[-1]
    question = (await team.press(OWNER, button(mapping, "go")))[-1]
    await team.press(OWNER, button(question, "merge"))
    assert sorted(await _notes(team)) == ["Новый склад", "Опт", "Просил перезвонить в марте"]


async def test_an_import_does_not_block_updates_of_the_team_row_on_postgres(
    team: BotHarness, engine: Any
):
    """/add, transfers and /forget bump teams.roster_version while an import may run for a
    minute: the import's lock is an advisory one, which only another import waits for."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer at its write gate")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.repositories.imports import IMPORT_LOCK_NAMESPACE

    async with AsyncSession(engine) as importing, AsyncSession(engine) as other:
        repository = ImportRepository(importing)
        await repository.lock_team(1)
        await repository.reserve_client_ids(1, 3)  # the write phase has begun
        # Fails at once instead of hanging if the import held a lock on the team row.
        await other.execute(text("SET LOCAL lock_timeout = '2s'"))
        await other.execute(text("UPDATE teams SET roster_version = roster_version + 1"))
        second_import = await other.scalar(
            text("SELECT pg_try_advisory_xact_lock(:ns, 1)"), {"ns": IMPORT_LOCK_NAMESPACE}
        )
        assert second_import is False
        await other.rollback()
        await importing.rollback()


async def test_a_shutdown_during_an_import_tells_the_owner_nothing_was_saved(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    import asyncio

    from bot.services.importing.service import ImportService

    started = asyncio.Event()

    async def long_import(*args: Any, **kwargs: Any) -> None:
        started.set()
        await asyncio.Event().wait()  # a 50,000-row file still being written

    monkeypatch.setattr(ImportService, "run", long_import)
    mapping = (await upload(team, OWNER, csv_bytes(NOTED_ROWS), "t.csv"))[-1]
    team.session.clear()
    task = asyncio.create_task(
        team.app.dispatcher.feed_update(
            team.app.bot,
            Update(
                update_id=next(team._ids),
                callback_query={
                    "id": "77",
                    "from": {"id": OWNER.id, "is_bot": False, "first_name": OWNER.first_name},
                    "chat_instance": "test",
                    "message": {
                        "message_id": 1,
                        "date": int(datetime.now(UTC).timestamp()),
                        "chat": {"id": OWNER.id, "type": "private"},
                        "text": "…",
                    },
                    "data": button(mapping, "go"),
                },
            ),
        )
    )
    await asyncio.wait_for(started.wait(), timeout=10)
    task.cancel()  # what the runtime does at SHUTDOWN_TIMEOUT_SECONDS
    with pytest.raises(asyncio.CancelledError):
        await task
    edits = [r.text for r in team.session.sent(EditMessageText)]
    assert "Nothing was saved" in edits[-1] and "send the file again" in edits[-1]
    assert await count(team, Client) == 0


async def test_a_shutdown_after_some_batches_were_written_takes_them_back(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    """On SQLite the batches are committed one by one: a shutdown half-way deletes the ones
    already written (with their phones and follow-ups) before the owner is told nothing was
    saved. On PostgreSQL the one transaction is rolled back."""
    import asyncio

    await team.send(OWNER, "/add Старый клиент, +7 999 123-45-67")
    before = {model: await count(team, model) for model in (Client, ClientPhone, Followup)}
    team.app.settings.limits.import_write_rows = 2
    calls = {"n": 0}
    stuck = asyncio.Event()
    original = ImportRepository.add_followups

    async def hanging(self: ImportRepository, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # two batches are written, the third never ends
            stuck.set()
            await asyncio.Event().wait()
        await original(self, rows)

    monkeypatch.setattr(ImportRepository, "add_followups", hanging)
    rows = [["Название", "Телефон"]] + [[f"Клиент {i}", f"99900000{i:02d}"] for i in range(7)]
    mapping = (await upload(team, OWNER, csv_bytes(rows), "t.csv"))[-1]
    team.session.clear()
    pressing = asyncio.create_task(team.press(OWNER, button(mapping, "go")))
    await asyncio.wait_for(stuck.wait(), timeout=20)
    pressing.cancel()  # what the runtime does at SHUTDOWN_TIMEOUT_SECONDS
    with pytest.raises(asyncio.CancelledError):
        await pressing
    edits = [r.text for r in team.session.sent(EditMessageText)]
    assert "Nothing was saved" in edits[-1]
    after = {model: await count(team, model) for model in (Client, ClientPhone, Followup)}
    assert after == before
    assert not any(a.action == "import" for a in await _audit(team))


async def test_a_table_with_150_columns_gets_a_mapping_within_telegrams_limit(
    team: BotHarness,
):
    headers = ["Название"] + [f"Дополнительная колонка {i:03d}" for i in range(149)]
    rows = [headers, ["Ромашка"] + ["x"] * 149]
    replies = await upload(team, OWNER, csv_bytes(rows), "wide.csv")
    assert len(replies) == 1
    text = replies[0].text
    assert len(text) <= 4096
    assert "\n40. Дополнительная колонка" in text and "\n41. " not in text
    assert "…and 110 more columns" in text
    assert team.session.violations == []
