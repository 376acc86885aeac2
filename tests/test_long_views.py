"""Every paged or long view stays within Telegram's limits when every name, note, tag and title
is as long as the database allows, through the Telegram-faithful session: the `harness` fixture
fails the test on any message Telegram would refuse (too long, broken HTML).

Texts are drawn from characters that make the measure matter: `&`, `<`, `>` and quotes (escaped
into entities: longer raw than shown), emoji and other characters outside the Basic
Multilingual Plane (two UTF-16 code units each), Cyrillic. The old pager (a fixed count of 25
rows a page) sent /list pages of ~7,000 characters here, which Telegram refuses.

CI (CI=true) runs a derandomized profile, so a failure there reproduces on every run.
"""

from __future__ import annotations

import itertools
import os
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from bot.config import Settings
from bot.services.clients import new_client_row
from bot.telegram.callbacks import PortfolioView
from bot.telegram.paging import TEXT_LIMIT, visible_length
from bot.telegram.views.portfolio import SECTIONS
from storage.models import Activity, Client, ClientTag, Deal, Followup, Member, text_limit
from tests.support.harness import BotHarness, Person, Reply
from tests.support.sweeps import make_sweep

IN_CI = os.environ.get("CI", "").lower() == "true"
hypothesis_settings.register_profile(
    "long-views-ci", derandomize=True, deadline=None, print_blob=True
)
hypothesis_settings.register_profile("long-views-dev", deadline=None, print_blob=True)
PROFILE = hypothesis_settings.get_profile("long-views-ci" if IN_CI else "long-views-dev")

MSK = ZoneInfo("Europe/Moscow")
CLIENTS = 150
NAME = text_limit(Client, "name") or 200
CONTACT = text_limit(Client, "contact_person") or 200
SEGMENT = text_limit(Client, "segment") or 100
MEMBER = text_limit(Member, "full_name") or 200
NOTE = Settings(_env_file=None).limits.max_note_chars
TAG = Settings(_env_file=None).limits.max_tag_chars
# Escaped into entities, outside the BMP, Cyrillic, plain: every way raw length and Telegram's
# count differ. No `,` `;` `#` or new lines: those are separators where the texts are typed.
ALPHABET = ["&", "<", ">", '"', "'", "🙂", "𝔘", "ж", "Ё", "W", "o", " "]

_people = itertools.count(1000, 10)


def exactly(length: int) -> st.SearchStrategy[str]:
    """A text of exactly `length` characters that does not start or end with a space (the bot
    strips those)."""
    return st.text(st.sampled_from(ALPHABET), min_size=length - 2, max_size=length - 2).map(
        lambda middle: f"W{middle}W"
    )


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,
        bot_token=None,
        database_url="sqlite+aiosqlite:///:memory:",
        open_registration=True,  # every example founds a team of its own
    )


def _within_limits(replies: list[Reply]) -> None:
    for reply in replies:
        assert 0 < visible_length(reply.text) <= TEXT_LIMIT, reply.text[:200]


async def _member_ids(h: BotHarness, *people: Person) -> list[int]:
    async with h.uow_factory() as uow:
        rows = {
            telegram_id: member_id
            for telegram_id, member_id in await uow.session.execute(
                select(Member.telegram_id, Member.id)
            )
        }
    return [rows[person.id] for person in people]


async def _fill(
    h: BotHarness,
    manager_id: int,
    names: list[str],
    contact: str,
    note: str,
    tag: str,
    segment: str,
) -> None:
    """150 clients straight into the database: every text at its column's length, a follow-up
    each (half overdue), a long note, a tag, a deal this month and a birthday this week."""
    now = h.clock.now()
    today = now.astimezone(MSK).date()
    async with h.uow_factory() as uow:
        team_id = await uow.session.scalar(select(Member.team_id).where(Member.id == manager_id))
        rows = [
            new_client_row(
                team_id=team_id,
                manager_id=manager_id,
                name=name,
                now=now,
                contact_person=contact,
                segment=segment,
                temperature="hot",
                birthday=date(1980, today.month, today.day) + timedelta(days=1),
                created_at=now - timedelta(days=60),
            )
            for name in names
        ]
        ids = list(await uow.session.scalars(insert(Client).returning(Client.id), rows))
        due = [today - timedelta(days=3), today]
        await uow.session.execute(
            insert(Followup),
            [
                {
                    "team_id": team_id,
                    "client_id": client_id,
                    "manager_id": manager_id,
                    "created_by": manager_id,
                    "kind": "call",
                    "due_at": datetime.combine(due[n % 2], time(12), MSK),
                    "due_on": due[n % 2],
                    "date_only": True,
                    "reason": note,
                    "state": "pending",
                    "created_at": now,
                }
                for n, client_id in enumerate(ids)
            ],
        )
        await uow.session.execute(
            insert(ClientTag),
            [{"team_id": team_id, "client_id": client_id, "tag": tag} for client_id in ids],
        )
        await uow.session.execute(
            insert(Activity),
            [
                {
                    "team_id": team_id,
                    "client_id": client_id,
                    "author_id": manager_id,
                    "kind": "note",
                    "text": note,
                    "occurred_at": now - timedelta(days=n % 5 + 1),
                }
                for n, client_id in enumerate(ids[:10] * 5)
            ],
        )
        await uow.session.execute(
            insert(Deal),
            [
                {
                    "team_id": team_id,
                    "client_id": client_id,
                    "manager_id": manager_id,
                    "amount": Decimal(1000 + n),
                    "profit": Decimal(100 + n),
                    "currency": "RUB",
                    "closed_on": today.replace(day=1),
                    "created_at": now,
                }
                for n, client_id in enumerate(ids)
            ],
        )
        await uow.commit()


async def _all_pages(h: BotHarness, person: Person, first: list[Reply]) -> int:
    """Press the forward button until the last page; every page within the limits. Returns
    how many pages there were."""
    pages, replies = 1, first
    while True:
        _within_limits(replies)
        forward = [data for label, data in replies[-1].buttons if "▶" in label]
        if not forward:
            return pages
        replies = await h.press(person, forward[0])
        pages += 1
        assert pages < 400, "paging does not end"


@hypothesis_settings(
    PROFILE,
    max_examples=2,
    # One example builds a team of 150 clients and walks every view: shrinking would take
    # minutes, and the failing view and text are in the assertion anyway.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    client_name=exactly(NAME),
    contact=exactly(CONTACT),
    member_name=exactly(MEMBER),
    note=exactly(200).map(lambda chunk: (chunk * (NOTE // 200 + 1))[:NOTE]),
    tag=st.text(st.sampled_from("abcжё_-09"), min_size=TAG, max_size=TAG),
    segment=exactly(SEGMENT),
    title=exactly(200),
    query=exactly(100),
)
async def test_every_long_view_fits_telegram_with_texts_at_their_maximum_length(
    harness: BotHarness,
    client_name: str,
    contact: str,
    member_name: str,
    note: str,
    tag: str,
    segment: str,
    title: str,
    query: str,
):
    h = harness
    base = next(_people)
    owner = Person(base, member_name, "en")
    manager = Person(base + 1, member_name[::-1], "ru")
    head = Person(base + 2, member_name.swapcase(), "en")
    await h.join_owner(owner)
    await h.invite_and_join(owner, manager)
    await h.invite_and_join(owner, head, role="head")
    [manager_id] = await _member_ids(h, manager)
    # Distinct names (the list sorts by them), all at the maximum length.
    names = [f"{n:03d}{client_name[3:]}" for n in range(CLIENTS)]
    await _fill(h, manager_id, names, contact, note, tag, segment)
    _within_limits(await h.send(manager, f"/campaign #{tag} 25.12 {title}"))
    for n in range(8):
        _within_limits(await h.send(owner, f"/find {query}"))
        _within_limits(await h.send(owner, f"/client {names[n][:40]}"))

    # /list: every page, forward, then one back; the rows are all shown, each once.
    first = await h.send(owner, "/list")
    pages = await _all_pages(h, owner, first)
    assert pages > CLIENTS // 25  # more pages than a fixed count of rows would give
    await _all_pages(h, owner, await h.send(manager, f"/list #{tag}"))
    _within_limits(await h.send(manager, "/list overdue"))

    for person in (owner, manager, head):
        _within_limits(await h.send(person, "/today"))
        _within_limits(await h.send(person, "/help"))
    _within_limits(await h.send(owner, f"/find {client_name[:60]}"))
    await _all_pages(h, owner, await h.send(owner, "/team"))
    await _all_pages(h, owner, await h.send(owner, "/audit"))

    period = "M" + h.clock.now().astimezone(MSK).strftime("%Y%m")
    for section in SECTIONS:
        _within_limits(await h.press(owner, PortfolioView(p=period, m=0, s=section).pack()))
    _within_limits(await h.press(manager, PortfolioView(p=period, m=0, s="0").pack()))

    # The morning digest of every member: planned before 09:00 in Moscow, sent at 09:00.
    tomorrow = h.clock.now().astimezone(MSK).date() + timedelta(days=1)
    sweep = make_sweep(h)
    h.clock.set(datetime.combine(tomorrow, time(8, 59), MSK))
    await sweep.run_once()
    h.clock.set(datetime.combine(tomorrow, time(9), MSK))
    digests: list[Reply] = []
    for _tick in range(6):  # the reminders of 150 follow-ups go first, in batches
        h.session.clear()
        await sweep.run_once()
        _within_limits(h.replies())
        digests += [reply for reply in h.replies() if "☀️" in reply.text]
    assert digests


def _rows(reply: Reply) -> list[str]:
    return [line for line in reply.text.split("\n")[1:] if line.startswith("🔥")]


async def test_list_pages_show_every_client_once_and_back_returns_the_same_pages(
    harness: BotHarness,
):
    h = harness
    owner = Person(next(_people), "Olga", "en")
    manager = Person(owner.id + 1, "Max", "en")
    await h.join_owner(owner)
    await h.invite_and_join(owner, manager)
    [manager_id] = await _member_ids(h, manager)
    names = [f"{n:03d} " + "Tom & Jerry <LLC> 🙂 " * 10 for n in range(60)]
    await _fill(h, manager_id, [name[:NAME].strip() for name in names], "c", "n", "t", "s")
    forward: list[Reply] = [(await h.send(manager, "/list"))[0]]
    while more := [data for label, data in forward[-1].buttons if "▶" in label]:
        forward.append((await h.press(manager, more[0]))[0])
    shown = [row for page in forward for row in _rows(page)]
    # Every client, each once.
    assert sorted(row.split("<b>")[1][:3] for row in shown) == [f"{n:03d}" for n in range(60)]
    assert len(forward) > 60 // 25 + 1  # pages are made by length, not 25 rows
    for page in forward:
        assert visible_length(page.text) <= TEXT_LIMIT
    # Back from each page leads to exactly the page before it, across database pages too.
    for before, page in itertools.pairwise(forward):
        [back] = [data for label, data in page.buttons if "◀" in label]
        assert (await h.press(manager, back))[0].text == before.text
    # The same button shows the same rows again (a re-render, a second tap).
    [more] = [data for label, data in forward[0].buttons if "▶" in label]
    assert (await h.press(manager, more))[0].text == forward[1].text
