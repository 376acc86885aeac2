"""Every command and button, as each kind of person: allowed, or refused politely with no change.

The matrix is data: one `Row` per command or button, with the set of actors allowed. A feature
that adds a command appends rows to `ROWS` (import, export, audit, forget, portfolio...); the
test needs no other change. Each row runs on a fresh team, the actors one after another, those
who must be refused first, so what an allowed actor changes cannot hide a refusal.

Actors: a stranger, a removed member, a manager on another's client, the same manager on their
own client, the head of sales, the owner (head and owner act on clients of other members).
A row marked `granted` runs after the owner has granted export to Max and the head: the head then
exports anyone's clients, a manager only their own (a CSV export is searched for leaks too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import Chat, Document, Message, Update
from sqlalchemy import select

from bot.telegram.callbacks import (
    AuditPage,
    CardAction,
    ForgetClient,
    ImportAction,
    ListPage,
    PickClient,
    PortfolioAct,
    PortfolioView,
    Remind,
    SetConsent,
    SetLanguage,
    TeamAct,
    TransferPick,
)
from storage.models import (
    Activity,
    Campaign,
    Client,
    ClientTag,
    Deal,
    Followup,
    Invite,
    Member,
)
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MAX = Person(2, "Max")
NINA = Person(3, "Nina")
HEAD = Person(4, "Hugo")
GONE = Person(5, "Rita")
STRANGER = Person(6, "Stan")

ACTORS = ("stranger", "removed", "manager_other", "manager_own", "head", "owner")
WHO = {
    "stranger": STRANGER,
    "removed": GONE,
    "manager_other": MAX,
    "manager_own": MAX,
    "head": HEAD,
    "owner": OWNER,
}
MEMBERS = frozenset({"manager_own", "manager_other", "head", "owner"})
ON_CLIENT = frozenset({"manager_own", "head", "owner"})  # may act on the target client
TEAM_WIDE = frozenset({"head", "owner"})
OWNER_ONLY = frozenset({"owner"})
NOBODY: frozenset[str] = frozenset()

# What a polite refusal says; an allowed action's answers contain none of these.
REFUSALS = (
    "invitation link",
    "access to this team has been closed",
    "No client matches",
    "not found among your clients",
    "Nothing found",
    "Only the team owner",
    "Only the owner or the head of sales",
    "expired",
    "Only the owner, or a member the owner granted it",
    "You can export only your own clients",
    "You can see only your own numbers",
)
# Tables a refusal must leave as they were (the audit log may record the attempt).
WATCHED = (Client, ClientTag, Activity, Followup, Deal, Member, Invite, Campaign)


@dataclass(frozen=True)
class Target:
    """What a row's command or button names, for one actor."""

    client: str
    cid: int
    fid: int  # the client's pending next contact
    digits: str
    holder: str  # a member holding clients, acted on by team commands
    holder_id: int
    receiver: str  # a member who may receive them
    receiver_id: int


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # "send" (a message), "press" (callback data) or "file" (a document, by its name)
    make: Callable[[Target], str]
    allowed: frozenset[str]
    granted: bool = False  # the owner has granted export to Max and the head first


def cmd(name: str, text: str, allowed: frozenset[str], *, granted: bool = False) -> Row:
    return Row(name, "send", lambda t: text.format(**t.__dict__), allowed, granted)


def upload(name: str, file_name: str, allowed: frozenset[str]) -> Row:
    return Row(name, "file", lambda t: file_name, allowed)


def button(name: str, make: Callable[[Target], Any], allowed: frozenset[str]) -> Row:
    return Row(name, "press", lambda t: make(t).pack(), allowed)


PERIOD = "M202611"  # a /portfolio period key: November 2026
IMPORTED = "Название;Телефон\nПетров;+7 999 888-77-66\n".encode()

ROWS: list[Row] = [
    cmd("/start", "/start", MEMBERS),
    cmd("/invite", "/invite manager", OWNER_ONLY),
    cmd("/add", "/add Новиков, +7 999 777-66-55", MEMBERS),
    cmd("/call", "/call {client} done", ON_CLIENT),
    cmd("/note", "/note {client} wants a discount", ON_CLIENT),
    cmd("/meet", "/meet {client} tomorrow 15:00", ON_CLIENT),
    cmd("/next", "/next {client} 15.12 10:00", ON_CLIENT),
    cmd("/deal", "/deal {client} 150000", ON_CLIENT),
    cmd("/hot", "/hot {client}", ON_CLIENT),
    cmd("/warm", "/warm {client}", ON_CLIENT),
    cmd("/cold", "/cold {client}", ON_CLIENT),
    cmd("/client", "/client {client}", ON_CLIENT),
    cmd("/find", "/find {digits}", ON_CLIENT),
    cmd("/list", "/list", MEMBERS),
    cmd("/today", "/today", MEMBERS),
    cmd("/settings", "/settings", MEMBERS),
    cmd("/settings tz", "/settings tz +5", MEMBERS),
    cmd("/settings team", "/settings team quiet 10", OWNER_ONLY),
    cmd("/campaign", "/campaign #vip 07.03 8 March offer", OWNER_ONLY),
    cmd("/help", "/help", MEMBERS),
    cmd("/cancel", "/cancel", MEMBERS),
    cmd("/team", "/team", TEAM_WIDE),
    cmd("/transfer", "/transfer {holder} {receiver} {client}", TEAM_WIDE),
    cmd("/transfer bare", "/transfer", TEAM_WIDE),
    cmd("/owner", "/owner {holder}", OWNER_ONLY),
    *(
        button(f"card {act}", lambda t, a=act: CardAction(act=a, cid=t.cid, fid=t.fid), ON_CLIENT)
        for act in ("open", "hot", "warm", "cold", "done", "no_answer", "tomorrow", "week")
    ),
    *(
        button(f"push {act}", lambda t, a=act: Remind(act=a, fid=t.fid), ON_CLIENT)
        for act in ("done", "no_answer", "hour", "tomorrow", "twoweeks", "other", "open")
    ),
    button("list page", lambda t: ListPage(flt="a", off=0), MEMBERS),
    button("language", lambda t: SetLanguage(code="en"), MEMBERS),
    # A pick button is only valid for the list it was shown with: forged, it works for nobody.
    button("forged pick", lambda t: PickClient(cmd="client", cid=t.cid, pid="abc"), NOBODY),
    button("team open", lambda t: TeamAct(act="open", mid=t.holder_id), TEAM_WIDE),
    button("team role", lambda t: TeamAct(act="role", mid=t.holder_id, arg="head"), OWNER_ONLY),
    button("team remove", lambda t: TeamAct(act="rmok", mid=t.holder_id), OWNER_ONLY),
    button(
        "team reassign",
        lambda t: TeamAct(act="to", mid=t.holder_id, arg=str(t.receiver_id)),
        TEAM_WIDE,
    ),
    button("team ownership", lambda t: TeamAct(act="ownok", mid=t.holder_id), OWNER_ONLY),
    button("forged transfer", lambda t: TransferPick(step="all", mid=t.receiver_id), NOBODY),
    # Import: the owner only, the head included (README: "owner: import clients").
    cmd("/import", "/import", OWNER_ONLY),
    upload("import file", "clients.csv", OWNER_ONLY),
    button("forged import", lambda t: ImportAction(act="go", tok="0" * 12), NOBODY),
    # Export: the owner, or a member granted it (nobody is granted in this team).
    cmd("/export", "/export", OWNER_ONLY),
    cmd("/export member", "/export {holder}", OWNER_ONLY),
    cmd("/export csv", "/export csv with activities", OWNER_ONLY),
    cmd("/grant export", "/grant export {holder}", OWNER_ONLY),
    cmd("/revoke export", "/revoke export {holder}", OWNER_ONLY),
    cmd("/audit", "/audit", OWNER_ONLY),
    cmd("/audit member", "/audit {holder}", OWNER_ONLY),
    button("audit page", lambda t: AuditPage(off=0), OWNER_ONLY),
    button("audit filtered page", lambda t: AuditPage(mid=t.holder_id, grp="views"), OWNER_ONLY),
    cmd("/consent", "/consent {client} yes", ON_CLIENT),
    button("consent pick", lambda t: SetConsent(cid=t.cid, val="no"), ON_CLIENT),
    # Erasure: the owner only, even on a manager's own client.
    cmd("/forget", "/forget {client}", OWNER_ONLY),
    button("forget ask", lambda t: ForgetClient(act="ask", cid=t.cid), OWNER_ONLY),
    button("forget no", lambda t: ForgetClient(act="no", cid=t.cid), OWNER_ONLY),
    button("forget yes", lambda t: ForgetClient(act="yes", cid=t.cid), OWNER_ONLY),
    # Analytics: everyone their own numbers; owner and head anyone's and the team's.
    cmd("/portfolio", "/portfolio", MEMBERS),
    cmd("/portfolio own", "/portfolio quarter Max", MEMBERS),
    cmd("/portfolio member", "/portfolio {holder}", TEAM_WIDE),
    button("portfolio team", lambda t: PortfolioView(p=PERIOD, m=0, s="0"), MEMBERS),
    button("portfolio section", lambda t: PortfolioView(p=PERIOD, m=0, s="2"), MEMBERS),
    button("portfolio period", lambda t: PortfolioView(p="Y2026", m=0, s="1"), MEMBERS),
    button(
        "portfolio member view", lambda t: PortfolioView(p=PERIOD, m=t.holder_id, s="0"), TEAM_WIDE
    ),
    button("portfolio chart", lambda t: PortfolioAct(a="chart", p=PERIOD, m=0, s="4"), MEMBERS),
    button(
        "portfolio member chart",
        lambda t: PortfolioAct(a="chart", p=PERIOD, m=t.holder_id, s="2"),
        TEAM_WIDE,
    ),
    *(
        button(
            f"portfolio {fmt}", lambda t, f=fmt: PortfolioAct(a=f, p=PERIOD, m=0, s="1"), OWNER_ONLY
        )
        for fmt in ("xlsx", "csv")
    ),
    # Granted export: the head any member's clients, a manager only their own.
    cmd("/export granted", "/export", MEMBERS, granted=True),
    cmd("/export granted member", "/export {holder}", TEAM_WIDE, granted=True),
    cmd("/export granted csv", "/export csv", MEMBERS, granted=True),
    Row(
        "portfolio xlsx granted",
        "press",
        lambda t: PortfolioAct(a="xlsx", p=PERIOD, m=0, s="0").pack(),
        MEMBERS,
        granted=True,
    ),
]

# Whose client each actor names, and which members the team commands name.
TARGETS = {
    "stranger": ("Сидоров", NINA, OWNER),
    "removed": ("Сидоров", NINA, OWNER),
    "manager_other": ("Сидоров", NINA, OWNER),
    "manager_own": ("Иванов", NINA, OWNER),
    "head": ("Сидоров", NINA, OWNER),
    "owner": ("Кузнецов", MAX, HEAD),
}


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(),
        seated=((MAX, "manager"), (NINA, "manager"), (HEAD, "head"), (GONE, "manager")),
        commands=(
            (MAX, "/add Иванов, +7 999 111-22-33"),
            (MAX, "/add Кузнецов, +7 999 333-44-55"),
            (NINA, "/add Сидоров, +7 999 555-44-33, #vip"),
        ),
    )


@pytest.fixture
async def team(team: BotHarness) -> BotHarness:
    """The conftest team, Rita removed from it by the owner."""
    await team.press(OWNER, TeamAct(act="rmok", mid=await _member_id(team, GONE)).pack())
    return team


async def _member_id(h: BotHarness, person: Person) -> int:
    async with h.uow_factory() as uow:
        member = await uow.members.by_telegram_id(person.id)
    assert member is not None
    return member.id


async def _target(h: BotHarness, actor: str) -> Target:
    client_name, holder, receiver = TARGETS[actor]
    async with h.uow_factory() as uow:
        client = await uow.session.scalar(select(Client).where(Client.name == client_name))
        assert client is not None
        followup = await uow.followups.pending_for_client(client.team_id, client.id)
        digits = client.phone_digits
    return Target(
        client=client_name,
        cid=client.id,
        fid=followup.id if followup else 0,
        digits=digits[-7:],
        holder=holder.first_name,
        holder_id=await _member_id(h, holder),
        receiver=receiver.first_name,
        receiver_id=await _member_id(h, receiver),
    )


async def _upload(h: BotHarness, person: Person, name: str, content: bytes) -> list[Any]:
    """The person sends `content` as a document; LocalSession serves it for download."""
    file_id = f"BQACAgIAAxkBAAI{next(h._ids):06d}"
    h.session.add_file(file_id, content)
    h.session.clear()
    message = Message(
        message_id=next(h._ids),
        date=datetime.now(UTC),
        chat=Chat(id=person.id, type="private"),
        from_user=h._user(person),
        document=Document(
            file_id=file_id, file_unique_id=file_id[-8:], file_name=name, file_size=len(content)
        ),
    )
    await h.app.dispatcher.feed_update(h.app.bot, Update(update_id=next(h._ids), message=message))
    return h.replies()


async def _snapshot(h: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    async with h.uow_factory() as uow:
        out = {}
        for model in WATCHED:
            columns = list(model.__table__.columns)
            rows = await uow.session.execute(
                select(*columns).order_by(*model.__table__.primary_key)
            )
            out[model.__tablename__] = [tuple(row) for row in rows]
        return out


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_role_matrix(team: BotHarness, row: Row):
    if row.granted:
        async with team.uow_factory() as uow:
            for person in (MAX, HEAD):
                member = await uow.members.by_telegram_id(person.id)
                assert member is not None
                await uow.members.update(member.team_id, member.id, can_export=True)
            await uow.commit()
    for actor in ACTORS:
        target = await _target(team, actor)
        payload = row.make(target)
        before = await _snapshot(team)
        person = WHO[actor]
        if row.kind == "send":
            replies = await team.send(person, payload)
        elif row.kind == "file":
            replies = await _upload(team, person, payload, IMPORTED)
        else:
            replies = await team.press(person, payload)
        said = [reply.text for reply in replies] + team.alerts()
        # Files and charts: sent without a text message, they are an answer too.
        documents = team.session.sent(SendDocument)
        said += [f"[file] {r.caption or ''}" for r in documents]
        said += [f"[chart] {r.caption or ''}" for r in team.session.sent(SendPhoto)]
        where = f"{row.name} as {actor}: {said}"
        assert any(text.strip() for text in said), f"silence: {where}"
        refused = [text for text in said if any(marker in text for marker in REFUSALS)]
        if actor in row.allowed:
            assert not refused, f"refused: {where}"
        else:
            assert refused, f"not refused: {where}"
            assert await _snapshot(team) == before, f"changed data: {where}"
        if actor in ("stranger", "removed", "manager_other") and target.client not in payload:
            # Whatever the answer, it never shows a client the actor may not see.
            assert not any(target.client in text for text in said), f"leak: {where}"
            # A CSV export is plain text: it must not hold that client either.
            for document in documents:
                data = document.document.data  # type: ignore[union-attr]
                if document.document.filename.endswith(".csv"):  # type: ignore[union-attr]
                    assert target.client not in data.decode("utf-8-sig"), f"leak: {where}"
