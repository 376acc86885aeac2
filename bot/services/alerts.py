"""One-off messages to a member, delivered through the outbox: the owner's alerts, summaries.

A feature enqueues an alert with a `step` (what happened) and plain `params`; the text is made at
send time in the recipient's language by `bot.telegram.views.alerts.alert_text`, which has one
entry per step. The dedup key makes enqueueing twice (a retried update, two instances) harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.dto import MemberDTO, TeamDTO
from storage.enums import Role
from storage.repositories.outbox import OutboxRow
from storage.uow import UnitOfWork

ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Alert:
    member: MemberDTO  # the recipient
    team: TeamDTO
    step: str
    params: Mapping[str, Any]


async def enqueue_alert(
    uow: UnitOfWork,
    *,
    team_id: int,
    member_id: int,
    step: str,
    params: Mapping[str, Any],
    dedup_key: str,
    now: datetime,
) -> None:
    """Owe `member_id` one message about `step`; params must be JSON-serialisable."""
    await uow.outbox.enqueue(
        team_id=team_id,
        member_id=member_id,
        kind=ALERT,
        dedup_key=f"{ALERT}:{step}:{dedup_key}:{member_id}",
        due_at=now,
        next_attempt_at=now,
        late=False,
        now=now,
        payload={"step": step, "params": dict(params)},
    )


async def alert_owners(
    uow: UnitOfWork,
    *,
    team_id: int,
    step: str,
    params: Mapping[str, Any],
    dedup_key: str,
    now: datetime,
    except_member: int | None = None,
) -> int:
    """The same alert to every active owner of the team; returns how many were owed one."""
    owed = 0
    for member in (await uow.members.of_team(team_id)).values():
        if member.role != Role.OWNER or not member.is_active or member.id == except_member:
            continue
        await enqueue_alert(
            uow,
            team_id=team_id,
            member_id=member.id,
            step=step,
            params=params,
            dedup_key=dedup_key,
            now=now,
        )
        owed += 1
    return owed


async def load_alert(uow: UnitOfWork, row: OutboxRow) -> Alert | None:
    member = await uow.members.get(row.team_id, row.member_id)
    if member is None or not member.is_active:
        return None
    payload = row.payload or {}
    return Alert(
        member,
        await uow.teams.get(row.team_id),
        str(payload.get("step", "")),
        dict(payload.get("params") or {}),
    )
