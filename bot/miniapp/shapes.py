"""Service results as the JSON docs/miniapp.md describes: money as decimal strings, instants in
the viewer's zone, enumerations as their values. Presentation only; nothing is decided here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.fields import CLIENT_FIELDS, ClientField, Kind
from bot.services.card_edit import CardData
from storage.dto import MemberDTO, TeamDTO
from storage.repositories.base_table import HistoryRow, TableRow


def money(value: Decimal | None) -> str | None:
    """To the kopeck, as `/portfolio` counts it; never in exponent notation."""
    if value is None:
        return None
    return format(value.quantize(Decimal("0.01")), "f")


def decimal(value: Decimal | None) -> str | None:
    """A share or ratio as the service computed it (the page rounds for display)."""
    if value is None:
        return None
    return format(value.normalize() if value == value.to_integral() else value, "f")


def instant(value: datetime | None, zone: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(zone).isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def member(m: MemberDTO) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.full_name,
        "role": m.role,
        "language": m.language or m.telegram_language,
        "timezone": m.timezone,
    }


def team(t: TeamDTO) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "currency": t.currency, "timezone": t.timezone}


def person(member_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    if member_id is None:
        return None
    return {"id": member_id, "name": names.get(member_id, "?")}


def next_contact(
    due_at: datetime | None,
    due_on: date | None,
    date_only: bool | None,
    reason: str | None,
    zone: ZoneInfo,
    today: date,
) -> dict[str, Any] | None:
    if due_at is None:
        return None
    return {
        "at": instant(due_at, zone),
        "on": day(due_on),
        "date_only": bool(date_only),
        "overdue": due_on is not None and due_on < today,
        "reason": reason,
    }


def table_row(
    row: TableRow,
    names: dict[int, str],
    classes: dict[int, tuple[str | None, str | None]],
    zone: ZoneInfo,
    today: date,
) -> dict[str, Any]:
    abc, xyz = classes.get(row.id, (None, None))
    return {
        "id": row.id,
        "name": row.name,
        "contact_person": row.contact_person,
        "phone": row.phone,
        "manager": person(row.manager_id, names),
        "temperature": row.temperature,
        "stage": row.stage,
        "segment": row.segment,
        "tags": row.tags,
        "next_contact": next_contact(
            row.next_due_at, row.next_due_on, row.next_date_only, row.next_reason, zone, today
        ),
        "last_contact_at": instant(row.last_contact_at, zone),
        "revenue": money(row.revenue),
        "abc": abc,
        "xyz": xyz,
    }


def history_item(row: HistoryRow, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "outcome": row.outcome,
        "text": row.text,
        "at": instant(row.occurred_at, zone),
        "author": {"id": row.author_id, "name": row.author_name},
        "amount": money(row.amount),
        "margin": decimal(row.margin),
    }


def field_value(f: ClientField, card: CardData, zone: ZoneInfo) -> Any:
    client = card.client
    if f.kind is Kind.PHONES:
        return card.phones
    if f.kind is Kind.TAGS:
        return card.tags
    if f.kind is Kind.MANAGER:
        return client.manager_id
    if f.kind is Kind.FOLLOWUP:
        followup = card.next_followup
        return instant(followup.due_at, zone) if followup is not None else None
    if f.kind is Kind.NOTE:
        return None
    value = getattr(client, f.name)
    if isinstance(value, datetime):
        return instant(value, zone)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, Decimal):
        return money(value)
    return value


def card(data: CardData, zone: ZoneInfo) -> dict[str, Any]:
    followup = data.next_followup
    return {
        "id": data.client.id,
        "values": {f.name: field_value(f, data, zone) for f in CLIENT_FIELDS},
        "manager": {"id": data.client.manager_id, "name": data.manager_name},
        "next_contact": (
            next_contact(
                followup.due_at,
                followup.due_on,
                followup.date_only,
                followup.reason,
                zone,
                data.today,
            )
            if followup is not None
            else None
        ),
        "history": [history_item(row, zone) for row in data.history],
        "history_more": data.history_more,
        "deals": {"count": data.deal_count, "revenue": money(data.deal_revenue)},
    }
