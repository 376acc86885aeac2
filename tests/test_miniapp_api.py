"""The Mini App's API, endpoint by endpoint and role by role (stranger, removed member, a
manager on their own client and on another's, head, owner), with bad input refused politely and
nothing written; on SQLite and PostgreSQL, through the real application (`build`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from storage.models import AuditEntry, Client
from tests.support.builders import HEAD, MANAGER, OTHER, OWNER, TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.miniapp import TOKEN, ApiClient, api_client

STRANGER = Person(99, "Stan")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url="sqlite+aiosqlite:///:memory:",
        import_files={"parsed_dir": tmp_path / "imports"},
    )


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (MANAGER, "/add Иванов Пётр, +7 999 123-45-67, Москва, #vip, hot"),
            (MANAGER, "/add Petrov Trade, email: info@petrov.ru"),
            (OTHER, "/add Sidorov LLC, +7 912 000 11 22, #opt"),
            (MANAGER, "/note Иванов wants a discount"),
            (MANAGER, "/deal Иванов 150000 margin 30%"),
        ),
        clear=True,
    )


@pytest.fixture
async def api(team: BotHarness) -> AsyncIterator[ApiClient]:
    async with api_client(team) as client:
        yield client


async def client_id(api: ApiClient, name: str) -> int:
    async with api.harness.uow_factory() as uow:
        found = await uow.session.scalar(select(Client.id).where(Client.name == name))
    assert found is not None
    return int(found)


async def audit_count(api: ApiClient, action: str) -> int:
    async with api.harness.uow_factory() as uow:
        return int(
            await uow.session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
            or 0
        )


async def names(api: ApiClient, person: Person, body: dict[str, Any]) -> list[str]:
    status, page = await api.post("/clients/query", person, body)
    assert status == 200, page
    return [item["name"] for item in page["items"]]


async def test_smoke(api: ApiClient):
    for path in ("/me", "/texts", "/options", "/fields", "/portfolio"):
        status, body = await api.get(path, OWNER)
        assert status == 200, (path, body)
    assert sorted(await names(api, OWNER, {})) == ["Petrov Trade", "Sidorov LLC", "Иванов Пётр"]
    ivanov = await client_id(api, "Иванов Пётр")
    status, card = await api.get(f"/clients/{ivanov}", MANAGER)
    assert status == 200, card
    status, card = await api.patch(f"/clients/{ivanov}", MANAGER, {"values": {"city": "Пермь"}})
    assert status == 200, card
