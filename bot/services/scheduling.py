"""Turning what a member said ("tomorrow", "15.12 10:00") into a due moment in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.parsing.dates import When
from bot.services.context import Actor
from storage.enums import Temperature


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime  # UTC
    on: date  # the member's local calendar day
    date_only: bool


def due_from_when(when: When, actor: Actor) -> Due:
    """A dated-only follow-up falls due when the member's working day starts."""
    local_time = when.at if when.at is not None else actor.member.work_start
    local = datetime.combine(when.day, local_time, tzinfo=actor.zone)
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
