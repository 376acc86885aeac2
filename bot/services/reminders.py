"""Which follow-up pushes are owed, and what a push says. The outbox is the schedule: nothing
here lives only in memory, so a restart, a crash or a second instance loses and repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.dto import ActivityDTO, ClientDTO, FollowupDTO, MemberDTO, TeamDTO
from storage.enums import ActivityKind
from storage.repositories.outbox import DueFollowup, OutboxRow
from storage.uow import UnitOfWork

FOLLOWUP_PUSH = "followup"


@dataclass(frozen=True, slots=True)
class Reminder:
    """Everything a follow-up push shows, loaded by ids when it is sent."""

    member: MemberDTO
    team: TeamDTO
    client: ClientDTO
    followup: FollowupDTO
    last_note: ActivityDTO | None
    last_contact: ActivityDTO | None
    late: bool


def delivery_moment(item: DueFollowup, now: datetime) -> datetime:
    """When the push may go: at once for an exact time the member chose; a date-only follow-up
    waits for the member's working hours."""
    if not item.date_only:
        return now
    zone = ZoneInfo(item.timezone)
    local = now.astimezone(zone)
    start, end = item.work_start, item.work_end
    assert isinstance(start, time) and isinstance(end, time)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone)


def dedup_key(followup_id: int, due_at: datetime) -> str:
    return f"{FOLLOWUP_PUSH}:{followup_id}:{int(due_at.timestamp())}"


async def plan_due_followups(
    uow: UnitOfWork, now: datetime, *, late_after: timedelta, limit: int
) -> int:
    """Write an outbox row for every follow-up that has come due; idempotent."""
    items = await uow.outbox.due_followups_unplanned(now, limit)
    for item in items:
        await uow.outbox.enqueue(
            team_id=item.team_id,
            member_id=item.member_id,
            kind=FOLLOWUP_PUSH,
            dedup_key=dedup_key(item.followup_id, item.due_at),
            followup_id=item.followup_id,
            due_at=item.due_at,
            next_attempt_at=delivery_moment(item, now),
            late=now - item.due_at > late_after,
            now=now,
        )
    return len(items)


async def load_reminder(uow: UnitOfWork, row: OutboxRow) -> Reminder | None:
    """The push's content, or None when it is no longer owed (the follow-up was handled or
    moved, the member left): such a row is dropped, not sent."""
    if row.followup_id is None:
        return None
    followup = await uow.followups.get(row.team_id, row.followup_id)
    if followup is None or followup.state != "pending" or followup.due_at != row.due_at:
        return None
    member = await uow.members.get(row.team_id, row.member_id)
    if member is None or not member.is_active or member.unreachable_at is not None:
        return None
    client = await uow.clients.get(row.team_id, followup.client_id)
    if client is None or client.manager_id != member.id:
        return None
    notes = await uow.activities.recent(row.team_id, client.id, [ActivityKind.NOTE], 1)
    contacts = await uow.activities.recent(
        row.team_id, client.id, [ActivityKind.CALL, ActivityKind.MEETING], 1
    )
    return Reminder(
        member=member,
        team=await uow.teams.get(row.team_id),
        client=client,
        followup=followup,
        last_note=notes[0] if notes else None,
        last_contact=contacts[0] if contacts else None,
        late=row.late,
    )
