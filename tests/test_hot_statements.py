"""Hot statements run below `session.execute` (storage/hot.py) but must behave exactly like it:
the same values back, the same errors, the same transaction."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import exc, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_session_factory
from storage.dto import FollowupDTO
from storage.hot import HotStatement
from storage.models import FsmRecord
from storage.repositories.columns import columns_for
from storage.repositories.followups import _FOLLOWUPS
from storage.uow import UnitOfWorkFactory
from tests.support.builders import NOW, team_member_client


async def test_rows_convert_as_through_the_session(engine: AsyncEngine):
    uows = UnitOfWorkFactory(create_session_factory(engine), serialize=True)
    async with uows() as uow:
        team_id, member_id, client_id = await team_member_client(uow)
        added = await uow.followups.add(
            team_id=team_id,
            client_id=client_id,
            manager_id=member_id,
            created_by=member_id,
            kind="call",
            due_at=NOW + timedelta(days=1),
            due_on=date(2030, 1, 2),
            date_only=True,
            reason="счёт",
            now=NOW,
        )
        await uow.fsm.put("k", NOW, state="Steps:details", data={"cid": client_id, "x": None})
        await uow.fsm.put("empty", NOW, state=None)
        await uow.commit()
    async with uows() as uow:
        read = await uow.followups.get(team_id, added.id)
        through_session = FollowupDTO(
            *(
                await uow.session.execute(
                    select(*columns_for(_FOLLOWUPS, FollowupDTO)).where(_FOLLOWUPS.c.id == added.id)
                )
            ).one()
        )
        assert read == through_session == added
        assert read.due_at.tzinfo is not None and read.date_only is True
        assert await uow.fsm.get("k") == ("Steps:details", {"cid": client_id, "x": None})
        assert await uow.fsm.get("empty") == (None, {})
        found = await uow.members.with_team_and_conversation(42, "k")
        assert found is not None and found[2] == ("Steps:details", {"cid": client_id, "x": None})
        member, team, conversation = await uow.members.with_team_and_conversation(42, "none")  # type: ignore[misc]
        assert (member.telegram_id, team.id, conversation) == (42, team_id, (None, {}))
        assert await uow.members.with_team_and_conversation(43, "k") is None


async def test_errors_are_sqlalchemys_and_a_rollback_undoes_hot_writes(engine: AsyncEngine):
    uows = UnitOfWorkFactory(create_session_factory(engine), serialize=True)
    async with uows() as uow:
        team_id, _member_id, client_id = await team_member_client(uow)
        await uow.commit()
    duplicate = HotStatement(insert(FsmRecord.__table__))
    async with uows() as uow:
        await uow.fsm.put("k", NOW, state="a")
        with pytest.raises(exc.IntegrityError):
            await duplicate.rows(
                uow.session, {"key": "k", "state": None, "data": None, "updated_at": NOW}
            )
        await uow.rollback()
    async with uows() as uow:
        assert await uow.fsm.get("k") == (None, {})
        # A hot write and an ORM write share one transaction and roll back together.
        await uow.fsm.put("k", NOW, state="b")
        await uow.clients.update(team_id, client_id, name="Петров")
        await uow.rollback()
        assert await uow.fsm.get("k") == (None, {})
        client = await uow.clients.get(team_id, client_id)
        assert client is not None and client.name == "Иванов"


def test_a_select_that_locks_or_calls_out_stays_inside_the_transaction():
    """On PostgreSQL a plain read may run before BEGIN (storage/hot.py); a transaction lock
    taken there would end with its statement, so such a SELECT is never a plain read."""
    from sqlalchemy import func

    from storage.models import Client

    assert HotStatement(select(Client.id).where(Client.id == 1))._plain_read
    assert not HotStatement(select(func.pg_advisory_xact_lock(1)))._plain_read
    assert not HotStatement(select(func.nextval("s")))._plain_read
    locked = select(Client.id).where(Client.id == 1).with_for_update().scalar_subquery()
    assert not HotStatement(select(Client.name).where(Client.id == locked))._plain_read
    assert not HotStatement(select(Client.id).with_for_update())._plain_read
