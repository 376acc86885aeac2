"""A small hand-made team for the /portfolio tests; every expected number is worked out in
the tests that use it.

November 2026 (the period) against October 2026 (the previous one), Moscow time:

| client | manager | segment   | October (profit) | November (profit)            | contact  |
|--------|---------|-----------|------------------|------------------------------|----------|
| Alpha  | Ivanov  | retail    | 10.10 500 (50)   | 12.11 200 (40), 20.11 300 (60) | 10 d ago |
| Beta   | Ivanov  | retail    | 05.10 100 (10)   | 05.11 300 (-30)              | 100 d    |
| Gamma  | Petrov  | wholesale | —                | 10.11 150 (unknown)          | 300 d    |
| Delta  | Petrov  | —         | 03.10 400 (40)   | 15.11 50 (5)                 | 500 d    |
| Eps    | Petrov  | —         | 20.10 200 (20)   | —                            | never    |

Alpha has a potential of 1000 (penetration in November 50%). Activities in November:
Ivanov 3 calls (one at 00:30 on 1 November Moscow time, still October in UTC), 1 meeting,
1 proposal; Petrov 2 calls. Outside November: Ivanov calls on 31 October 23:30 and 1 December.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from storage.models import Client
from storage.uow import UnitOfWork
from tests.support.builders import NOW, team_with_owner

MSK = ZoneInfo("Europe/Moscow")


@dataclass
class Team:
    team_id: int
    owner_id: int
    ivanov: int
    petrov: int
    clients: dict[str, int]


def _msk(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), MSK).astimezone(UTC)


async def build(uow: UnitOfWork) -> Team:
    """A fresh team: owner (Telegram id 1), Ivan Ivanov (2) and Petr Petrov (3), and the data."""
    team, owner = await team_with_owner(uow, telegram_id=1)
    ids: dict[str, int] = {}
    for name, telegram_id in {"Ivan Ivanov": 2, "Petr Petrov": 3}.items():
        member = await uow.members.create(
            team_id=team.id,
            telegram_id=telegram_id,
            role="manager",
            full_name=name,
            username=None,
            language="en",
            telegram_language="en",
            timezone="Europe/Moscow",
            work_start=time(9),
            work_end=time(18),
            now=NOW,
        )
        ids[name] = member.id
    clients = await fill(uow, team.id, ids["Ivan Ivanov"], ids["Petr Petrov"])
    return Team(team.id, owner.id, ids["Ivan Ivanov"], ids["Petr Petrov"], clients)


async def fill(uow: UnitOfWork, team_id: int, ivanov: int, petrov: int) -> dict[str, int]:
    """The clients, deals and activities of the table above, in an existing team."""
    spec = [
        ("Alpha", ivanov, "retail", Decimal(1000), 10),
        ("Beta", ivanov, "retail", None, 100),
        ("Gamma", petrov, "wholesale", None, 300),
        ("Delta", petrov, None, None, 500),
        ("Eps", petrov, None, None, None),
    ]
    clients: dict[str, int] = {}
    for name, manager, segment, potential, contact_days in spec:
        row = Client(
            team_id=team_id,
            manager_id=manager,
            name=name,
            segment=segment,
            potential=potential,
            temperature="warm",
            stage="won",
            stage_changed_at=NOW,
            consent="unknown",
            search_text=name.lower(),
            phone_digits="",
            last_contact_at=None if contact_days is None else NOW - timedelta(days=contact_days),
            created_at=NOW - timedelta(days=600),
            updated_at=NOW,
        )
        uow.session.add(row)
        await uow.session.flush()
        clients[name] = row.id
    deals = [
        ("Alpha", date(2026, 10, 10), "500", "50"),
        ("Alpha", date(2026, 11, 12), "200", "40"),
        ("Alpha", date(2026, 11, 20), "300", "60"),
        ("Beta", date(2026, 10, 5), "100", "10"),
        ("Beta", date(2026, 11, 5), "300", "-30"),
        ("Gamma", date(2026, 11, 10), "150", None),
        ("Delta", date(2026, 10, 3), "400", "40"),
        ("Delta", date(2026, 11, 15), "50", "5"),
        ("Eps", date(2026, 10, 20), "200", "20"),
    ]
    managers = {"Alpha": ivanov, "Beta": ivanov, "Gamma": petrov, "Delta": petrov, "Eps": petrov}
    # Through the repositories' writes, which keep the roll-ups /portfolio reads.
    for name, day, amount, profit in deals:
        await uow.activities.add_deal(
            team_id=team_id,
            client_id=clients[name],
            manager_id=managers[name],
            activity_id=None,
            amount=Decimal(amount),
            margin_percent=None,
            profit=None if profit is None else Decimal(profit),
            currency="RUB",
            closed_on=day,
            now=NOW,
        )
    nov = date(2026, 11, 1)
    activities = [
        (ivanov, "Alpha", "call", _msk(nov, 0, 30)),
        (ivanov, "Alpha", "call", _msk(date(2026, 11, 12))),
        (ivanov, "Beta", "call", _msk(date(2026, 11, 30), 23, 0)),
        (ivanov, "Beta", "meeting", _msk(date(2026, 11, 6))),
        (ivanov, "Alpha", "proposal", _msk(date(2026, 11, 7))),
        (ivanov, "Alpha", "note", _msk(date(2026, 11, 7))),
        (ivanov, "Alpha", "call", _msk(date(2026, 10, 31), 23, 30)),
        (ivanov, "Alpha", "call", _msk(date(2026, 12, 1))),
        (petrov, "Gamma", "call", _msk(date(2026, 11, 9))),
        (petrov, "Delta", "call", _msk(date(2026, 11, 16))),
    ]
    for author, name, kind, moment in activities:
        await uow.activities.add(
            team_id=team_id,
            client_id=clients[name],
            author_id=author,
            kind=kind,
            outcome="done" if kind == "call" else None,
            text=None,
            occurred_at=moment,
        )
    await uow.session.flush()
    return clients
