"""Turning what a member said ("tomorrow", "15.12 10:00") into a due moment in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.parsing.dates import When
from bot.services.context import Actor
from storage.dto import MemberDTO
from storage.enums import Temperature


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime  # UTC
    on: date  # the member's local calendar day
    date_only: bool


def due_from_when(when: When, actor: Actor, owner: MemberDTO | None = None) -> Due:
    """The moment a follow-up falls due.

    An exact time is the actor's: they typed it on their clock. A date-only follow-up falls due
    when the working day of its owner (the client's manager) starts, in the owner's zone.
    """
    owner = owner or actor.member
    if when.at is not None:
        local = datetime.combine(when.day, when.at, tzinfo=actor.zone)
    else:
        local = datetime.combine(when.day, owner.work_start, tzinfo=ZoneInfo(owner.timezone))
    return Due(at=local.astimezone(UTC), on=when.day, date_only=when.at is None)


def default_days(actor: Actor, temperature: str) -> int:
    team = actor.team
    return {
        Temperature.HOT: team.followup_hot_days,
        Temperature.WARM: team.followup_warm_days,
        Temperature.COLD: team.followup_cold_days,
    }[Temperature(temperature)]


def default_when(actor: Actor, temperature: str, today: date) -> When:
    return When(day=today + timedelta(days=default_days(actor, temperature)), at=None)


def retry_when(actor: Actor, today: date) -> When:
    return When(day=today + timedelta(days=actor.team.no_answer_retry_days), at=None)
