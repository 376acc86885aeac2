"""bot/fields.py describes each client field once: the model's columns, the export, the import,
the card, `/add` and `/forget` all follow it, so a field added there reaches every one of them."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from sqlalchemy import select

from bot.fields import CLIENT_FIELDS, EXPORTED, FIELDS_BY_NAME, IMPORTED, ON_CARD, Kind
from bot.i18n import _, use_locale
from bot.services.importing.mapping import FIELDS, guess_field
from bot.telegram.callbacks import ForgetClient
from storage.dto import ClientDTO
from storage.models import Client, ClientContact, ClientPhone, ClientTag
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
# Columns of `clients` that are bookkeeping, not a field anyone fills in or reads as such.
BOOKKEEPING = {
    "team_id",
    "manager_id",
    "stage_changed_at",
    "last_activity_at",
    "archived_at",
    "erased_at",
    "search_text",
    "phone_digits",
    "updated_at",
}
# A value for every kind `/add key: value` takes, and what the export's CSV shows for it.
TYPED = {
    Kind.PERSON: ("Анна Смирнова", "Анна Смирнова"),
    Kind.TEXT: ("Текст {name}", "Текст {name}"),
    Kind.EMAIL: ("ivanov@mail.ru", "ivanov@mail.ru"),
    Kind.URL: ("ivanov-trade.ru", "ivanov-trade.ru"),
    Kind.DATE: ("15.03.1980", "1980-03-15"),
    Kind.MONEY: ("150000", "150000.00"),
    Kind.CONSENT: ("yes", "yes"),
    # A leading "+" is a formula to a spreadsheet: CSV neutralises it (bot/services/tabular.py).
    Kind.PHONES: ("+7 999 123-45-67", "'+7 999 123-45-67"),
    Kind.NOTE: ("secret discount", None),
}


def _length(column: Any) -> int | None:
    return getattr(column.type, "length", None)


def test_every_column_field_is_a_client_column_of_the_registry_length():
    columns = Client.__table__.c
    for field in CLIENT_FIELDS:
        if field.is_column:
            assert field.name in columns, field.name
            if _length(columns[field.name]) is not None or field.max_length is not None:
                assert _length(columns[field.name]) == field.max_length, field.name
    phone, tags, person = (FIELDS_BY_NAME[n] for n in ("phone", "tags", "contact_person"))
    assert _length(ClientPhone.__table__.c.raw) == phone.max_length
    assert _length(ClientTag.__table__.c.tag) == tags.max_length
    assert _length(ClientContact.__table__.c.name) == person.max_length


def test_every_client_column_is_a_field_or_bookkeeping():
    fields = {field.name for field in CLIENT_FIELDS if field.is_column}
    assert set(Client.__table__.c.keys()) == fields | BOOKKEEPING
    assert fields - {"id"} <= set(ClientDTO.__dataclass_fields__)


def test_names_labels_and_keys_are_unique():
    assert len(FIELDS_BY_NAME) == len(CLIENT_FIELDS)
    for group in (IMPORTED, EXPORTED):
        assert len({field.label for field in group}) == len(group)
        assert len({field.title for field in group}) == len(group)
    keys = [key for field in CLIENT_FIELDS for key in field.add_keys]
    headers = [header for field in IMPORTED for header in field.headers or ()]
    assert len(set(keys)) == len(keys) and len(set(headers)) == len(headers)
    assert tuple(field.name for field in IMPORTED) == FIELDS


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_export_title_imports_back_into_its_field(language: str):
    """A file the bot exported, sent back to `/import`, lands in the same fields."""
    with use_locale(language):
        for field in EXPORTED:
            expected = field.name if field.imported else None
            assert guess_field(_(field.title)) == expected, (field.name, _(field.title))
        for field in IMPORTED:
            assert guess_field(_(field.label)) == field.name, (field.name, _(field.label))


def _documents(h: BotHarness) -> list[BufferedInputFile]:
    return [m.document for m in h.session.sent(SendDocument)]  # type: ignore[misc]


async def test_a_client_with_every_field_goes_through_add_card_export_and_forget(
    harness: BotHarness,
):
    await harness.join_owner(OWNER)
    typed: dict[str, str | None] = {}
    parts = []
    for field in CLIENT_FIELDS:
        if field.add_keys:
            value, shown = TYPED[field.kind]
            parts.append(f"{field.add_keys[0]}: {value.format(name=field.name)}")
            typed[field.name] = shown.format(name=field.name) if shown else None
    replies = await harness.send(OWNER, "/add Иванов Петр, hot, #vip, " + ", ".join(parts))
    assert "Иванов Петр" in replies[-1].text

    card = (await harness.send(OWNER, "/client Иванов"))[-1].text
    for field in ON_CARD:
        assert f"\n{_(field.card_title)}: " in card, field.name
    assert f"{_(FIELDS_BY_NAME['city'].label)}: Текст city" in card

    await harness.send(OWNER, "/export csv")
    [doc] = _documents(harness)
    header, row = list(csv.reader(io.StringIO(doc.data.decode("utf-8-sig")), delimiter=";"))
    assert header == [_(field.title) for field in EXPORTED]
    cells = dict(zip((field.name for field in EXPORTED), row, strict=True))
    for name, shown in typed.items():
        if FIELDS_BY_NAME[name].exported:
            assert cells[name] == shown, name
    assert cells["tags"] == "#vip" and cells["temperature"] == "hot"

    async with harness.uow_factory() as uow:
        before = (await uow.session.execute(select(Client))).scalar_one()
        client_id = before.id
    await harness.send(OWNER, "/forget Иванов")
    await harness.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    async with harness.uow_factory() as uow:
        after = (await uow.session.execute(select(Client))).scalar_one()
        phones = (await uow.session.execute(select(ClientPhone))).all()
        tags = (await uow.session.execute(select(ClientTag))).all()
    assert after.erased_at is not None and after.name == f"#{client_id}"
    for field in CLIENT_FIELDS:
        if not field.is_column or field.kind is Kind.NAME:
            continue
        kept = getattr(after, field.name)
        if field.personal:
            assert kept is None, field.name
        else:
            assert kept == getattr(before, field.name), field.name
    assert before.potential == Decimal("150000")
    assert before.birthday == date(1980, 3, 15)
    assert phones == [] and tags == []
