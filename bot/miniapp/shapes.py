"""Service results as the JSON docs/miniapp.md describes: money as decimal strings, instants in
the viewer's zone, enumerations as their values. Presentation only; nothing is decided here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from storage.dto import MemberDTO, TeamDTO


def money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return str(value.quantize(Decimal("0.01")))


def decimal(value: Decimal | None) -> str | None:
    """A share or ratio as the service computed it (the page rounds for display)."""
    return (
        None if value is None else str(value.normalize() if value == value.to_integral() else value)
    )


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
