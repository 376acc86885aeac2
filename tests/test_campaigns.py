"""`/campaign`: the owner plans a follow-up for every client of a segment or #tag, each for the
client's own manager, through the real Dispatcher on SQLite and PostgreSQL.

The clock stands at Wednesday 2026-12-02 10:15 Moscow time, so `07.03` is 7 March 2027.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select

from bot.telegram.callbacks import Remind
from storage.models import AuditEntry, Campaign, Client, ClientTag, Followup, Member
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
HEAD = Person(4, "Hanna")
MARCH_7 = date(2027, 3, 7)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        # Nina works from Yekaterinburg (UTC+5), 10 to 19: her day starts at 05:00 UTC.
        commands=((OTHER, "/settings tz Asia/Yekaterinburg"), (OTHER, "/settings hours 10-19")),
    )


async def _campaign_followups(h: BotHarness) -> list[tuple[str, int, Followup]]:
    """(client name, manager's Telegram id, follow-up) of every campaign follow-up."""
    async with h.uow_factory() as uow:
        rows = await uow.session.execute(
            select(Client.name, Member.telegram_id, Followup)
            .join(Client, Client.id == Followup.client_id)
            .join(Member, Member.id == Followup.manager_id)
            .where(Followup.kind == "campaign")
            .order_by(Client.name)
        )
        return [(row[0], row[1], row[2]) for row in rows]


async def _count(h: BotHarness, model) -> int:  # type: ignore[no-untyped-def]
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_owner_campaign_by_tag_plans_a_followup_for_each_clients_own_manager(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/add Петров, #VIP, hot")
    await team.send(MANAGER, "/add Козлов, #opt")
    await team.send(OTHER, "/add Сидоров, #vip")

    replies = await team.send(OWNER, "/campaign #vip 07.03 8 March offer")

    assert "«8 March offer»" in replies[0].text
    assert "Follow-ups created: 3. Managers: 2." in replies[0].text
    found = await _campaign_followups(team)
    assert [(name, manager) for name, manager, _f in found] == [
        ("Иванов", MANAGER.id),
        ("Петров", MANAGER.id),
        ("Сидоров", OTHER.id),
    ]
    for _name, manager, followup in found:
        assert followup.due_on == MARCH_7 and followup.date_only
        assert followup.reason == "8 March offer" and followup.state == "pending"
        assert followup.campaign_id is not None
        # Date only: the start of the manager's own working day, in the manager's zone.
        hour = 6 if manager == MANAGER.id else 5  # 09:00 Moscow, 10:00 Yekaterinburg
        assert followup.due_at == datetime(2027, 3, 7, hour, 0, tzinfo=UTC)
    async with team.uow_factory() as uow:
        campaign = await uow.session.scalar(select(Campaign))
        audit = await uow.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "campaign_launched")
        )
    assert campaign is not None and campaign.clients_count == 3 and campaign.due_on == MARCH_7
    assert audit is not None


async def test_owner_campaign_by_segment_ignores_case_also_in_cyrillic(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, segment: Ключевые клиенты")
    await team.send(OTHER, "/add Петров, сегмент: КЛЮЧЕВЫЕ клиенты")
    await team.send(OTHER, "/add Сидоров, segment: Розница")

    replies = await team.send(OWNER, "/campaign ключевые клиенты 07.03 Поздравить")

    assert "Follow-ups created: 2. Managers: 2." in replies[0].text
    found = await _campaign_followups(team)
    assert [(name, manager) for name, manager, _f in found] == [
        ("Иванов", MANAGER.id),
        ("Петров", OTHER.id),
    ]
    assert all(f.reason == "Поздравить" for _n, _m, f in found)


async def test_a_selector_matches_a_tag_or_a_segment_without_counting_a_client_twice(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов, #vip, segment: VIP")
    await team.send(MANAGER, "/add Петров, segment: vip")
    replies = await team.send(OWNER, "/campaign VIP 07.03 offer")
    assert "Follow-ups created: 2. Managers: 1." in replies[0].text
    assert [name for name, _m, _f in await _campaign_followups(team)] == ["Иванов", "Петров"]


async def test_campaign_followups_come_on_top_of_the_clients_own_next_contact(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/next Иванов 15.12 10:00 send the price")

    await team.send(OWNER, "/campaign #vip 07.03 8 March offer")

    async with team.uow_factory() as uow:
        pending = list(
            await uow.session.scalars(
                select(Followup).where(Followup.state == "pending").order_by(Followup.due_at)
            )
        )
    assert [(f.kind, f.due_on, f.reason) for f in pending] == [
        ("call", date(2026, 12, 15), "send the price"),
        ("campaign", MARCH_7, "8 March offer"),
    ]


async def test_archived_clients_are_left_out_of_a_campaign(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/add Петров, #vip")
    await team.send(MANAGER, "/call Петров refused")  # a refused lead is archived
    async with team.uow_factory() as uow:
        archived = await uow.session.scalar(select(Client).where(Client.name == "Петров"))
    assert archived is not None and archived.archived_at is not None

    replies = await team.send(OWNER, "/campaign #vip 07.03 offer")

    assert "Follow-ups created: 1. Managers: 1." in replies[0].text
    assert [name for name, _m, _f in await _campaign_followups(team)] == ["Иванов"]


@pytest.mark.parametrize("person", [MANAGER, HEAD], ids=["manager", "head"])
async def test_managers_and_the_head_may_not_launch_a_campaign_and_nothing_is_written(
    team: BotHarness, person: Person
):
    await team.send(MANAGER, "/add Иванов, #vip")
    for command in ("/campaign #vip 07.03 offer", "/campaign"):
        replies = await team.send(person, command)
        assert [r.text for r in replies] == ["Only the team owner can do this."]
    assert await _count(team, Campaign) == 0
    assert await _campaign_followups(team) == []


async def test_a_campaign_without_matching_clients_writes_nothing(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/add Петров, #vip")
    await team.send(MANAGER, "/call Петров refused")

    replies = await team.send(OWNER, "/campaign wholesale 07.03 offer")
    assert "No active client has the segment or tag «wholesale»" in replies[0].text
    # Only archived clients carry a tag: still no one to call.
    await team.send(MANAGER, "/call Иванов refused")
    replies = await team.send(OWNER, "/campaign #vip 07.03 offer")
    assert "No active client" in replies[0].text
    assert await _count(team, Campaign) == 0
    assert await _campaign_followups(team) == []


@pytest.mark.parametrize("when", ["01.12.2026", "вчера", "yesterday", "сегодня 09:00"])
async def test_a_campaign_in_the_past_is_refused(team: BotHarness, when: str):
    await team.send(MANAGER, "/add Иванов, #vip")
    replies = await team.send(OWNER, f"/campaign #vip {when} offer")
    assert "already passed" in replies[0].text
    assert await _count(team, Campaign) == 0
    assert await _campaign_followups(team) == []


async def test_a_campaign_for_today_is_allowed(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    replies = await team.send(OWNER, "/campaign #vip today call about the new price list")
    assert "Follow-ups created: 1." in replies[0].text
    [(_name, _manager, followup)] = await _campaign_followups(team)
    assert followup.due_on == date(2026, 12, 2) and followup.date_only
    assert followup.reason == "call about the new price list"


async def test_an_exact_time_is_kept_as_the_owner_typed_it(team: BotHarness):
    await team.send(OTHER, "/add Сидоров, #vip")
    await team.send(OWNER, "/campaign #vip 07.03 12:00 offer")
    [(_name, _manager, followup)] = await _campaign_followups(team)
    # 12:00 on the owner's Moscow clock, whatever the manager's zone.
    assert followup.due_at == datetime(2027, 3, 7, 9, 0, tzinfo=UTC)
    assert not followup.date_only and followup.reason == "offer"


async def test_the_same_campaign_twice_is_refused_and_nothing_is_doubled(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(OTHER, "/add Сидоров, #vip")
    await team.send(OWNER, "/campaign #vip 07.03 8 March offer")

    for again in ("/campaign #vip 07.03 8 March offer", '/campaign VIP 7 march "8 march OFFER"'):
        replies = await team.send(OWNER, again)
        assert "has already been launched" in replies[0].text, again
        assert "07.03.2027" in replies[0].text
    assert await _count(team, Campaign) == 1
    assert len(await _campaign_followups(team)) == 2

    # Another title or another day is another campaign.
    await team.send(OWNER, "/campaign #vip 07.03 Second wave")
    await team.send(OWNER, "/campaign #vip 08.03 8 March offer")
    assert await _count(team, Campaign) == 3
    assert len(await _campaign_followups(team)) == 6


async def test_russian_and_english_command_forms_read_the_same_title_and_day(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, segment: VIP")
    russian_owner = Person(OWNER.id, OWNER.first_name, language="ru")

    replies = await team.send(russian_owner, '/campaign VIP 07.03 "Акция к 8 Марта"')
    # The owner's language: the date is written in Russian.
    assert "7 марта 2027" in replies[0].text and "Акция к 8 Марта" in replies[0].text
    await team.send(OWNER, "/campaign VIP 8 марта «Скидка к празднику»")
    await team.send(OWNER, "/campaign #vip March 9 Spring offer")
    await team.send(OWNER, "/campaign #vip 07.03 8 March offer")

    found = [(f.due_on, f.reason) for _n, _m, f in await _campaign_followups(team)]
    assert sorted(found) == [
        (MARCH_7, "8 March offer"),
        (MARCH_7, "Акция к 8 Марта"),
        (date(2027, 3, 8), "Скидка к празднику"),
        (date(2027, 3, 9), "Spring offer"),
    ]


async def test_bare_or_incomplete_campaign_command_explains_itself_with_an_example(
    team: BotHarness,
):
    for command in ("/campaign", "/campaign VIP", "/campaign VIP 07.03", "/campaign VIP offer"):
        replies = await team.send(OWNER, command)
        assert "<code>/campaign VIP 07.03 8 March offer</code>" in replies[0].text, command
    assert await _count(team, Campaign) == 0


async def test_a_campaign_over_thousands_of_clients_is_written_in_one_insert(
    team: BotHarness, engine
):  # type: ignore[no-untyped-def]
    await team.send(MANAGER, "/add Seed, #vip")
    async with team.uow_factory() as uow:
        seed = await uow.session.scalar(select(Client).where(Client.name == "Seed"))
        assert seed is not None
        now = team.clock.now()
        common = {
            "team_id": seed.team_id,
            "manager_id": seed.manager_id,
            "temperature": "warm",
            "stage": "new",
            "stage_changed_at": now,
            "created_at": now,
            "updated_at": now,
        }
        await uow.session.execute(
            insert(Client), [{**common, "name": f"Bulk {n:04d}"} for n in range(2500)]
        )
        ids = list(await uow.session.scalars(select(Client.id).where(Client.name.like("Bulk%"))))
        await uow.session.execute(
            insert(ClientTag),
            [{"team_id": seed.team_id, "client_id": cid, "tag": "vip"} for cid in ids],
        )
        await uow.commit()

    inserts: list[str] = []

    def count_inserts(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO FOLLOWUPS"):
            inserts.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count_inserts)
    try:
        replies = await team.send(OWNER, "/campaign #vip 07.03 offer")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_inserts)

    assert "Follow-ups created: 2501. Managers: 1." in replies[0].text
    assert await _count(team, Followup) == 2501 + 1  # and Seed's own first contact
    # One executemany (the driver may split it into a few batches), not one per client.
    assert 1 <= len(inserts) <= 3


async def test_help_shows_the_campaign_example_to_the_owner_only(team: BotHarness):
    owner_help = (await team.send(OWNER, "/help"))[0].text
    head_help = (await team.send(HEAD, "/help"))[0].text
    assert "<code>/campaign VIP 07.03 8 March offer</code>" in owner_help
    assert "/campaign" not in head_help and "/invite manager" in head_help


async def test_a_campaign_title_over_the_limit_is_refused(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    replies = await team.send(OWNER, "/campaign #vip 07.03 " + "x" * 201)
    assert "at most 200 characters" in replies[0].text
    assert await _count(team, Campaign) == 0


async def _followups(h: BotHarness, name: str) -> list[Followup]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(
            select(Followup)
            .join(Client, Client.id == Followup.client_id)
            .where(Client.name == name)
            .order_by(Followup.id)
        )
        return list(rows)


async def test_the_card_and_lists_show_the_clients_own_next_contact_beside_a_campaign(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/next Иванов 20.12")
    await team.send(OWNER, "/campaign vip 07.03 Акция к 8 Марта")
    card = (await team.send(MANAGER, "/client Иванов"))[0]
    assert "Sun, 20 December" in card.text or "20 December" in card.text
    listing = (await team.send(MANAGER, "/list"))[0]
    assert "1–1 of 1" in listing.text and listing.text.count("Иванов") == 1


async def test_a_logged_call_settles_a_campaign_followup_that_has_come_due(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(OWNER, "/campaign vip 03.12 Предложение")
    await team.send(MANAGER, "/call Иванов done")  # on 2 December: the campaign is not due yet
    states = {(f.kind, f.state) for f in await _followups(team, "Иванов")}
    assert ("campaign", "pending") in states
    team.clock.advance(timedelta(days=1))
    await team.send(MANAGER, "/call Иванов done")
    kinds = [(f.kind, f.state) for f in await _followups(team, "Иванов") if f.state == "pending"]
    assert kinds == [("call", "pending")]


async def test_a_refusal_cancels_campaign_followups_too(team: BotHarness):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(OWNER, "/campaign vip 07.03 Акция")
    await team.send(MANAGER, "/call Иванов отказ")
    assert all(f.state != "pending" for f in await _followups(team, "Иванов"))


async def test_a_campaign_pushs_tomorrow_button_moves_only_the_campaign_followup(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов, #vip")
    await team.send(MANAGER, "/next Иванов 20.12")
    await team.send(OWNER, "/campaign vip 02.12 Звонок по акции")
    campaign = next(f for f in await _followups(team, "Иванов") if f.kind == "campaign")
    await team.press(MANAGER, Remind(act="tomorrow", fid=campaign.id).pack())
    pending = [f for f in await _followups(team, "Иванов") if f.state == "pending"]
    assert sorted((f.kind, f.due_on.isoformat(), f.reason) for f in pending) == [
        ("call", "2026-12-20", None),
        ("campaign", "2026-12-03", "Звонок по акции"),
    ]
