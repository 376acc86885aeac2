"""The /portfolio roll-ups (storage/repositories/rollups.py) against the raw rows.

A property test applies random sequences of writes through the storage functions the bot
uses (deals and activities added, an import's batch, clients transferred, a client erased,
deals edited or deleted followed by `refresh_sales`, the team's zone changed), with days and
moments crowding month, year and UTC-day ends; then the roll-ups must equal a recomputation
from the raw rows, and the report's reads (whole months and days from the roll-ups, the edges
from raw rows) must equal the same reads from raw rows only, for periods cut anywhere and
bounds in several time zones. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.portfolio.periods import CUSTOM, Period, month_index, month_of
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Activity, Client, Deal, Team
from storage.repositories.analytics import EPOCH, split_months
from storage.repositories.rollups import COUNTED_KINDS
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support import services
from tests.support.builders import NOW, team_with_owner
from tests.test_migrations import empty_engine  # noqa: F401 - the fixture: an unmigrated database

IN_CI = os.environ.get("CI", "").lower() == "true"
settings.register_profile(
    "rollups-ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "rollups-dev",
    deadline=None,
    print_blob=True,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile("rollups-ci" if IN_CI else "rollups-dev")

ZONES = ("UTC", "Europe/Moscow", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati")
KINDS = ("call", "meeting", "proposal", "note", "deal")
EDGE_DAYS = [
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 1, 31),
    date(2026, 2, 1),
    date(2026, 2, 28),
    date(2026, 3, 1),
    date(2026, 11, 30),
    date(2026, 12, 1),
    date(2026, 12, 31),
    date(2027, 1, 1),
]
days = st.one_of(
    st.sampled_from(EDGE_DAYS),
    st.dates(min_value=date(2025, 11, 1), max_value=date(2027, 2, 28)),
)
moments = st.one_of(
    st.builds(
        lambda day, edge: datetime.combine(day, edge, UTC),
        st.sampled_from(EDGE_DAYS),
        st.sampled_from([time(0), time(23, 59, 59, 999_999), time(20, 59), time(21, 0)]),
    ),
    st.datetimes(
        min_value=datetime(2025, 11, 1), max_value=datetime(2027, 2, 28), timezones=st.just(UTC)
    ),
)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)
profits = st.one_of(
    st.none(), st.decimals(min_value=Decimal(-5000), max_value=Decimal(90000), places=2)
)
clients_ = st.integers(0, 3)
members_ = st.integers(0, 2)
currencies = st.sampled_from(["RUB", "RUB", "RUB", "USD"])

# Deals crowd few days of two months on two clients: several land in one bucket in any order,
# whose sums, first and last days must come out as if counted afresh.
deal_days = st.one_of(
    st.sampled_from(
        [
            date(2025, 12, 30),
            date(2025, 12, 31),
            date(2026, 1, 1),
            date(2026, 1, 2),
            date(2026, 1, 31),
        ]
    ),
    days,
)
deal_op = st.tuples(
    st.just("deal"), st.integers(0, 1), st.integers(0, 1), deal_days, amounts, profits, currencies
)
activity_op = st.tuples(st.just("activity"), clients_, members_, st.sampled_from(KINDS), moments)
# Deals and contacts weigh most: the buckets they share are where upserts can go wrong.
_WEIGHTED = [
    deal_op,
    deal_op,
    deal_op,
    deal_op,
    deal_op,
    activity_op,
    activity_op,
    st.tuples(
        st.just("import"),
        st.lists(st.tuples(clients_, members_, st.sampled_from(KINDS), moments), max_size=6),
    ),
    st.tuples(st.just("transfer"), clients_, members_),
    st.tuples(st.just("erase"), clients_),
    st.tuples(st.just("edit_deal"), st.integers(0, 50), amounts, days),
    st.tuples(st.just("delete_deal"), st.integers(0, 50)),
    st.tuples(st.just("zone"), st.sampled_from(ZONES)),
]
operations = st.integers(0, len(_WEIGHTED) - 1).flatmap(lambda n: _WEIGHTED[n])
spans = st.tuples(days, days).map(sorted)
# Every example makes a team of its own in the same database: Telegram ids are unique.
_telegram_ids = itertools.count(1000)


async def _team(uow: UnitOfWork, zone: str) -> tuple[int, list[int], list[int]]:
    team, owner = await team_with_owner(uow, telegram_id=next(_telegram_ids), timezone=zone)
    members = [owner.id]
    for n in (2, 3):
        member = await uow.members.create(
            team_id=team.id,
            telegram_id=next(_telegram_ids),
            role="manager",
            full_name=f"Manager {n}",
            username=None,
            language="en",
            telegram_language="en",
            timezone=zone,
            work_start=time(9),
            work_end=time(18),
            now=NOW,
        )
        members.append(member.id)
    clients = []
    for n in range(4):
        row = Client(
            team_id=team.id,
            manager_id=members[n % 3],
            name=f"Client {n}",
            temperature="warm",
            stage="won",
            stage_changed_at=NOW,
            consent="unknown",
            created_at=NOW,
            updated_at=NOW,
        )
        uow.session.add(row)
        await uow.session.flush()
        clients.append(row.id)
    return team.id, members, clients


async def _apply(
    uow: UnitOfWork, op: tuple[Any, ...], team_id: int, members: list[int], clients: list[int]
) -> None:
    name = op[0]
    if name == "deal":
        _n, client, member, day, amount, profit, currency = op
        await uow.activities.add_deal(
            team_id=team_id,
            client_id=clients[client],
            manager_id=members[member],
            activity_id=None,
            amount=amount,
            margin_percent=None,
            profit=profit,
            currency=currency,
            closed_on=day,
            now=NOW,
        )
    elif name == "activity":
        _n, client, member, kind, moment = op
        await uow.activities.add(
            team_id=team_id,
            client_id=clients[client],
            author_id=members[member],
            kind=kind,
            outcome=None,
            text="x",
            occurred_at=moment,
        )
    elif name == "import":
        await uow.imports.add_activities(
            [
                {
                    "team_id": team_id,
                    "client_id": clients[client],
                    "author_id": members[member],
                    "kind": kind,
                    "outcome": None,
                    "text": "imported",
                    "occurred_at": moment,
                }
                for client, member, kind, moment in op[1]
            ]
        )
    elif name == "transfer":
        _n, client, member = op
        source = await uow.session.scalar(
            select(Client.manager_id).where(Client.id == clients[client])
        )
        assert source is not None
        await uow.roster.move_clients(team_id, [clients[client]], source, members[member], NOW)
    elif name == "erase":
        client_id = clients[op[1]]
        await uow.privacy.erase_client(team_id, client_id, "—", NOW)
        await uow.privacy.erase_activities(team_id, client_id)
    elif name in ("edit_deal", "delete_deal"):
        # No command edits or deletes a deal yet; whatever does must refresh the client's
        # roll-up rows in its transaction, as here.
        ids = list(
            await uow.session.scalars(
                select(Deal.id).where(Deal.team_id == team_id).order_by(Deal.id)
            )
        )
        if not ids:
            return
        deal_id = ids[op[1] % len(ids)]
        client_id = await uow.session.scalar(select(Deal.client_id).where(Deal.id == deal_id))
        assert client_id is not None
        if name == "edit_deal":
            await uow.session.execute(
                update(Deal).where(Deal.id == deal_id).values(amount=op[2], closed_on=op[3])
            )
        else:
            await uow.session.execute(delete(Deal).where(Deal.id == deal_id))
        await uow.rollups.refresh_sales(team_id, [client_id])
    elif name == "zone":
        await uow.session.execute(update(Team).where(Team.id == team_id).values(timezone=op[1]))
    else:  # pragma: no cover - the strategy names every operation
        raise AssertionError(name)


def _bounds(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return (
        datetime.combine(start, time(0), tz).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time(0), tz).astimezone(UTC),
    )


async def _reads_match(
    uow: UnitOfWork, team_id: int, members: list[int], span: list[date], zone: str
) -> None:
    repo = uow.analytics
    start, end = span
    for currency in ("RUB", "USD"):
        rolled = sorted(await repo.sales(team_id, currency, start, end), key=repr)
        raw = sorted(await repo._sales_raw(team_id, currency, start, end), key=repr)
        assert rolled == raw, (currency, start, end)
        for scope in (None, members[1]):
            rolled_months = sorted(await repo.monthly(team_id, currency, start, end, scope))
            raw_months = sorted(await repo._monthly_raw(team_id, currency, start, end, scope))
            assert rolled_months == raw_months, (currency, start, end, scope)
    low, high = _bounds(start, end, zone)
    kinds = (*COUNTED_KINDS, "note")
    counted = await repo.activity_counts(members, kinds, low, high)
    assert counted == await repo._activity_raw(members, kinds, low, high), (zone, low, high)


@settings(PROFILE)
@given(
    ops=st.lists(operations, min_size=2, max_size=20),
    span=spans,
    zone=st.sampled_from(ZONES),
)
async def test_any_writes_leave_the_rollups_equal_to_the_raw_rows(
    engine: AsyncEngine, ops: list[tuple[Any, ...]], span: list[date], zone: str
) -> None:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        team_id, members, clients = await _team(uow, zone)
        await uow.commit()
    for op in ops:
        async with uows() as uow:
            await _apply(uow, op, team_id, members, clients)
            await uow.commit()
    async with uows() as uow:
        found = await uow.rollups.check(team_id)
        assert found.ok, (found.sales_wrong, found.days_wrong)
        await _reads_match(uow, team_id, members, span, zone)
        await _figures_match(uow, team_id, members, span, zone)


async def test_rebuild_repairs_and_check_names_what_differs(engine: AsyncEngine) -> None:
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        team_id, members, clients = await _team(uow, "Europe/Moscow")
        for op in (
            ("deal", 0, 1, date(2026, 1, 31), Decimal("10.50"), None, "RUB"),
            ("deal", 0, 1, date(2026, 2, 1), Decimal("4.25"), Decimal(1), "RUB"),
            ("activity", 1, 2, "call", datetime(2026, 3, 1, 21, tzinfo=UTC)),
        ):
            await _apply(uow, op, team_id, members, clients)
        await uow.commit()
    async with uows() as uow:
        assert (await uow.rollups.check(team_id)).ok
        assert await uow.rollups.counts(team_id) == (2, 1)
        # Rows written around the repositories (a restore, a manual fix) are what check finds.
        await uow.session.execute(delete(Deal).where(Deal.closed_on == date(2026, 2, 1)))
        found = await uow.rollups.check(team_id)
        assert not found.ok
        assert found.sales_wrong == [(clients[0], members[1], "RUB", 2026 * 12 + 1)]
        assert found.days_wrong == []
        assert await uow.rollups.rebuild(team_id) == (1, 1)
        assert (await uow.rollups.check(team_id)).ok
        await uow.commit()


def test_split_months_serves_whole_months_and_leaves_the_edges():
    assert split_months(date(2026, 1, 1), date(2026, 12, 31)) == ((2026 * 12, 2026 * 12 + 11), [])
    assert split_months(date(2026, 1, 15), date(2026, 3, 10)) == (
        (2026 * 12 + 1, 2026 * 12 + 1),
        [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 10))],
    )
    assert split_months(date(2026, 2, 2), date(2026, 2, 27)) == (
        None,
        [(date(2026, 2, 2), date(2026, 2, 27))],
    )
    assert split_months(date(2025, 12, 2), date(2026, 1, 31)) == (
        (2026 * 12, 2026 * 12),
        [(date(2025, 12, 2), date(2025, 12, 31))],
    )
    # Leap February ends on the 29th.
    assert split_months(date(2028, 2, 1), date(2028, 2, 29)) == ((2028 * 12 + 1, 2028 * 12 + 1), [])


@pytest.mark.parametrize("kind", COUNTED_KINDS)
def test_the_counted_kinds_are_the_reports(kind: str) -> None:
    from bot.services.portfolio.service import ACTIVITY_KINDS

    assert kind in ACTIVITY_KINDS
    assert len(ACTIVITY_KINDS) == len(COUNTED_KINDS)


def test_the_rollups_command_checks_and_rebuilds(
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.__main__ import main

    target = tmp_path / "db.sqlite3"
    shutil.copy(sqlite_template, target)
    monkeypatch.chdir(tmp_path)  # no .env from the tree
    for name in ("BOT_TOKEN", "BOT_MODE", "REDIS_URL", "MIGRATE_ON_START"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{target}")

    async def fill() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{target}")
        uows = UnitOfWorkFactory(create_session_factory(engine))
        async with uows() as uow:
            team_id, members, clients = await _team(uow, "Europe/Moscow")
            for day in (date(2026, 1, 31), date(2026, 2, 1)):
                op = ("deal", 0, 1, day, Decimal("10.50"), None, "RUB")
                await _apply(uow, op, team_id, members, clients)
            # Written around the repositories, as a manual fix would be.
            await uow.session.execute(delete(Deal).where(Deal.closed_on == date(2026, 2, 1)))
            await uow.commit()
        await engine.dispose()
        return team_id

    team_id = services.run_sync(fill)
    assert main(["rollups", "check"]) == 1
    assert "sales_months: 1 rows differ" in capsys.readouterr().err
    assert main(["rollups", "rebuild"]) == 0
    assert "1 client-month rows" in capsys.readouterr().out
    assert main(["rollups", "check", "--team", str(team_id)]) == 0
    assert "roll-ups match the raw rows" in capsys.readouterr().out
    with pytest.raises(SystemExit) as missing:
        main(["rollups"])
    assert missing.value.code == 2
    with pytest.raises(SystemExit) as misplaced:
        main(["migrate", "rebuild"])
    assert misplaced.value.code == 2


async def test_the_migration_fills_the_rollups_from_existing_rows(
    empty_engine: AsyncEngine,  # noqa: F811 - the fixture imported above
) -> None:
    await upgrade(empty_engine, "0010")
    uows = UnitOfWorkFactory(create_session_factory(empty_engine))
    async with uows() as uow:
        team_id, members, clients = await _team(uow, "Asia/Kolkata")
        # Written as the bot wrote them before the roll-ups existed.
        await uow.session.execute(
            insert(Deal.__table__),
            [
                {
                    "team_id": team_id,
                    "client_id": clients[n % 2],
                    "manager_id": members[n % 3],
                    "amount": Decimal(n * 101) + Decimal("0.07"),
                    "profit": None if n % 3 else Decimal(n) - Decimal(4),
                    "currency": "RUB" if n % 4 else "USD",
                    "closed_on": date(2025, 12, 25) + timedelta(days=n * 3),
                    "created_at": NOW,
                }
                for n in range(12)
            ],
        )
        await uow.session.execute(
            insert(Activity.__table__),
            [
                {
                    "team_id": team_id,
                    "client_id": clients[n % 4],
                    "author_id": members[n % 3],
                    "kind": KINDS[n % len(KINDS)],
                    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n * 7),
                }
                for n in range(30)
            ],
        )
        await uow.commit()
    await upgrade(empty_engine)
    async with uows() as uow:
        found = await uow.rollups.check(team_id)
        assert found.ok, (found.sales_wrong, found.days_wrong)
        sales, days_ = await uow.rollups.counts(team_id)
        assert sales == found.sales_rows > 4
        assert days_ == found.day_rows > 4


# --- the report's one-statement reads against the raw deals ------------------------------------


def _day_number(day: date) -> int:
    return day.toordinal() - EPOCH


async def _raw_deals(
    uow: UnitOfWork, team_id: int
) -> list[tuple[int, int, str, date, int, int | None]]:
    rows = await uow.session.execute(
        select(
            Deal.client_id, Deal.manager_id, Deal.currency, Deal.closed_on, Deal.amount, Deal.profit
        ).where(Deal.team_id == team_id)
    )
    return [
        (c, m, cur, day, int(amount * 100), None if profit is None else int(profit * 100))
        for c, m, cur, day, amount, profit in rows
    ]


def _expected_clients(
    deals: list[tuple[int, int, str, date, int, int | None]],
    owners: dict[int, int],
    currency: str,
    now: Period,
    prev: Period,
    windows: list[tuple[int, int]],
    scope: int | None,
) -> dict[int, tuple[Any, ...]]:
    """`client_figures`' columns (after id, name, manager, segment, potential) recomputed
    from the raw deals with plain Python; squares whole, as the service assembles them."""
    window_first = min(first for first, _last in windows)
    low = min(date(window_first // 12, window_first % 12 + 1, 1), prev.start)
    mine = [d for d in deals if d[2] == currency and low <= d[3] <= now.end]
    out: dict[int, list[Any]] = {}
    for period in (now, prev):
        sums: dict[int, list[Any]] = {}
        for client, _m, _c, day, amount, profit in mine:
            if period.start <= day <= period.end:
                s = sums.setdefault(client, [0, 0, 0, 0, None])
                s[0] += amount
                s[1] += profit or 0
                s[2] += amount if profit is not None else 0
                s[3] += 1
                s[4] = max(s[4] or 0, _day_number(day))
        ranked = sorted((c for c in sums if sums[c][0] > 0), key=lambda c: (-sums[c][0], c))
        total = sum(sums[c][0] for c in ranked)
        running, run = {}, 0
        for c in ranked:
            run += sums[c][0]
            running[c] = run
        for client in {d[0] for d in mine}:
            s = sums.get(client, [0, 0, 0, 0, None])
            ranked_here = client in running
            out.setdefault(client, []).extend(
                [*s, running.get(client), total if ranked_here else None]
            )
    monthly: dict[int, dict[int, int]] = {}
    for client, _m, _c, day, amount, _p in mine:
        month = month_index(day)
        monthly.setdefault(client, {})[month] = monthly.get(client, {}).get(month, 0) + amount
    for first, last in windows:
        for client, months in monthly.items():
            values = {m: v for m, v in months.items() if first <= m <= last and v > 0}
            out[client].extend(
                [
                    len(values),
                    sum(values.values()),
                    sum(v * v for v in values.values()),
                    min(values, default=None),
                ]
            )
    for client in out:
        ever = [d[3] for d in deals if d[0] == client and d[3] <= now.end]
        out[client].append(_day_number(min(ever)))
    # Only the periods' buyers: nobody else gets a class or a date in the report.
    buyers = {d[0] for d in mine if now.start <= d[3] <= now.end or prev.start <= d[3] <= prev.end}
    return {
        client: tuple(values)
        for client, values in out.items()
        if client in buyers and (scope is None or owners.get(client) == scope)
    }


def _got_clients(rows: Any) -> dict[int, tuple[Any, ...]]:
    got: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        values: list[Any] = []
        for at in (1, 8):
            revenue, profit, base, deals_, last, running, total = row[at : at + 7]
            positive = bool(revenue and revenue > 0)
            values += [revenue, profit, base, deals_, last]
            # The ranking (running and team total) matters only to a client it ranks.
            values += [running if positive else None, total if positive else None]
        for at in (15, 19):
            values += row[at : at + 4]
        values.append(row[-1])
        got[row[0]] = tuple(values)
    return got


def _expected_managers(
    deals: list[tuple[int, int, str, date, int, int | None]],
    currency: str,
    now: Period,
    prev: Period,
    scope: int | None,
) -> dict[int, tuple[Any, ...]]:
    first_ever: dict[int, date] = {}
    for client, _m, _c, day, _a, _p in deals:
        if day <= now.end:
            first_ever[client] = min(first_ever.get(client, day), day)
    out: dict[int, list[Any]] = {}
    for index, period in enumerate((now, prev)):
        pairs: dict[tuple[int, int], list[Any]] = {}
        for client, manager, cur, day, amount, profit in deals:
            if cur != currency or not period.start <= day <= period.end:
                continue
            if scope is not None and manager != scope:
                continue
            s = pairs.setdefault((client, manager), [0, 0, 0, 0, day])
            s[0] += amount
            s[1] += profit or 0
            s[2] += amount if profit is not None else 0
            s[3] += 1
            s[4] = max(s[4], day)
        per: dict[int, list[int]] = {}
        for (client, manager), (rev, profit, base, n, last) in pairs.items():
            t = per.setdefault(manager, [0, 0, 0, 0, 0, 0])
            for i, value in enumerate((rev, profit, base, n, 1, (last - first_ever[client]).days)):
                t[i] += value
        for manager, t in per.items():
            out.setdefault(manager, [None, None])[index] = tuple(t)
    return {manager: tuple(v) for manager, v in out.items()}


def _got_managers(rows: Any) -> dict[int, tuple[Any, ...]]:
    def plain(sales: Any) -> tuple[int, ...] | None:
        if sales is None:
            return None
        return (
            int(sales.revenue * 100),
            int(sales.profit * 100),
            int(sales.profit_base * 100),
            sales.deals,
            sales.clients,
            sales.lifetime_days,
        )

    return {manager: (plain(now), plain(prev)) for manager, now, prev in rows if now or prev}


async def _figures_match(
    uow: UnitOfWork, team_id: int, members: list[int], span: list[date], zone: str
) -> None:
    """The report's reads (`client_figures`, `manager_figures`, `activity_weeks`) equal
    plain recomputations from the raw rows, for a span cut anywhere and its month."""
    repo = uow.analytics
    deals = await _raw_deals(uow, team_id)
    owners = dict(
        (
            await uow.session.execute(
                select(Client.id, Client.manager_id).where(Client.team_id == team_id)
            )
        ).all()
    )
    for now in (Period(CUSTOM, span[0], span[1]), month_of(span[0])):
        prev = now.previous()
        windows = [
            (month_index(now.end) - 11, month_index(now.end)),
            (month_index(prev.end) - 11, month_index(prev.end)),
        ]
        for currency in ("RUB", "USD"):
            for scope in (None, members[1]):
                rows = await repo.client_figures(
                    team_id, currency, (now.start, now.end), (prev.start, prev.end), windows, scope
                )
                expected = _expected_clients(deals, owners, currency, now, prev, windows, scope)
                got = _got_clients(rows.values())
                assert got == expected, repr((currency, now, scope, got, expected))
                managers = await repo.manager_figures(
                    team_id, currency, (now.start, now.end), (prev.start, prev.end), scope
                )
                assert _got_managers(managers) == _expected_managers(
                    deals, currency, now, prev, scope
                ), (currency, now, scope)
        tz = ZoneInfo(zone)
        monday = now.start - timedelta(days=now.start.weekday())
        weeks = [monday + timedelta(weeks=n) for n in range((now.end - monday).days // 7 + 1)]
        edges = [datetime.combine(now.start, time(0), tz).astimezone(UTC)]
        edges += [datetime.combine(week, time(0), tz).astimezone(UTC) for week in weeks[1:]]
        edges.append(datetime.combine(now.end + timedelta(days=1), time(0), tz).astimezone(UTC))
        kinds = (*COUNTED_KINDS, "note")
        counted = await repo.activity_weeks(members, kinds, edges)
        raw = await repo._activity_weeks_raw(members, kinds, edges)
        assert counted == raw, (zone, now)
