"""The Mini App's door: Telegram's signed initData (forged, stale, missing), strangers, removed
members, and the playground's one-time login."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.miniapp import auth
from bot.services.context import Actor
from tests.support.builders import HEAD, MANAGER, OWNER, TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.miniapp import TOKEN, ApiClient, api_client, init_data, miniapp_settings

STRANGER = Person(99, "Stan")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return miniapp_settings(tmp_path)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(MANAGER, (HEAD, "head")), clear=True)


@pytest.fixture
async def api(team: BotHarness) -> AsyncIterator[ApiClient]:
    async with api_client(team) as client:
        yield client


async def test_me_answers_each_member_with_their_role(api: ApiClient):
    for person, role in ((OWNER, "owner"), (MANAGER, "manager"), (HEAD, "head")):
        status, body = await api.get("/me", person)
        assert status == 200, body
        assert body["member"]["role"] == role
        assert body["member"]["name"] == person.first_name
        assert body["language"] == "en"
        assert body["can"]["see_team"] is (role != "manager")


async def test_a_forged_signature_is_refused(api: ApiClient):
    forged = init_data(OWNER, api.harness.clock.now(), token="123456789:another-bots-token")
    status, body = await api.get("/me", None, headers={"Authorization": "tma " + forged})
    assert status == 401
    assert body["error"]["code"] == "auth_invalid"
    assert TOKEN not in str(body)


async def test_a_changed_field_breaks_the_signature(api: ApiClient):
    genuine = init_data(OWNER, api.harness.clock.now())
    tampered = genuine.replace("%22id%22%3A1", "%22id%22%3A4")
    assert tampered != genuine
    status, body = await api.get("/me", None, headers={"Authorization": "tma " + tampered})
    assert (status, body["error"]["code"]) == (401, "auth_invalid")


async def test_a_stale_init_data_is_refused(api: ApiClient):
    old = api.harness.clock.now() - timedelta(seconds=86400 + 1)
    status, body = await api.get(
        "/me", None, headers={"Authorization": "tma " + init_data(OWNER, old)}
    )
    assert (status, body["error"]["code"]) == (401, "auth_expired")
    fresh = api.harness.clock.now() - timedelta(seconds=86400 - 1)
    status, _ = await api.get(
        "/me", None, headers={"Authorization": "tma " + init_data(OWNER, fresh)}
    )
    assert status == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "tma",
        "tma ",
        "Bearer x",
        "tma hash=00",
        "tma user=%7B%7D&auth_date=1&hash=zz",
        "session nope",
    ],
)
async def test_missing_or_malformed_credentials(api: ApiClient, header: str | None):
    headers = {} if header is None else {"Authorization": header}
    status, body = await api.get("/me", None, headers=headers)
    assert status == 401
    assert body["error"]["code"] in {"auth_missing", "auth_invalid", "session_expired"}
    assert body["error"]["message"]


async def test_a_stranger_is_told_politely_and_nothing_else(api: ApiClient):
    status, body = await api.get("/me", STRANGER)
    assert status == 403
    assert body["error"]["code"] == "not_member"
    assert "invitation" in body["error"]["message"]


async def test_a_removed_member_is_told_their_access_is_closed(api: ApiClient):
    async with api.harness.uow_factory() as uow:
        member = await uow.members.by_telegram_id(MANAGER.id)
        assert member is not None
        removal = await uow.members.with_team(OWNER.id)
    assert removal is not None
    # Removed as /team removes: through the team service, in one unit of work.
    async with api.harness.uow_factory() as uow:
        services = api.server.parts.services(uow)
        await services.team.remove(Actor(*removal), member.id)
        await uow.commit()
    status, body = await api.get("/me", MANAGER)
    assert (status, body["error"]["code"]) == (403, "access_closed")
    assert "closed" in body["error"]["message"]


async def test_errors_follow_the_members_language(api: ApiClient):
    status, body = await api.get("/me", Person(98, "Стас", "ru"))
    assert status == 403
    assert "приглашени" in body["error"]["message"]


async def test_the_playground_login_works_once(api: ApiClient):
    now = api.harness.clock.now()
    code = api.server.logins.issue(OWNER.id, now)
    status, body = await api.post("/login", None, {"code": code}, headers={})
    assert status == 200
    session = body["session"]
    status, me = await api.get("/me", None, headers={"Authorization": f"session {session}"})
    assert status == 200 and me["member"]["role"] == "owner"
    status, again = await api.post("/login", None, {"code": code}, headers={})
    assert (status, again["error"]["code"]) == (401, "login_expired")


async def test_a_login_code_expires(api: ApiClient):
    code = api.server.logins.issue(OWNER.id, api.harness.clock.now())
    api.harness.clock.advance(timedelta(minutes=11))
    status, body = await api.post("/login", None, {"code": code}, headers={})
    assert (status, body["error"]["code"]) == (401, "login_expired")


async def test_unknown_api_path_is_json(api: ApiClient):
    status, body = await api.get("/nothing-here", OWNER)
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_verify_rejects_a_repeated_key():
    from datetime import UTC, datetime

    now = datetime(2026, 12, 2, tzinfo=UTC)
    data = init_data(OWNER, now) + "&auth_date=1"
    with pytest.raises(auth.AuthError):
        auth.verify_init_data(data, TOKEN, now=now, max_age=timedelta(days=1))
