"""`/audit`: the owner reads views, searches, exports and erasures, filtered and paged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import AuditPage, ForgetClient
from storage.models import AuditEntry, Client
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MAX = Person(2, "Max Petrov")
NINA = Person(3, "Nina")
HEAD = Person(4, "Hugo")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MAX, NINA, (HEAD, "head")),
        commands=((MAX, "/add Иванов, +7 999 123-45-67"), (NINA, "/add Сидоров, +7 999 555-44-33")),
        clear=True,
    )


# Joining the team is audited too; these tests look at what happens after.
SETUP = ("joined the team", "created an invitation", "created the team")


def _body(text: str) -> list[str]:
    return [
        line
        for line in text.split("\n")[1:]
        if line and not line.startswith("Filters") and not any(s in line for s in SETUP)
    ]


async def test_audit_lists_newest_first_in_the_owners_zone(team: BotHarness):
    await team.send(MAX, "/client Иванов")  # 10:15 Moscow
    team.clock.advance(timedelta(minutes=5))
    await team.send(MAX, "/find Иван")
    team.clock.advance(timedelta(minutes=5))
    await team.send(OWNER, "/export csv")
    replies = await team.send(OWNER, "/audit")
    lines = _body(replies[-1].text)
    assert len(lines) == 3
    assert "10:25" in lines[0] and "Olga" in lines[0] and "exported" in lines[0]
    assert "2 rows, CSV" in lines[0]
    assert "10:20" in lines[1] and "Max Petrov" in lines[1] and "«Иван»" in lines[1]
    assert "10:15" in lines[2] and "opened the card" in lines[2] and "<b>Иванов</b>" in lines[2]
    assert "/audit Petrov" in replies[-1].text


async def test_filters_by_member_action_and_period(team: BotHarness):
    await team.send(MAX, "/client Иванов")
    await team.send(NINA, "/client Сидоров")
    team.clock.advance(timedelta(days=3))
    await team.send(NINA, "/find Сидор")
    await team.send(OWNER, "/export")

    only_max = _body((await team.send(OWNER, "/audit Petrov"))[-1].text)
    assert len(only_max) == 1 and "Иванов" in only_max[0]
    assert "Max Petrov" in (await team.send(OWNER, "/audit Petrov"))[-1].text.split("\n")[0]
    exports = _body((await team.send(OWNER, "/audit export"))[-1].text)
    assert len(exports) == 1 and "exported" in exports[0]
    views = _body((await team.send(OWNER, "/audit просмотры"))[-1].text)
    assert len(views) == 2
    # Today is 05.12: "today" holds the search and the export only.
    assert len(_body((await team.send(OWNER, "/audit today"))[-1].text)) == 2
    assert len(_body((await team.send(OWNER, "/audit week"))[-1].text)) == 4
    assert len(_body((await team.send(OWNER, "/audit 01.12-02.12"))[-1].text)) == 2
    assert len(_body((await team.send(OWNER, "/audit 02.12"))[-1].text)) == 2
    combined = _body((await team.send(OWNER, "/audit Nina search 05.12"))[-1].text)
    assert len(combined) == 1 and "«Сидор»" in combined[0]
    assert "No audit entries match" in (await team.send(OWNER, "/audit 01.11-20.11"))[-1].text


async def test_bad_filters_are_answered_politely(team: BotHarness):
    assert "No team member matches «Zed»" in (await team.send(OWNER, "/audit Zed"))[-1].text
    assert "period «31.02»" in (await team.send(OWNER, "/audit 31.02"))[-1].text
    assert "period «20.11-01.11»" in (await team.send(OWNER, "/audit 20.11-01.11"))[-1].text


async def test_pages_turn_with_buttons_and_keep_the_filter(team: BotHarness):
    for _n in range(23):
        team.clock.advance(timedelta(minutes=1))
        await team.send(MAX, "/client Иванов")
    await team.send(NINA, "/client Сидоров")
    replies = await team.send(OWNER, "/audit Max views")
    first = _body(replies[-1].text)
    assert len(first) == 20 and "1–20 of 23" in replies[-1].text
    [(label, data)] = replies[-1].buttons
    assert label == "Older ▶️"
    replies = await team.press(OWNER, data)
    second = replies[-1].text
    assert "21–23 of 23" in second and "Сидоров" not in second
    [(label, back)] = replies[-1].buttons
    assert label == "◀️ Newer"
    assert "1–20 of 23" in (await team.press(OWNER, back))[-1].text


@pytest.mark.parametrize("person", [MAX, HEAD])
async def test_non_owners_are_refused(team: BotHarness, person: Person):
    assert "Only the team owner" in (await team.send(person, "/audit"))[-1].text
    await team.press(person, AuditPage(off=0).pack())
    assert any("Only the team owner" in alert for alert in team.alerts())
    assert not team.replies()


async def test_erased_client_shows_as_such_and_the_erasure_is_listed(team: BotHarness):
    await team.send(MAX, "/client Иванов")
    async with team.uow_factory() as uow:
        cid = int(await uow.session.scalar(select(Client.id).where(Client.name == "Иванов")))
    await team.press(OWNER, ForgetClient(act="yes", cid=cid).pack())
    lines = _body((await team.send(OWNER, "/audit"))[-1].text)
    assert "erased personal data" in lines[0] and "erased client" in lines[0]
    assert "opened the card" in lines[1] and "erased client" in lines[1]
    assert all("Иванов" not in line for line in lines)
    async with team.uow_factory() as uow:
        actions = set(await uow.session.scalars(select(AuditEntry.action)))
    assert {"card_view", "erase"} <= actions


async def _member_id(h: BotHarness, name: str) -> int:
    from storage.models import Member

    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(Member.id).where(Member.full_name == name)))


async def test_team_management_rows_are_found_by_their_groups(team: BotHarness):
    """The groups list the action names the team commands really write."""
    from bot.telegram.callbacks import TeamAct

    nina_id, head_id = await _member_id(team, "Nina"), await _member_id(team, "Hugo")
    await team.press(OWNER, TeamAct(act="role", mid=head_id, arg="manager").pack())
    [done] = await team.press(OWNER, TeamAct(act="rmok", mid=nina_id).pack())
    await team.press(OWNER, dict(done.buttons)["➡️ Max Petrov"])
    roles = _body((await team.send(OWNER, "/audit roles"))[-1].text)
    assert len(roles) == 2
    assert any("changed a role" in line for line in roles)
    assert any("removed a member" in line for line in roles)
    transfers = _body((await team.send(OWNER, "/audit transfer"))[-1].text)
    assert len(transfers) == 1 and "transferred clients" in transfers[0]
