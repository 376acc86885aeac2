"""Plain data handed out by repositories: no ORM object leaves the storage package."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


def to_dto(cls: type[T], row: Any) -> T:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TeamDTO:
    id: int
    name: str
    timezone: str
    currency: str
    followup_hot_days: int
    followup_warm_days: int
    followup_cold_days: int
    no_answer_retry_days: int
    roster_version: int
    quiet_hot_days: int
    hot_to_warm_days: int
    stuck_lead_days: int
    stuck_escalate_days: int
    stuck_archive_days: int
    weekly_enabled: bool
    weekly_day: int  # 0 = Monday
    weekly_time: time | None  # None: each recipient's own digest time
    weekly_heads: bool


@dataclass(frozen=True, slots=True)
class MemberDTO:
    id: int
    team_id: int
    telegram_id: int
    role: str
    full_name: str
    username: str | None
    language: str | None
    telegram_language: str | None
    timezone: str
    work_start: time
    work_end: time
    digest_time: time
    is_active: bool
    unreachable_at: datetime | None
    can_export: bool
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClientDTO:
    id: int
    team_id: int
    manager_id: int
    name: str
    contact_person: str | None
    position: str | None
    email: str | None
    website: str | None
    city: str | None
    address: str | None
    birthday: date | None
    source: str | None
    referrer: str | None
    segment: str | None
    consent: str
    temperature: str
    stage: str
    stage_changed_at: datetime
    potential: Decimal | None
    first_deal_on: date | None
    last_contact_at: datetime | None
    last_activity_at: datetime | None
    archived_at: datetime | None
    erased_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MatchCandidate:
    id: int
    name: str
    search_text: str
    phone_digits: str
    manager_id: int


@dataclass(frozen=True, slots=True)
class ActivityDTO:
    id: int
    client_id: int
    author_id: int
    kind: str
    outcome: str | None
    text: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class FollowupDTO:
    id: int
    client_id: int
    manager_id: int
    kind: str
    due_at: datetime
    due_on: date
    date_only: bool
    reason: str | None
    state: str
    campaign_id: int | None


@dataclass(frozen=True, slots=True)
class DueItem:
    """A pending follow-up with what a worklist line needs about its client."""

    followup: FollowupDTO
    client_name: str
    temperature: str


@dataclass(frozen=True, slots=True)
class ClientListItem:
    id: int
    name: str
    temperature: str
    stage: str
    manager_id: int
    next_due_at: datetime | None
    next_date_only: bool | None


@dataclass(frozen=True, slots=True)
class InviteDTO:
    id: int
    team_id: int
    token: str
    role: str
    created_by: int
    expires_at: datetime
    used_by: int | None
