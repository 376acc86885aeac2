"""`/calendar`: a member's private iCalendar feed, through the Dispatcher (the commands and their
buttons) and the bot's real aiohttp application (the feed), on SQLite and PostgreSQL. The feed
is read back with `icalendar` and with `ical` (Home Assistant's strict RFC 5545 parser)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from ical.calendar_stream import IcsCalendarStream
from pydantic import ValidationError
from sqlalchemy import select, update

from bot.config import Settings
from bot.runtime import Runtime
from bot.runtime import calendar as calendar_endpoint
from bot.runtime.serve import app_runner
from bot.services import calendar as calendar_service
from bot.telegram.callbacks import CalendarAction, TeamAct
from storage.models import AuditEntry, CalendarFeed, Client, Followup
from tests.support.builders import HEAD, MANAGER, OTHER, OWNER, TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.reads import member_id
from tests.test_log_privacy import _configured_as_main_does

BASE = "https://bot.example.org"
FEED = re.compile(re.escape(BASE) + r"/calendar/([A-Za-z0-9_-]{43})\.ics")
STRANGER = Person(99, "Stan")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=None,
        database_url="sqlite+aiosqlite:///:memory:",
        import_files={"parsed_dir": tmp_path / "imports"},
        public_url=BASE,
        http_port=8080,
    )


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            (OWNER, "/add Owner Client, +7 900 000-00-01"),
            (MANAGER, "/add Иванов Пётр, +7 912 345-67-89"),
            (MANAGER, "/add Petrov"),
            (OTHER, "/add Sidorov Secret, +7 999 111-22-33"),
        ),
        clear=True,
    )


@pytest.fixture
async def http(team: BotHarness) -> AsyncIterator[TestClient]:
    """The bot's own aiohttp application (bot/runtime/http.py) on a loopback port."""
    client = TestClient(TestServer(Runtime(team.app, scheduler=False).web_app()))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def turn_on(h: BotHarness, person: Person) -> str:
    """`/calendar`: the token of the URL it shows."""
    replies = await h.send(person, "/calendar")
    [reply] = replies
    found = FEED.search(reply.text)
    assert found is not None, reply.text
    return found.group(1)


async def fetch(http: TestClient, token: str) -> tuple[int, str]:
    response = await http.get(f"/calendar/{token}.ics")
    return response.status, await response.text()


def events(body: str) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


async def client_id(h: BotHarness, name: str) -> int:
    async with h.uow_factory() as uow:
        found = await uow.session.scalar(select(Client.id).where(Client.name.like(f"{name}%")))
    assert found is not None
    return int(found)


def strict(body: str):  # type: ignore[no-untyped-def]
    """The feed as Home Assistant's strict RFC 5545 parser (`ical`) reads it."""
    return IcsCalendarStream.calendar_from_ics(body)


# -- the commands --------------------------------------------------------------------------


async def test_calendar_shows_a_private_url_once_with_instructions_and_buttons(team: BotHarness):
    [reply] = await team.send(MANAGER, "/calendar")
    assert FEED.search(reply.text) is not None
    assert "iPhone" in reply.text and "calendar.google.com" in reply.text
    assert "Europe/Moscow" in reply.text
    assert [label for label, _ in reply.buttons] == ["🔄 New link", "⛔ Turn off"]
    # Asked again: the feed is on, the address is not kept and cannot be shown again.
    [again] = await team.send(MANAGER, "/calendar on")
    assert FEED.search(again.text) is None
    assert "on since" in again.text and "New link" in again.text
    async with team.uow_factory() as uow:
        [row] = list(await uow.session.scalars(select(CalendarFeed)))
    token = FEED.search(reply.text).group(1)  # type: ignore[union-attr]
    # Only the token's SHA-256 is stored.
    assert row.token_hash == calendar_service.token_hash(token) and token not in row.token_hash
    assert row.revoked_at is None


async def test_calendar_new_replaces_the_url_and_the_old_one_stops(
    team: BotHarness, http: TestClient
):
    old = await turn_on(team, MANAGER)
    [reply] = await team.send(MANAGER, "/calendar new")
    new = FEED.search(reply.text).group(1)  # type: ignore[union-attr]
    assert new != old and "old one no longer works" in reply.text
    assert (await fetch(http, old))[0] == 404
    assert (await fetch(http, new))[0] == 200
    assert [a.action for a in await audit(team)] == ["calendar_on", "calendar_new"]


async def test_calendar_off_revokes_at_once_and_is_idempotent(team: BotHarness, http: TestClient):
    token = await turn_on(team, MANAGER)
    assert (await fetch(http, token))[0] == 200
    [off] = await team.send(MANAGER, "/calendar off")
    assert "turned off" in off.text
    assert await fetch(http, token) == (404, "not found")
    [again] = await team.send(MANAGER, "/calendar off")
    assert "already off" in again.text
    # On again: a new address; the revoked one stays dead.
    fresh = await turn_on(team, MANAGER)
    assert fresh != token and (await fetch(http, token))[0] == 404
    assert (await fetch(http, fresh))[0] == 200


async def test_russian_words_and_answers(team: BotHarness, http: TestClient):
    ru = Person(MANAGER.id, MANAGER.first_name, "ru")
    [on] = await team.send(ru, "/calendar вкл")
    assert "Ваш личный календарь включён" in on.text and "Подписной календарь" in on.text
    token = FEED.search(on.text).group(1)  # type: ignore[union-attr]
    [off] = await team.send(ru, "/calendar выключить")
    assert "Календарь отключён" in off.text
    assert (await fetch(http, token))[0] == 404
    [bad] = await team.send(ru, "/calendar завтра")
    assert "Не знаю, что значит «завтра»" in bad.text and "/calendar off" in bad.text


@pytest.mark.parametrize("args", ["please", "on off", "<b>x</b>", "x" * 500])
async def test_unknown_arguments_are_answered_politely_and_change_nothing(
    team: BotHarness, args: str
):
    [reply] = await team.send(MANAGER, f"/calendar {args}")
    assert "I do not know" in reply.text and "/calendar new" in reply.text
    assert "<b>x</b>" not in reply.text  # echoed escaped, and short
    async with team.uow_factory() as uow:
        assert list(await uow.session.scalars(select(CalendarFeed))) == []


async def test_buttons_turn_the_feed_off_or_make_a_new_link(team: BotHarness, http: TestClient):
    token = await turn_on(team, MANAGER)
    [renewed] = await team.press(MANAGER, CalendarAction(act="new").pack())
    fresh = FEED.search(renewed.text).group(1)  # type: ignore[union-attr]
    assert fresh != token and (await fetch(http, token))[0] == 404
    [off] = await team.press(MANAGER, CalendarAction(act="off").pack())
    # The message that held the address now holds none, and no buttons.
    assert "turned off" in off.text and FEED.search(off.text) is None and off.markup is None
    assert (await fetch(http, fresh))[0] == 404
    [again] = await team.press(MANAGER, CalendarAction(act="off").pack())
    assert "already off" in again.text


async def test_without_a_public_address_the_member_is_told_and_nothing_is_made(
    team: BotHarness,
):
    team.app.settings.public_url = None  # polling without PUBLIC_URL: no address to give
    [reply] = await team.send(MANAGER, "/calendar")
    assert "PUBLIC_URL" in reply.text and "administrator" in reply.text
    [renew] = await team.send(MANAGER, "/calendar new")
    assert "PUBLIC_URL" in renew.text
    async with team.uow_factory() as uow:
        assert list(await uow.session.scalars(select(CalendarFeed))) == []


async def test_help_mentions_the_calendar(team: BotHarness):
    text = "".join(r.text for r in await team.send(MANAGER, "/help"))
    assert "<code>/calendar</code>" in text and "phone's calendar" in text


async def audit(h: BotHarness) -> list[AuditEntry]:
    async with h.uow_factory() as uow:
        return list(
            await uow.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("calendar_%"))
                .order_by(AuditEntry.id)
            )
        )


# -- the feed ------------------------------------------------------------------------------


async def test_the_feed_holds_the_members_next_contacts_and_meetings_in_their_zone(
    team: BotHarness, http: TestClient
):
    await team.send(MANAGER, "/next Ivanov 15.12 10:00 send the price")
    await team.send(MANAGER, "/meet Petrov 16.12 14:30")
    token = await turn_on(team, MANAGER)
    response = await http.get(f"/calendar/{token}.ics")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"].startswith("private")
    raw = await response.read()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    body = raw.decode()
    call, meeting = events(body)
    ivanov, petrov = await client_id(team, "Иванов"), await client_id(team, "Petrov")
    assert str(call["SUMMARY"]) == "Call: Иванов Пётр"
    assert call["DTSTART"].dt == datetime(2026, 12, 15, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    assert call["DTSTART"].params["TZID"] == "Europe/Moscow"
    assert call["DURATION"].dt == timedelta(minutes=15)
    assert "What for: send the price" in str(call["DESCRIPTION"])
    link = f"https://t.me/salesbot_local?start=card_{ivanov}"
    assert str(call["URL"]) == link and link in str(call["DESCRIPTION"])
    assert str(call["UID"]) == f"next-{ivanov}@bot.example.org"
    assert call["DTSTAMP"].dt == team.clock.now()
    assert str(meeting["SUMMARY"]) == "Meeting: Petrov"
    assert meeting["DTSTART"].dt == datetime(2026, 12, 16, 14, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    assert meeting["DURATION"].dt == timedelta(hours=1)
    assert str(meeting["UID"]) == f"next-{petrov}@bot.example.org"
    # The phone is personal data the calendar does not need: it never leaves the bot this way.
    assert "912" not in body and "345-67-89" not in body
    # The zone travels with the feed, for clients that do not know its rules.
    [zone] = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Moscow"
    # Home Assistant's strict parser reads it too, to the same instants.
    parsed = strict(body)
    assert [e.summary for e in parsed.events] == ["Call: Иванов Пётр", "Meeting: Petrov"]
    assert parsed.events[0].dtstart == datetime(2026, 12, 15, 7, 0, tzinfo=UTC)
    assert parsed.events[0].uid == f"next-{ivanov}@bot.example.org"


async def test_a_date_only_follow_up_is_an_all_day_event(team: BotHarness, http: TestClient):
    await team.send(MANAGER, "/next Ivanov 15.12")
    token = await turn_on(team, MANAGER)
    _status, body = await fetch(http, token)
    ivanov_call = next(e for e in events(body) if "Иванов" in str(e["SUMMARY"]))
    assert ivanov_call["DTSTART"].dt == date(2026, 12, 15)
    assert ivanov_call["DTEND"].dt == date(2026, 12, 16)
    assert "DTSTART;VALUE=DATE:20261215" in body
    strict(body)


async def test_another_managers_clients_never_appear(team: BotHarness, http: TestClient):
    await team.send(OTHER, "/next Sidorov 15.12 10:00 secret plan")
    await team.send(OWNER, "/next Owner 15.12 11:00")
    manager = await turn_on(team, MANAGER)
    owner = await turn_on(team, OWNER)
    head = await turn_on(team, HEAD)
    _s, mine = await fetch(http, manager)
    assert {str(e["SUMMARY"]) for e in events(mine)} == {"Call: Иванов Пётр", "Call: Petrov"}
    # The owner sees the whole team in the bot, but their calendar is theirs: own follow-ups.
    _s, owners = await fetch(http, owner)
    assert [str(e["SUMMARY"]) for e in events(owners)] == ["Call: Owner Client"]
    _s, heads = await fetch(http, head)
    assert events(heads) == []
    for body in (mine, owners, heads):
        assert "Sidorov" not in body and "secret plan" not in body


async def test_events_move_when_the_next_contact_changes(team: BotHarness, http: TestClient):
    await team.send(MANAGER, "/next Ivanov 15.12 10:00")
    token = await turn_on(team, MANAGER)
    _s, before = await fetch(http, token)
    [first] = [e for e in events(before) if "Иванов" in str(e["SUMMARY"])]
    await team.send(MANAGER, "/next Ivanov 18.12 12:00 bring the contract")
    _s, after = await fetch(http, token)
    [moved] = [e for e in events(after) if "Иванов" in str(e["SUMMARY"])]
    # The same event (UID), a later revision of it, at the new time.
    assert moved["UID"] == first["UID"]
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])
    assert moved["DTSTART"].dt == datetime(2026, 12, 18, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    assert "bring the contract" in str(moved["DESCRIPTION"])
    # Talked: the next contact follows the temperature (warm: 14 days), date only.
    team.clock.advance(timedelta(hours=1))
    await team.send(MANAGER, "/call Ivanov done")
    _s, talked = await fetch(http, token)
    [next_one] = [e for e in events(talked) if "Иванов" in str(e["SUMMARY"])]
    assert next_one["UID"] == first["UID"] and next_one["DTSTART"].dt == date(2026, 12, 16)
    assert next_one["DTSTAMP"].dt == team.clock.now()
    # Refused: no next contact, no event.
    await team.send(MANAGER, "/call Ivanov refused")
    _s, refused = await fetch(http, token)
    assert not [e for e in events(refused) if "Иванов" in str(e["SUMMARY"])]


async def test_an_unchanged_feed_answers_304_to_its_etag(team: BotHarness, http: TestClient):
    token = await turn_on(team, MANAGER)
    first = await http.get(f"/calendar/{token}.ics")
    etag = first.headers["ETag"]
    again = await http.get(f"/calendar/{token}.ics", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    await team.send(MANAGER, "/next Ivanov 20.12 09:00")
    changed = await http.get(f"/calendar/{token}.ics", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "20261220T090000" in await changed.text()


async def test_an_unchanged_feed_is_rendered_once(team: BotHarness, http: TestClient, monkeypatch):
    renders: list[str] = []
    real = calendar_endpoint.render_feed

    def counted(*args):  # type: ignore[no-untyped-def]
        renders.append("render")
        return real(*args)

    monkeypatch.setattr(calendar_endpoint, "render_feed", counted)
    token = await turn_on(team, MANAGER)
    first, second = [await fetch(http, token) for _ in range(2)]
    assert first == second and len(renders) == 1
    await team.send(MANAGER, "/next Ivanov 20.12 09:00")
    assert (await fetch(http, token))[1] != first[1] and len(renders) == 2


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 43 + ".ics",  # well formed, unknown
        "/calendar/short.ics",
        "/calendar/" + "A" * 44 + ".ics",
        "/calendar/" + "A" * 43,
        "/calendar/..%2F..%2Fetc%2Fpasswd.ics",
    ],
)
async def test_unknown_or_malformed_tokens_get_a_bare_404(team: BotHarness, http: TestClient, path):
    await turn_on(team, MANAGER)
    response = await http.get(path)
    assert response.status == 404
    assert "Europe" not in await response.text()


async def test_a_removed_members_feed_stops_and_stays_stopped(team: BotHarness, http: TestClient):
    token = await turn_on(team, MANAGER)
    max_id = await member_id(team, MANAGER)
    await team.press(OWNER, TeamAct(act="rmok", mid=max_id).pack())
    assert (await fetch(http, token))[0] == 404
    # Invited back, the old address is still dead: the removal revoked it.
    await team.invite_and_join(OWNER, MANAGER)
    assert (await fetch(http, token))[0] == 404


async def test_the_feed_is_capped(team: BotHarness, http: TestClient, monkeypatch):
    await team.send(MANAGER, "/next Ivanov 15.12 10:00")
    await team.send(MANAGER, "/next Petrov 14.12 10:00")
    monkeypatch.setattr(calendar_service, "FEED_MAX_EVENTS", 1)
    token = await turn_on(team, MANAGER)
    _s, body = await fetch(http, token)
    assert [str(e["SUMMARY"]) for e in events(body)] == ["Call: Petrov"]  # the soonest


async def test_times_stay_right_across_a_dst_change_in_the_members_zone(
    team: BotHarness, http: TestClient
):
    await team.send(MANAGER, "/settings tz Europe/Berlin")
    team.clock.set(datetime(2027, 3, 20, 9, 0, tzinfo=UTC))
    # Central Europe moves its clocks forward on Sunday 28 March 2027, 02:00 → 03:00.
    await team.send(MANAGER, "/next Ivanov 27.03 10:00")
    await team.send(MANAGER, "/meet Petrov 29.03 10:00")
    token = await turn_on(team, MANAGER)
    _s, body = await fetch(http, token)
    berlin = ZoneInfo("Europe/Berlin")
    saturday, monday = events(body)
    assert saturday["DTSTART"].dt == datetime(2027, 3, 27, 10, 0, tzinfo=berlin)
    assert monday["DTSTART"].dt == datetime(2027, 3, 29, 10, 0, tzinfo=berlin)
    assert "DTSTART;TZID=Europe/Berlin:20270327T100000" in body
    assert "DTSTART;TZID=Europe/Berlin:20270329T100000" in body
    [zone] = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")
    offsets = {str(part.name): part["TZOFFSETTO"].td for part in zone.subcomponents}
    assert offsets == {"STANDARD": timedelta(hours=1), "DAYLIGHT": timedelta(hours=2)}
    # One date per RDATE line: ical.js (Thunderbird's and many web calendars' parser) reads
    # only the first of a list, and would put every later summer at winter time.
    for rule in zone.subcomponents:
        rdates = rule.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            assert len(rdate.dts) == 1
    # A client with nothing but the file's VTIMEZONE to go by: the wall clock says 10:00 on
    # both days, one hour apart in UTC.
    from_file = zone.to_tz()
    assert [datetime(2027, 3, d, 10, 0, tzinfo=from_file).astimezone(UTC) for d in (27, 29)] == [
        datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 8, 0, tzinfo=UTC),
    ]
    # And Home Assistant's strict parser agrees.
    parsed = strict(body)
    assert [e.dtstart.astimezone(UTC) for e in parsed.events] == [
        datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 8, 0, tzinfo=UTC),
    ]


# -- the links back to the bot ---------------------------------------------------------------


async def test_an_events_link_opens_the_card_for_its_manager_only(team: BotHarness):
    ivanov = await client_id(team, "Иванов")
    [card] = await team.send(MANAGER, f"/start card_{ivanov}")
    assert "Иванов Пётр" in card.text and "+7 912" in card.text
    # Another manager, and a guessed id: the same "not found" as /client gives.
    [refused] = await team.send(OTHER, f"/start card_{ivanov}")
    assert "Иванов" not in refused.text and "not found" in refused.text.lower()
    [missing] = await team.send(MANAGER, "/start card_999999")
    [forged] = await team.send(MANAGER, "/start card_9999999999")
    assert missing.text == forged.text == refused.text
    # The owner sees the whole team, so the card opens for them too (and is audited).
    [owners] = await team.send(OWNER, f"/start card_{ivanov}")
    assert "Иванов Пётр" in owners.text
    async with team.uow_factory() as uow:
        views = list(
            await uow.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "card_view", AuditEntry.client_id == ivanov
                )
            )
        )
    assert len(views) == 2


async def test_a_card_link_is_no_invitation(team: BotHarness):
    ivanov = await client_id(team, "Иванов")
    [stranger] = await team.send(STRANGER, f"/start card_{ivanov}")
    assert "ask the owner for an invitation link" in stranger.text
    assert "Иванов" not in stranger.text
    async with team.uow_factory() as uow:
        assert await uow.members.by_telegram_id(STRANGER.id) is None


# -- settings ------------------------------------------------------------------------------


def test_public_url_must_be_https_and_served(tmp_path: Path):
    def make(**values: object) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    assert make(public_url="https://bot.example.org/", http_port=8080).public_base_url == BASE
    assert make(public_url="http://localhost:8080", http_port=8080).public_base_url
    with pytest.raises(ValidationError, match="https://"):
        make(public_url="http://bot.example.org", http_port=8080)
    with pytest.raises(ValidationError, match="PUBLIC_URL must be an address"):
        make(public_url="bot.example.org", http_port=8080)
    with pytest.raises(ValidationError, match="HTTP_PORT"):
        make(public_url=BASE)
    assert make().public_base_url is None
    webhook = make(
        bot_mode="webhook",
        webhook_url="https://hooks.example.org:8443/telegram/x",
        webhook_secret="s" * 16,
    )
    assert webhook.public_base_url == "https://hooks.example.org:8443"


# -- the token stays out of the logs ---------------------------------------------------------


async def _get_through(runner: web.AppRunner, path: str) -> int:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as r:
            await r.read()
            return r.status
    finally:
        await runner.cleanup()


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Logging as `python -m bot run` sets it up with LOG_LEVEL=DEBUG, into a buffer."""
    yield from _configured_as_main_does("DEBUG")


async def test_the_token_never_reaches_the_log(team: BotHarness, debug_log: io.StringIO):
    await team.send(MANAGER, "/next Ivanov 15.12 10:00")
    # Even with aiohttp's access logger let through (setup_logging quiets it): the server
    # itself writes no access line.
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG)
    token = await turn_on(team, MANAGER)
    [again] = await team.send(MANAGER, "/calendar new")
    renewed = FEED.search(again.text).group(1)  # type: ignore[union-attr]
    runtime = Runtime(team.app, scheduler=False)
    # The HTTP server as `python -m bot run` builds it, on a real socket.
    assert await _get_through(app_runner(runtime), f"/calendar/{renewed}.ics") == 200
    assert await _get_through(app_runner(runtime), f"/calendar/{token}.ics") == 404
    await team.send(MANAGER, "/calendar off")
    assert await _get_through(app_runner(runtime), f"/calendar/{renewed}.ics") == 404
    output = debug_log.getvalue()
    assert "/calendar" in output, "no update was logged: the check would prove nothing"
    for secret in (token, renewed, calendar_service.token_hash(renewed)):
        assert secret not in output, output[-3000:]
    # What the check guards against: an access log writes the path, token and all.
    assert await _get_through(web.AppRunner(runtime.web_app()), f"/calendar/{token}.ics") == 404
    assert token in debug_log.getvalue()


async def test_a_campaign_follow_up_is_an_event_of_its_own(team: BotHarness, http: TestClient):
    await team.send(MANAGER, "/add Vip Client, #vip")
    await team.send(MANAGER, "/next Vip 05.03 10:00")
    await team.send(OWNER, "/campaign #vip 07.03 8 March offer")
    token = await turn_on(team, MANAGER)
    _s, body = await fetch(http, token)
    vip = [e for e in events(body) if "Vip Client" in str(e["SUMMARY"])]
    assert [str(e["UID"]).split("-")[0] for e in vip] == ["next", "followup"]
    assert "8 March offer" in str(vip[1]["DESCRIPTION"])
    assert vip[1]["DTSTART"].dt == date(2027, 3, 7)
    strict(body)


async def test_an_inactive_member_gets_nothing_even_with_a_live_token(
    team: BotHarness, http: TestClient
):
    """The lookup itself checks the member, whatever revoked the token or did not."""
    token = await turn_on(team, MANAGER)
    async with team.uow_factory() as uow:
        found = await uow.members.by_telegram_id(MANAGER.id)
        assert found is not None
        await uow.roster.deactivate(found.team_id, found.id, team.clock.now())
        await uow.commit()
    assert await fetch(http, token) == (404, "not found")


async def test_a_database_outage_is_503_and_says_nothing(
    team: BotHarness, http: TestClient, monkeypatch, caplog: pytest.LogCaptureFixture
):
    token = await turn_on(team, MANAGER)

    async def down(self: object, token: str) -> None:
        raise ConnectionRefusedError(f"cannot reach the database for {token}")

    monkeypatch.setattr(calendar_service.CalendarService, "feed", down)
    response = await http.get(f"/calendar/{token}.ics")
    assert response.status == 503 and response.headers["Retry-After"]
    assert await response.text() == "unavailable"
    assert "ConnectionRefusedError" in caplog.text and token not in caplog.text


async def test_follow_ups_at_the_calendars_end_still_make_a_feed(
    team: BotHarness, http: TestClient
):
    """Stored before follow-up dates were capped: the feed still renders, RFC 5545 clean."""
    await team.send(MANAGER, "/next Ivanov 15.12")
    await team.send(MANAGER, "/meet Petrov 16.12 14:30")
    async with team.uow_factory() as uow:
        await uow.session.execute(
            update(Followup)
            .where(Followup.date_only.is_(True))
            .values(due_on=date.max, due_at=datetime(9999, 12, 31, 6, 0, tzinfo=UTC))
        )
        await uow.session.execute(
            update(Followup)
            .where(Followup.date_only.is_(False))
            .values(due_on=date.max, due_at=datetime(9999, 12, 31, 11, 30, tzinfo=UTC))
        )
        await uow.commit()
    token = await turn_on(team, MANAGER)
    status, body = await fetch(http, token)
    assert status == 200, body
    call, meeting = sorted(events(body), key=lambda e: str(e["SUMMARY"]))
    assert call["DTSTART"].dt == date.max and call["DURATION"].dt == timedelta(days=1)
    assert meeting["DTSTART"].dt == datetime(9999, 12, 31, 14, 30, tzinfo=ZoneInfo("Europe/Moscow"))
    strict(body)


async def test_a_feed_that_cannot_be_rendered_is_503_and_says_nothing(
    team: BotHarness, http: TestClient, monkeypatch, caplog: pytest.LogCaptureFixture
):
    token = await turn_on(team, MANAGER)

    def broken(*args: object) -> bytes:
        raise OverflowError(f"date value out of range in {token}")

    monkeypatch.setattr(calendar_endpoint, "render_feed", broken)
    response = await http.get(f"/calendar/{token}.ics")
    assert response.status == 503 and response.headers["Retry-After"]
    assert await response.text() == "unavailable"
    assert "OverflowError" in caplog.text and token not in caplog.text
