"""The Mini App's API, endpoint by endpoint and role by role (stranger, removed member, a
manager on their own client and on another's, head, owner), with bad input refused politely and
nothing written; on SQLite and PostgreSQL, through the real application (`build`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.config import Settings
from bot.errors import ErrorCode
from bot.i18n import use_locale
from bot.miniapp.errors import plain
from bot.services.context import Actor
from bot.services.portfolio.periods import month_of
from bot.telegram.error_texts import error_text
from storage.models import Activity, AuditEntry, Client, Followup
from tests.support.builders import HEAD, MANAGER, OTHER, OWNER, TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.miniapp import TOKEN, ApiClient, api_client

STRANGER = Person(99, "Stan")
IVANOV, PETROV, SIDOROV = "Иванов Пётр", "Petrov Trade", "Sidorov LLC"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url="sqlite+aiosqlite:///:memory:",
        import_files={"parsed_dir": tmp_path / "imports"},
        limits={"mass_view_cards": 2},
    )


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (MANAGER, "/add Иванов Пётр, +7 999 123-45-67, Москва, #vip, hot"),
            (MANAGER, "/add Petrov Trade, email: info@petrov.ru, segment: retail"),
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


# -- helpers ---------------------------------------------------------------------------------


async def client_id(api: ApiClient, name: str) -> int:
    async with api.harness.uow_factory() as uow:
        found = await uow.session.scalar(select(Client.id).where(Client.name == name))
    assert found is not None
    return int(found)


async def count(api: ApiClient, model: Any, *where: Any) -> int:
    async with api.harness.uow_factory() as uow:
        return int(
            await uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        )


async def audits(api: ApiClient, action: str) -> int:
    return await count(api, AuditEntry, AuditEntry.action == action)


async def client_row(api: ApiClient, name: str) -> Any:
    async with api.harness.uow_factory() as uow:
        return (await uow.session.execute(select(Client).where(Client.name == name))).scalar_one()


async def names(api: ApiClient, person: Person, body: dict[str, Any]) -> list[str]:
    status, page = await api.post("/clients/query", person, body)
    assert status == 200, page
    return [item["name"] for item in page["items"]]


async def classes_computed(api: ApiClient) -> None:
    """Wait for the background computation of the classes a page started."""
    parts = api.harness.app.parts
    assert parts is not None
    await parts.classes.settled()


def refused(status: int, body: dict[str, Any], expected_status: int, code: str) -> None:
    assert (status, body["error"]["code"]) == (expected_status, code), body
    assert body["error"]["message"]


async def remove(api: ApiClient, person: Person) -> None:
    async with api.harness.uow_factory() as uow:
        member = await uow.members.by_telegram_id(person.id)
        assert member is not None
        await uow.members.update(
            member.team_id, member.id, is_active=False, removed_at=api.harness.clock.now()
        )
        await uow.commit()


# -- who may call -------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/me", None),
    ("GET", "/texts", None),
    ("GET", "/options", None),
    ("GET", "/fields", None),
    ("POST", "/clients/query", {}),
    ("GET", "/clients/{ivanov}", None),
    ("GET", "/clients/{ivanov}/history", None),
    ("PATCH", "/clients/{ivanov}", {"values": {"city": "Казань"}}),
    ("POST", "/clients/{ivanov}/next-contact", {"date": "2026-12-20"}),
    ("POST", "/clients/{ivanov}/notes", {"text": "hello"}),
    ("GET", "/portfolio", None),
    ("GET", "/portfolio/cell?cell=AX", None),
    ("GET", "/portfolio/list?section=plan", None),
    ("GET", "/portfolio/series", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_a_stranger_gets_a_polite_refusal_everywhere_and_nothing_is_written(
    api: ApiClient, method: str, path: str, body: Any
):
    ivanov = await client_id(api, IVANOV)
    before = await count(api, AuditEntry), await count(api, Activity)
    status, answer = await api.call(method, path.format(ivanov=ivanov), STRANGER, body)
    refused(status, answer, 403, "not_member")
    assert "ivanov" not in str(answer).lower() and "Иванов" not in str(answer)
    assert (await count(api, AuditEntry), await count(api, Activity)) == before
    assert (await client_row(api, IVANOV)).city == "Москва"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_a_removed_member_is_told_their_access_is_closed(
    api: ApiClient, method: str, path: str, body: Any
):
    ivanov = await client_id(api, IVANOV)
    await remove(api, MANAGER)
    before = await count(api, AuditEntry), await count(api, Activity)
    status, answer = await api.call(method, path.format(ivanov=ivanov), MANAGER, body)
    refused(status, answer, 403, "access_closed")
    assert (await count(api, AuditEntry), await count(api, Activity)) == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_a_forged_or_stale_request_is_refused_everywhere(
    api: ApiClient, method: str, path: str, body: Any
):
    from tests.support.miniapp import init_data

    ivanov = await client_id(api, IVANOV)
    now = api.harness.clock.now()
    forged = init_data(OWNER, now, token="987654321:not-this-bots-token")
    stale = init_data(OWNER, now - timedelta(days=2))
    for header, code in ((forged, "auth_invalid"), (stale, "auth_expired")):
        status, answer = await api.call(
            method,
            path.format(ivanov=ivanov),
            None,
            body,
            headers={"Authorization": "tma " + header},
        )
        refused(status, answer, 401, code)
    assert (await client_row(api, IVANOV)).city == "Москва"


CLIENT_ENDPOINTS = [e for e in ENDPOINTS if "{ivanov}" in e[1]]


@pytest.mark.parametrize(("method", "path", "body"), CLIENT_ENDPOINTS)
async def test_another_managers_client_is_not_found_not_forbidden(
    api: ApiClient, method: str, path: str, body: Any
):
    ivanov = await client_id(api, IVANOV)
    before = await count(api, AuditEntry), await count(api, Activity), await count(api, Followup)
    status, answer = await api.call(method, path.format(ivanov=ivanov), OTHER, body)
    refused(status, answer, 404, "client_not_found")
    # The same answer as for an id that does not exist: existence is not leaked.
    status, missing = await api.call(method, path.format(ivanov=999_999), OTHER, body)
    assert missing["error"] == answer["error"]
    after = await count(api, AuditEntry), await count(api, Activity), await count(api, Followup)
    assert after == before
    assert (await client_row(api, IVANOV)).city == "Москва"


@pytest.mark.parametrize("person", [MANAGER, HEAD, OWNER])
@pytest.mark.parametrize(("method", "path", "body"), CLIENT_ENDPOINTS)
async def test_the_manager_head_and_owner_reach_the_managers_client(
    api: ApiClient, person: Person, method: str, path: str, body: Any
):
    ivanov = await client_id(api, IVANOV)
    status, answer = await api.call(method, path.format(ivanov=ivanov), person, body)
    assert status == 200, answer


# -- the base table ---------------------------------------------------------------------------


async def test_each_member_sees_the_clients_they_may(api: ApiClient):
    assert sorted(await names(api, MANAGER, {})) == [PETROV, IVANOV]
    assert await names(api, OTHER, {}) == [SIDOROV]
    for person in (HEAD, OWNER):
        assert sorted(await names(api, person, {})) == [PETROV, SIDOROV, IVANOV]


async def test_a_manager_cannot_list_anothers_clients(api: ApiClient):
    async with api.harness.uow_factory() as uow:
        other = await uow.members.by_telegram_id(OTHER.id)
    assert other is not None
    status, body = await api.post("/clients/query", MANAGER, {"manager": other.id})
    refused(status, body, 403, "not_allowed")
    assert await names(api, OWNER, {"manager": other.id}) == [SIDOROV]


async def test_search_as_in_chat(api: ApiClient):
    assert await names(api, MANAGER, {"q": "ivanov"}) == [IVANOV]  # Latin finds Cyrillic
    assert await names(api, MANAGER, {"q": "Иванов"}) == [IVANOV]
    assert await names(api, MANAGER, {"q": "4567"}) == [IVANOV]  # phone digits
    # Best match first, as /find lists ("Пётр" is close to "петров" too).
    assert (await names(api, MANAGER, {"q": "петров"}))[0] == PETROV
    # Another's client is not found by a manager, and is by the owner.
    assert await names(api, MANAGER, {"q": "sidorov"}) == []
    assert await names(api, OWNER, {"q": "sidorov"}) == [SIDOROV]
    # A new search is audited as /find's is; the next pages of it are not again.
    searches = await audits(api, "search")
    await names(api, MANAGER, {"q": "ivanov", "offset": 1})
    assert await audits(api, "search") == searches


async def test_filters(api: ApiClient):
    assert await names(api, OWNER, {"temperature": ["hot"]}) == [IVANOV]
    assert await names(api, OWNER, {"tag": "vip"}) == [IVANOV]
    assert await names(api, OWNER, {"segment": "retail"}) == [PETROV]
    assert await names(api, OWNER, {"stage": ["won"]}) == [IVANOV]
    assert await names(api, OWNER, {"overdue": True}) == []
    assert await names(api, OWNER, {"no_next": True}) == []
    api.harness.clock.advance(timedelta(days=40))
    overdue = await names(api, OWNER, {"overdue": True})
    assert sorted(overdue) == [PETROV, SIDOROV, IVANOV]


async def test_classes_and_revenue_come_from_the_last_complete_month(api: ApiClient):
    # The deal was made in December; in January, December is the last complete month.
    api.harness.clock.advance(timedelta(days=31))
    # The first page after a start does not wait for the classes (tests/test_miniapp_classes.py).
    await api.post("/clients/query", OWNER, {})
    await classes_computed(api)
    status, page = await api.post("/clients/query", OWNER, {"sort": "-revenue"})
    assert status == 200, page
    first = page["items"][0]
    assert (first["name"], first["revenue"], first["abc"]) == (IVANOV, "150000.00", "A")
    assert page["classes_period"]["key"] == "M202612"
    assert page["classes_ready"] is True
    assert await names(api, OWNER, {"abc": ["A"]}) == [IVANOV]
    assert await names(api, OWNER, {"abc": ["B", "C"]}) == []


async def test_sorting_and_paging(api: ApiClient):
    status, page = await api.post("/clients/query", OWNER, {"sort": "name", "limit": 2})
    assert status == 200
    assert [i["name"] for i in page["items"]] == [PETROV, SIDOROV]
    assert (page["total"], page["offset"], page["limit"]) == (3, 0, 2)
    status, rest = await api.post(
        "/clients/query", OWNER, {"sort": "name", "limit": 2, "offset": 2}
    )
    assert [i["name"] for i in rest["items"]] == [IVANOV]
    for sort in ("next", "-next", "last", "-last", "revenue", "-revenue"):
        assert len(await names(api, OWNER, {"sort": sort})) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sort": "price"}, "sort"),
        ({"limit": 1000}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"temperature": ["boiling"]}, "temperature"),
        ({"stage": "nowhere"}, "stage"),
        ({"abc": ["D"]}, "abc"),
        ({"overdue": "yes"}, "overdue"),
        ({"q": "x" * 500}, "q"),
        ({"manager": "boss"}, "manager"),
    ],
)
async def test_a_bad_table_request_names_its_field(
    api: ApiClient, body: dict[str, Any], field: str
):
    searches = await audits(api, "search")
    status, answer = await api.post("/clients/query", OWNER, body)
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == field
    assert await audits(api, "search") == searches


async def test_malformed_json_is_a_bad_request(api: ApiClient):
    response = await api.client.post(
        "/app/api/clients/query", data=b"{not json", headers=api.headers(OWNER)
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"


async def test_options_are_what_the_member_may_see(api: ApiClient):
    status, mine = await api.get("/options", MANAGER)
    assert status == 200
    assert [m["name"] for m in mine["managers"]] == [MANAGER.first_name]
    assert mine["tags"] == ["vip"] and mine["segments"] == ["retail"]
    status, everything = await api.get("/options", OWNER)
    assert sorted(everything["tags"]) == ["opt", "vip"]
    assert len(everything["managers"]) == 4


# -- the card ---------------------------------------------------------------------------------


async def test_the_card_shows_every_field_and_the_history_and_is_audited(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    views = await audits(api, "card_view")
    status, card = await api.get(f"/clients/{ivanov}", MANAGER)
    assert status == 200
    assert await audits(api, "card_view") == views + 1
    values = card["values"]
    assert values["name"] == IVANOV and values["city"] == "Москва"
    assert values["phone"] == ["+7 999 123-45-67"] and values["tags"] == ["vip"]
    assert values["temperature"] == "hot"
    kinds = [item["kind"] for item in card["history"]]
    assert "note" in kinds and "deal" in kinds
    deal = next(item for item in card["history"] if item["kind"] == "deal")
    assert deal["amount"] == "150000.00"
    assert card["deals"] == {"count": 1, "revenue": "150000.00"}
    assert card["next_contact"] is not None
    status, history = await api.get(f"/clients/{ivanov}/history", MANAGER)
    assert status == 200 and len(history["items"]) == len(card["history"])
    # Reading history again is not another view.
    assert await audits(api, "card_view") == views + 1


async def test_mass_viewing_in_the_mini_app_alerts_the_owner(api: ApiClient):
    # More than MASS_VIEW_CARDS (2 here) distinct cards within the window, as in the chat.
    for name in (IVANOV, PETROV, SIDOROV, IVANOV):
        status, _ = await api.get(f"/clients/{await client_id(api, name)}", HEAD)
        assert status == 200
    assert await audits(api, "mass_view") == 1


async def test_a_save_changes_the_fields_in_one_audited_transaction(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    values = {
        "city": "Казань",
        "email": "ivanov@example.ru",
        "phone": ["+7 999 123-45-67", "8 (912) 555-44-33"],
        "tags": ["vip", "#опт"],
        "temperature": "warm",
        "potential": "1.5m",
        "birthday": "1980-03-08",
        "contact_person": "Анна",
        "consent": "yes",
    }
    status, card = await api.patch(f"/clients/{ivanov}", MANAGER, {"values": values})
    assert status == 200, card
    row = await client_row(api, IVANOV)
    assert (row.city, row.email, row.temperature, row.consent) == (
        "Казань",
        "ivanov@example.ru",
        "warm",
        "yes",
    )
    assert row.potential == Decimal("1500000")
    assert "79125554433" in row.phone_digits
    assert card["values"]["phone"] == ["+7 999 123-45-67", "8 (912) 555-44-33"]
    assert sorted(card["values"]["tags"]) == ["vip", "опт"]
    assert card["values"]["birthday"] == "1980-03-08"
    assert await audits(api, "card_edit") == 1
    assert await audits(api, "consent") == 1
    # The new contact is found by search, as in the chat.
    assert await names(api, MANAGER, {"q": "anna"}) == [IVANOV]


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"email": "not-an-email"}, ErrorCode.EMAIL_INVALID, "email"),
        ({"phone": ["12"]}, ErrorCode.PHONE_INVALID, "phone"),
        ({"birthday": "32.13.1980"}, ErrorCode.BIRTHDAY_INVALID, "birthday"),
        ({"potential": "lots"}, ErrorCode.AMOUNT_INVALID, "potential"),
        ({"city": "x" * 121}, ErrorCode.FIELD_TOO_LONG, "city"),
        ({"name": "   "}, ErrorCode.NAME_MISSING, "name"),
        ({"phone": ["+7 912 000 11 22"]}, ErrorCode.DUPLICATE_PHONE, "phone"),
        ({"email": "INFO@petrov.ru"}, ErrorCode.DUPLICATE_EMAIL, "email"),
        ({"name": "x" * 201}, ErrorCode.NAME_TOO_LONG, "name"),
        ({"first_deal_on": "someday"}, ErrorCode.DATE_INVALID, "first_deal_on"),
    ],
)
async def test_a_refused_value_refuses_the_whole_save_with_the_chats_sentence(
    api: ApiClient, values: dict[str, Any], code: ErrorCode, field: str | None
):
    ivanov = await client_id(api, IVANOV)
    before = await client_row(api, IVANOV)
    body = {"values": {"city": "Казань", **values}}
    status, answer = await api.patch(f"/clients/{ivanov}", MANAGER, body)
    refused(status, answer, 400, code.value)
    if field is not None:
        assert answer["error"]["field"] == field
    after = await client_row(api, IVANOV)
    assert (after.city, after.updated_at, after.phone_digits) == (
        before.city,
        before.updated_at,
        before.phone_digits,
    )
    assert await audits(api, "card_edit") == 0


async def test_the_refusal_is_the_chats_sentence_in_the_members_language(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    await api.harness.send(MANAGER, "/settings lang ru")
    status, answer = await api.patch(f"/clients/{ivanov}", MANAGER, {"values": {"email": "bad"}})
    assert status == 400
    with use_locale("ru"):
        expected = plain(error_text(ErrorCode.EMAIL_INVALID, {"value": "bad"}))
    assert answer["error"]["message"] == expected
    assert "<code>" not in answer["error"]["message"]
    replies = await api.harness.send(MANAGER, "/add Новый, email: bad")
    assert plain(replies[-1].text) == expected


@pytest.mark.parametrize(
    "values",
    [
        {"id": 5},
        {"created_at": "2020-01-01"},
        {"nonsense": "x"},
        {"temperature": "boiling"},
        {"stage": "nowhere"},
        {"phone": "+7 999 000 00 00"},
        {"city": {"x": 1}},
        {},
    ],
)
async def test_a_value_no_form_sends_is_a_bad_request(api: ApiClient, values: dict[str, Any]):
    ivanov = await client_id(api, IVANOV)
    status, answer = await api.patch(f"/clients/{ivanov}", MANAGER, {"values": values})
    refused(status, answer, 400, "bad_request")
    assert (await client_row(api, IVANOV)).city == "Москва"


@pytest.mark.parametrize("manager", [2**31, 10**30, 0, -1, True])
async def test_a_manager_id_out_of_range_is_a_bad_request(api: ApiClient, manager: object):
    ivanov = await client_id(api, IVANOV)
    body = {"values": {"manager": manager}}
    status, answer = await api.patch(f"/clients/{ivanov}", OWNER, body)
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == "manager"
    assert await audits(api, "transfer") == 0


async def test_only_head_and_owner_reassign_and_it_is_a_transfer(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    async with api.harness.uow_factory() as uow:
        other = await uow.members.by_telegram_id(OTHER.id)
    assert other is not None
    reassign = {"values": {"manager": other.id}}
    status, answer = await api.patch(f"/clients/{ivanov}", MANAGER, reassign)
    refused(status, answer, 403, "not_allowed")
    status, card = await api.patch(f"/clients/{ivanov}", HEAD, reassign)
    assert status == 200, card
    assert card["manager"]["id"] == other.id
    assert await audits(api, "transfer") == 1
    # Now it is the other manager's, and no longer the first one's.
    assert IVANOV in await names(api, OTHER, {})
    status, answer = await api.get(f"/clients/{ivanov}", MANAGER)
    refused(status, answer, 404, "client_not_found")


async def test_the_fields_endpoint_describes_the_form(api: ApiClient):
    status, body = await api.get("/fields", MANAGER)
    assert status == 200
    by_name = {f["name"]: f for f in body["fields"]}
    assert by_name["phone"]["multiple"] and by_name["tags"]["multiple"]
    assert not by_name["manager"]["editable"]
    assert not by_name["created_at"]["editable"]
    assert by_name["city"]["max_length"] == 120
    status, body = await api.get("/fields", OWNER)
    assert {f["name"]: f for f in body["fields"]}["manager"]["editable"]


async def test_next_contact_from_the_date_picker(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    status, body = await api.post(
        f"/clients/{ivanov}/next-contact",
        MANAGER,
        {"date": "2026-12-15", "time": "10:00", "reason": "send the offer"},
    )
    assert status == 200, body
    assert body["next_contact"]["at"] == "2026-12-15T10:00:00+03:00"
    assert body["next_contact"]["reason"] == "send the offer"
    status, body = await api.post(
        f"/clients/{ivanov}/next-contact", MANAGER, {"date": "2026-12-16"}
    )
    assert status == 200 and body["next_contact"]["date_only"] is True
    assert (
        await count(api, Followup, Followup.client_id == ivanov, Followup.state == "pending") == 1
    )


async def test_a_client_lost_in_the_card_has_its_follow_ups_cancelled_as_in_the_chat(
    api: ApiClient,
):
    ivanov = await client_id(api, IVANOV)
    status, body = await api.post(
        f"/clients/{ivanov}/next-contact", MANAGER, {"date": "2026-12-15"}
    )
    assert status == 200, body
    pending = (Followup.client_id == ivanov, Followup.state == "pending")
    assert await count(api, Followup, *pending) == 1
    status, card = await api.patch(f"/clients/{ivanov}", MANAGER, {"values": {"stage": "lost"}})
    assert status == 200, card
    assert card["next_contact"] is None
    assert await count(api, Followup, *pending) == 0
    cancelled = (Followup.client_id == ivanov, Followup.state == "cancelled")
    assert await count(api, Followup, *cancelled) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"date": "2026-11-01"}, "date_past"),
        ({"date": "2026-12-02", "time": "08:00"}, "date_past"),
        ({"date": "15.12.2026"}, "date_invalid"),
        ({"date": "2026-12-20", "time": "25:00"}, "date_invalid"),
        ({}, "date_missing"),
    ],
)
async def test_a_bad_next_contact_is_refused_and_nothing_moves(
    api: ApiClient, body: dict[str, Any], code: str
):
    ivanov = await client_id(api, IVANOV)
    async with api.harness.uow_factory() as uow:
        before = await uow.followups.pending_for_client(1, ivanov)
    status, answer = await api.post(f"/clients/{ivanov}/next-contact", MANAGER, body)
    refused(status, answer, 400, code)
    async with api.harness.uow_factory() as uow:
        assert await uow.followups.pending_for_client(1, ivanov) == before


@pytest.mark.parametrize(
    "body",
    [
        {"date": "9999-12-31", "time": "23:00"},
        {"date": "9999-12-31"},
        {"date": "2036-12-31"},
    ],
)
async def test_a_next_contact_beyond_ten_years_is_refused_politely(
    api: ApiClient, body: dict[str, Any]
):
    """West of UTC, 9999-12-31 23:00 is in year 10000 in UTC: refused before it is converted."""
    await api.harness.send(MANAGER, "/settings tz America/New_York")
    ivanov = await client_id(api, IVANOV)
    status, answer = await api.post(f"/clients/{ivanov}/next-contact", MANAGER, body)
    refused(status, answer, 400, "date_invalid")
    status, answer = await api.post(
        f"/clients/{ivanov}/next-contact", MANAGER, {"date": "2036-11-30"}
    )
    assert status == 200, answer


async def test_notes(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    status, item = await api.post(f"/clients/{ivanov}/notes", MANAGER, {"text": "Called back"})
    assert status == 200 and item["kind"] == "note" and item["text"] == "Called back"
    notes = await count(api, Activity, Activity.kind == "note")
    status, answer = await api.post(f"/clients/{ivanov}/notes", MANAGER, {"text": "  "})
    refused(status, answer, 400, "note_missing")
    status, answer = await api.post(f"/clients/{ivanov}/notes", MANAGER, {"text": "x" * 5000})
    refused(status, answer, 400, "note_too_long")
    assert await count(api, Activity, Activity.kind == "note") == notes


@pytest.mark.parametrize("path", ["/clients/abc", "/clients/0", "/clients/-3/history"])
async def test_a_malformed_id_is_a_bad_request(api: ApiClient, path: str):
    status, answer = await api.get(path, OWNER)
    assert status in (400, 404)
    assert answer["error"]["code"] in ("bad_request", "not_found")


# -- the portfolio -----------------------------------------------------------------------------


async def test_the_portfolio_agrees_with_the_service_to_the_kopeck(api: ApiClient):
    status, body = await api.get("/portfolio", OWNER, params={"period": "M202612"})
    assert status == 200, body
    async with api.harness.uow_factory() as uow:
        member, team = await uow.members.with_team(OWNER.id)  # type: ignore[misc]
        parts = api.server.parts
        report = await parts.services(uow).portfolio.report(
            Actor(member, team), month_of(api.harness.clock.now().date()), None
        )
    assert body["total"]["revenue"] == f"{report.total.now.revenue:.2f}" == "150000.00"
    assert body["matrix"]["counts"]["AX"] + body["matrix"]["counts"]["AY"] + body["matrix"][
        "counts"
    ]["AZ"] == sum(n for (abc, _x), n in report.matrix_counts.items() if abc == "A")
    assert body["health"] == report.health
    assert {c["id"] for c in body["choices"]} and body["manager"] is None
    cell = next(cell for cell, n in body["matrix"]["counts"].items() if n)
    status, listed = await api.get(
        "/portfolio/cell", OWNER, params={"period": "M202612", "cell": cell}
    )
    assert status == 200 and [c["name"] for c in listed["items"]] == [IVANOV]


async def test_a_manager_sees_only_their_own_portfolio(api: ApiClient):
    async with api.harness.uow_factory() as uow:
        me_ = await uow.members.by_telegram_id(MANAGER.id)
        other = await uow.members.by_telegram_id(OTHER.id)
    assert me_ is not None and other is not None
    status, body = await api.get("/portfolio", MANAGER)
    assert status == 200 and body["manager"]["id"] == me_.id and body["choices"] == []
    status, answer = await api.get("/portfolio", MANAGER, params={"manager": str(other.id)})
    refused(status, answer, 403, "portfolio_own_only")
    status, answer = await api.get(
        "/portfolio/cell", OTHER, params={"manager": str(me_.id), "cell": "AX"}
    )
    refused(status, answer, 403, "portfolio_own_only")
    status, body = await api.get("/portfolio", HEAD, params={"manager": str(other.id)})
    assert status == 200 and body["manager"]["id"] == other.id


@pytest.mark.parametrize(
    "params",
    [{"period": "M202613"}, {"period": "yesterday"}, {"cell": "QQ"}, {"manager": "x"}],
)
async def test_a_bad_portfolio_request_names_its_field(api: ApiClient, params: dict[str, str]):
    path = "/portfolio/cell" if "cell" in params else "/portfolio"
    status, answer = await api.get(path, OWNER, params=params)
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == next(iter(params))


async def test_texts_follow_the_members_language(api: ApiClient):
    status, en = await api.get("/texts", OWNER)
    assert status == 200 and en["language"] == "en" and en["texts"]["tab.base"] == "Base"
    await api.harness.send(OWNER, "/settings lang ru")
    status, ru = await api.get("/texts", OWNER)
    assert ru["language"] == "ru" and ru["texts"]["tab.base"] == "База"
    assert ru["plurals"]["base.total"] == {
        "one": "{count} клиент",
        "few": "{count} клиента",
        "many": "{count} клиентов",
        "other": "{count} клиентов",
    }
    assert ru["labels"]["stage"]["won"] and ru["labels"]["field"]["city"] == "Город"
    assert set(ru["texts"]) == set(en["texts"])


async def test_the_owner_reads_card_edits_in_the_audit(api: ApiClient):
    ivanov = await client_id(api, IVANOV)
    body = {"values": {"city": "Казань", "email": "ivanov@example.ru"}}
    status, _ = await api.patch(f"/clients/{ivanov}", MANAGER, body)
    assert status == 200
    replies = await api.harness.send(OWNER, "/audit edits")
    text = replies[-1].text
    assert "edited the card" in text and "City" in text and "Email" in text
    # Which fields, never their values.
    assert "Казань" not in text and "ivanov@example.ru" not in text


async def test_help_mentions_the_menu_button_only_when_the_mini_app_is_on(api: ApiClient):
    without = "\n".join(r.text for r in await api.harness.send(MANAGER, "/help"))
    assert "menu button" not in without
    api.harness.app.settings.miniapp_url = "https://bot.example.org/app/"
    with_it = "\n".join(r.text for r in await api.harness.send(MANAGER, "/help"))
    assert "The «Sales base» menu button opens the base as a table" in with_it


@pytest.mark.parametrize("sort", ["next", "-next", "revenue", "-revenue", "last", "-last", "name"])
async def test_paging_one_by_one_gives_the_same_order_as_one_page(api: ApiClient, sort: str):
    # A client without a next contact, so that both parts of the next-contact order are walked.
    petrov = await client_id(api, PETROV)
    async with api.harness.uow_factory() as uow:
        await uow.session.execute(
            Followup.__table__.update().where(Followup.client_id == petrov).values(state="done")
        )
        await uow.commit()
    api.harness.clock.advance(timedelta(days=31))  # December's deal counts as revenue
    whole = await names(api, OWNER, {"sort": sort})
    assert sorted(whole) == sorted([IVANOV, PETROV, SIDOROV])
    one_by_one = []
    for offset in range(3):
        one_by_one += await names(api, OWNER, {"sort": sort, "limit": 1, "offset": offset})
    assert one_by_one == whole
    assert await names(api, OWNER, {"sort": sort, "offset": 3}) == []
    if sort == "next":
        assert whole[-1] == PETROV  # no next contact: after the planned ones
    if sort == "-revenue":
        assert whole[0] == IVANOV  # the only buyer first
    if sort == "revenue":
        assert whole[-1] == IVANOV


async def test_a_large_filtered_table_is_counted_up_to_its_cap(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
):
    import storage.repositories.base_table as table

    monkeypatch.setattr(table, "COUNT_CAP", 2)
    status, page = await api.post("/clients/query", OWNER, {"temperature": ["hot", "warm"]})
    assert status == 200
    assert (page["total"], page["total_exact"]) == (2, False)
    # The member's whole base is always counted exactly.
    status, page = await api.post("/clients/query", OWNER, {})
    assert (page["total"], page["total_exact"]) == (3, True)


async def test_a_class_of_more_clients_than_bind_parameters_is_filtered(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
):
    """A 100k-client team's class C: its ids pass the drivers' limit of 32,767 parameters."""
    from bot.services.base_table import BaseTableService

    classes = BaseTableService.classes
    real = {await client_id(api, name) for name in (IVANOV, PETROV, SIDOROV)}
    many = {client: ("C", "Z") for client in range(1_000_000, 1_034_000)}

    async def more(self: BaseTableService, actor: Actor) -> Any:
        found = await classes(self, actor)
        of = {**found.of, **many, **dict.fromkeys(real, ("C", "Z"))}
        return replace(found, of=of, ready=True)

    monkeypatch.setattr(BaseTableService, "classes", more)
    status, page = await api.post("/clients/query", OWNER, {"abc": ["C"], "sort": "name"})
    assert status == 200, page
    assert sorted(item["name"] for item in page["items"]) == sorted([IVANOV, PETROV, SIDOROV])
    assert (page["total"], page["total_exact"]) == (3, True)


async def test_the_portfolio_lists_can_be_cut_and_read_in_pages(api: ApiClient):
    params = {"period": "M202612"}
    status, whole = await api.get("/portfolio", OWNER, params=params)
    assert status == 200
    assert whole["gained_total"] == len(whole["gained"]) == 1
    status, cut = await api.get("/portfolio", OWNER, params={**params, "top": "1"})
    assert status == 200 and all(len(cut[name]) <= 1 for name in ("plan", "gained", "lost"))
    assert cut["gained_total"] == whole["gained_total"]
    status, page = await api.get(
        "/portfolio/list", OWNER, params={**params, "section": "gained", "limit": "10"}
    )
    assert status == 200
    assert (page["total"], [c["name"] for c in page["items"]]) == (1, [IVANOV])
    status, answer = await api.get("/portfolio/list", OWNER, params={"section": "secrets"})
    refused(status, answer, 400, "bad_request")
    status, answer = await api.get("/portfolio/list", STRANGER, params={"section": "plan"})
    refused(status, answer, 403, "not_member")


async def test_a_table_filtered_by_temperature_is_counted_from_its_index(
    api: ApiClient, backend: str
):
    """SQLite counts the hot (and overdue) base from migration 0014's index, not by reading
    every client's row in name order (78 ms of 100 ms on 100,000 clients; bench/miniapp.py)."""
    if backend != "sqlite":
        pytest.skip("SQLite's query plan")
    seen: list[tuple[str, Any]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT count(*)"):
            seen.append((statement, parameters))

    engine = api.harness.app.engine.sync_engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        assert await names(api, OWNER, {"temperature": ["hot"], "overdue": True}) == []
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    [(statement, parameters)] = seen
    async with api.harness.app.engine.connect() as conn:
        plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_clients_team_base_temperature (team_id=? AND temperature=?)" in details
