"""Bulk rows for fault tests and benchmarks, written with plain INSERTs (thousands in a second).

Members are chosen so that nothing but what a test asks for falls due: their morning digest is
later today in their own time zone unless `digest_due` is set, clients are warm and freshly
contacted (no nudges), and follow-ups are exact-time (no waiting for working hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import RuleDefaults
from storage.models import Client, Followup, Member, Team

# Telegram ids of seeded members start here; chat id == telegram id in private chats.
FIRST_TELEGRAM_ID = 7_000_000


@dataclass
class Seeded:
    team_id: int
    telegram_ids: list[int]
    # follow-up id -> (telegram id of its manager, the client name the push shows)
    followups: dict[int, tuple[int, str]]


def quiet_zone(now: datetime) -> str:
    """An Etc/GMT zone where it is now between 01:00 and 12:59, so a 23:59 digest is not due."""
    for offset in range(-12, 15):
        local_hour = (now.hour + offset) % 24
        if 1 <= local_hour <= 12:
            # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3.
            return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
    raise AssertionError("unreachable")


async def seed_team(
    engine: AsyncEngine,
    *,
    members: int,
    followups_per_member: int = 0,
    digest_due: bool = False,
    first_telegram_id: int = FIRST_TELEGRAM_ID,
    due_at: datetime | None = None,
    language: str = "en",
) -> Seeded:
    now = datetime.now(UTC)
    zone = quiet_zone(now)
    # 00:00 is always past: the digest is due at once. 23:59 in a zone where it is morning: not.
    digest_time = time(0, 0) if digest_due else time(23, 59)
    due = due_at or now - timedelta(seconds=30)
    async with engine.begin() as conn:
        team_id = (
            await conn.execute(
                insert(Team)
                .values(
                    name="Load team",
                    timezone=zone,
                    currency="RUB",
                    created_at=now,
                    **RuleDefaults().model_dump(),
                )
                .returning(Team.id)
            )
        ).scalar_one()
        telegram_ids = [first_telegram_id + i for i in range(members)]
        await conn.execute(
            insert(Member),
            [
                {
                    "team_id": team_id,
                    "telegram_id": tid,
                    "role": "owner" if i == 0 else "manager",
                    "full_name": f"Member {i}",
                    "username": None,
                    "language": language,
                    "telegram_language": language,
                    "timezone": zone,
                    "work_start": time(0, 0),
                    "work_end": time(23, 59),
                    "digest_time": digest_time,
                    "created_at": now,
                }
                for i, tid in enumerate(telegram_ids)
            ],
        )
        member_ids = dict(
            (
                await conn.execute(
                    select(Member.telegram_id, Member.id).where(Member.team_id == team_id)
                )
            ).all()
        )
        names: list[tuple[int, str]] = []
        client_rows = []
        for tid in telegram_ids:
            for k in range(followups_per_member):
                name = f"Client {tid}-{k}"
                names.append((tid, name, k))
                client_rows.append(
                    {
                        "team_id": team_id,
                        "manager_id": member_ids[tid],
                        "name": name,
                        "temperature": "warm",
                        "stage": "contacted",
                        "stage_changed_at": now,
                        "last_contact_at": now,
                        "last_activity_at": now,
                        "search_text": name.lower(),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        followups: dict[int, tuple[int, str]] = {}
        # A member's k-th follow-up is due a minute after their (k-1)-th: the sweep sends in
        # due order, so rounds go across members instead of one member's run in a row.
        rounds = max(followups_per_member, 1)
        if client_rows:
            client_ids = (
                (
                    await conn.execute(
                        insert(Client).returning(Client.id, sort_by_parameter_order=True),
                        client_rows,
                    )
                )
                .scalars()
                .all()
            )
            rows = [
                {
                    "team_id": team_id,
                    "client_id": client_id,
                    "manager_id": member_ids[tid],
                    "created_by": member_ids[tid],
                    "kind": "call",
                    "due_at": due - timedelta(minutes=rounds - k),
                    "due_on": (due - timedelta(minutes=rounds - k)).date(),
                    "date_only": False,
                    "reason": None,
                    "state": "pending",
                    "created_at": now,
                }
                for client_id, (tid, _name, k) in zip(client_ids, names, strict=True)
            ]
            ids = (
                (
                    await conn.execute(
                        insert(Followup).returning(Followup.id, sort_by_parameter_order=True), rows
                    )
                )
                .scalars()
                .all()
            )
            followups = {fid: (tid, name) for fid, (tid, name, _k) in zip(ids, names, strict=True)}
    return Seeded(team_id, telegram_ids, followups)
