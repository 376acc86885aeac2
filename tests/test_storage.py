"""Storage on both databases: exact money, UTC datetimes, FSM upserts, one pending follow-up,
and SQLite under concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_session_factory
from storage.uow import NestedUnitOfWorkError, UnitOfWorkFactory
from tests.support.builders import NOW, team_member_client


@pytest.fixture
def uows(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(create_session_factory(engine))


async def test_money_is_exact_and_datetimes_come_back_as_aware_utc(uows: UnitOfWorkFactory):
    moscow = datetime(2026, 12, 2, 10, 15, tzinfo=ZoneInfo("Europe/Moscow"))
    async with uows() as uow:
        team_id, member_id, client_id = await team_member_client(uow)
        await uow.activities.add_deal(
            team_id=team_id,
            client_id=client_id,
            manager_id=member_id,
            activity_id=None,
            amount=Decimal("99999.50"),
            margin_percent=Decimal("33.33"),
            profit=Decimal("33329.83"),
            currency="RUB",
            closed_on=date(2026, 12, 2),
            now=moscow,
        )
        await uow.commit()
    async with uows() as uow:
        row = (await uow.session.execute(_deal_query())).one()
    assert row.amount == Decimal("99999.50")
    assert row.margin_percent == Decimal("33.33")
    assert row.created_at == NOW and row.created_at.tzinfo is not None


def _deal_query():  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import Deal

    return select(Deal.amount, Deal.margin_percent, Deal.created_at)


async def test_naive_datetimes_are_refused(uows: UnitOfWorkFactory):
    async with uows() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.teams.create(
                name="T", timezone="UTC", currency="RUB", now=datetime(2026, 1, 1)
            )


async def test_fsm_rows_upsert_state_and_data_independently(uows: UnitOfWorkFactory):
    async with uows() as uow:
        await uow.fsm.put("k", NOW, state="Steps:client")
        await uow.fsm.put("k", NOW, data={"cmd": "call"})
        await uow.commit()
    async with uows() as uow:
        assert await uow.fsm.get("k") == ("Steps:client", {"cmd": "call"})
        await uow.fsm.put("k", NOW, state=None)
        await uow.commit()
    async with uows() as uow:
        assert await uow.fsm.get("k") == (None, {"cmd": "call"})


async def test_a_client_has_at_most_one_pending_followup(uows: UnitOfWorkFactory):
    async with uows() as uow:
        team_id, member_id, client_id = await team_member_client(uow)
        await uow.followups.add(
            team_id=team_id,
            client_id=client_id,
            manager_id=member_id,
            created_by=member_id,
            kind="call",
            due_at=NOW,
            due_on=NOW.date(),
            date_only=True,
            reason=None,
            now=NOW,
        )
        await uow.commit()
    async with uows() as uow:
        with pytest.raises(IntegrityError):
            await uow.followups.add(
                team_id=team_id,
                client_id=client_id,
                manager_id=member_id,
                created_by=member_id,
                kind="call",
                due_at=NOW + timedelta(days=1),
                due_on=NOW.date(),
                date_only=True,
                reason=None,
                now=NOW,
            )


@pytest.mark.parametrize("gated", [False, True], ids=["busy-timeout", "fifo-gate"])
async def test_concurrent_writers_wait_instead_of_failing(engine: AsyncEngine, gated: bool):
    # Without the gate: several processes on one file (SQLite's busy timeout and BEGIN
    # IMMEDIATE). With it: one process, as the app runs (the gate queues writers in order).
    uows = UnitOfWorkFactory(
        create_session_factory(engine), serialize=gated and engine.dialect.name == "sqlite"
    )
    async with uows() as uow:
        team_id, member_id, client_id = await team_member_client(uow)
        await uow.commit()

    async def write(n: int) -> None:
        async with uows() as uow:
            # Read first, then write: the pattern that fails with "database is locked" when a
            # SQLite transaction starts deferred.
            await uow.clients.get(team_id, client_id)
            await asyncio.sleep(0)
            await uow.activities.add(
                team_id=team_id,
                client_id=client_id,
                author_id=member_id,
                kind="note",
                outcome=None,
                text=f"note {n}",
                occurred_at=NOW,
            )
            await uow.clients.update(team_id, client_id, last_activity_at=NOW)
            await uow.commit()

    await asyncio.gather(*(write(n) for n in range(40)))
    async with uows() as uow:
        notes = await uow.activities.recent(team_id, client_id, ["note"], 100)
    assert len(notes) == 40


async def test_a_unit_of_work_opened_inside_another_fails_by_name(engine: AsyncEngine):
    # As the app builds it: on SQLite the FIFO gate is on, and a nested unit of work used to
    # wait for the gate (or the write lock) its own task holds, forever.
    uows = UnitOfWorkFactory(
        create_session_factory(engine), serialize=engine.dialect.name == "sqlite"
    )
    async with asyncio.timeout(10), uows() as outer:
        team_id, _member_id, client_id = await team_member_client(outer)
        with pytest.raises(NestedUnitOfWorkError, match="inside another"):
            async with uows():
                pass
        await outer.commit()

    async def other_task() -> bool:
        async with uows() as uow:
            return await uow.clients.get(team_id, client_id) is not None

    # Neither the gate nor the marker stays behind; another task opens its own and waits its turn.
    async with asyncio.timeout(10):
        async with uows() as uow:
            waiting = asyncio.create_task(other_task())
            await asyncio.sleep(0)
            assert await uow.clients.get(team_id, client_id) is not None
        assert await waiting


async def test_a_failed_statement_does_not_carry_client_data_into_logs(engine: AsyncEngine):
    """Handlers log exceptions; SQLAlchemy would otherwise quote the parameters in them."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    secret = "Ivanov +79991234567"
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": secret})
    assert "no_such_table" in str(caught.value)
    assert secret not in str(caught.value)
