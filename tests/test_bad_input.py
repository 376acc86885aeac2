"""Every malformed command gets a short explanation with an example, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.telegram.paging import TEXT_LIMIT, visible_length
from storage.models import Activity, Client, Deal, Followup
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")


@pytest.fixture
async def owner(harness: BotHarness) -> BotHarness:
    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Иванов")
    return harness


async def _snapshot(h: BotHarness) -> tuple[int, ...]:
    async with h.uow_factory() as uow:
        counts = []
        for model in (Client, Activity, Deal, Followup):
            counts.append(
                int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)
            )
        due = await uow.session.scalar(select(Followup.due_at).where(Followup.state == "pending"))
    return (*counts, hash(due))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/call Иванов перезвонить 31.02", "no such date"),
        ("/call Ivanov callback yesterday", "already passed"),
        ("/call Ivanov callback", "When should you call back"),
        ("/call Ivanov deal -5", "greater than zero"),
        ("/call Ivanov deal 999999999999999", "too large"),
        ("/call Ivanov deal", "What is the amount"),
        ("/call Ivanov blah blah", "I don't know the result «blah»"),
        ("/deal Ivanov 150000 margin 300%", "margin must be"),
        ("/next Ivanov 32.13", "no such date"),
        ("/settings tz Mars/Olympus", "time zone «Mars/Olympus»"),
        ("/settings hours 18-9", "Working hours look like"),
        ("/settings volume 11", "/settings tz"),
        ("/add , , ,", "Which client"),
        ("/add Петров, email: not-an-email", "does not look like an email"),
    ],
)
async def test_malformed_commands_explain_and_write_nothing(
    owner: BotHarness, command: str, expected: str
):
    before = await _snapshot(owner)
    replies = await owner.send(OWNER, command)
    assert len(replies) == 1
    assert expected in replies[0].text
    assert await _snapshot(owner) == before


async def test_a_5000_character_note_is_refused_whole(owner: BotHarness):
    before = await _snapshot(owner)
    replies = await owner.send(OWNER, "/note Иванов " + "x" * 5000)
    assert "too long" in replies[0].text and "5000" in replies[0].text
    assert await _snapshot(owner) == before


async def test_a_long_note_within_the_limit_is_kept_whole(owner: BotHarness):
    text = "word " * 790
    await owner.send(OWNER, "/note Иванов " + text)
    async with owner.uow_factory() as uow:
        stored = await uow.session.scalar(select(Activity.text))
    assert stored == text.strip()


async def test_html_and_emoji_in_names_are_escaped_not_interpreted(owner: BotHarness):
    replies = await owner.send(OWNER, "/add <b>Bold</b> & Co 🚀")
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co 🚀" in replies[0].text
    card = (await owner.send(OWNER, "/client Bold"))[0]
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co 🚀" in card.text


async def test_a_huge_card_is_split_below_telegrams_limit(owner: BotHarness):
    for n in range(5):
        await owner.send(OWNER, f"/note Иванов {n} " + "долгий текст " * 300)
    replies = await owner.send(OWNER, "/client Иванов")
    assert all(visible_length(r.text) <= TEXT_LIMIT for r in replies)


async def test_duplicate_phone_is_refused_team_wide(owner: BotHarness):
    await owner.send(OWNER, "/add Петров, +7 999 111-22-33")
    before = await _snapshot(owner)
    replies = await owner.send(OWNER, "/add Другой Петров, 8 999 111 22 33")
    # A client the member sees is offered to open (or to add anyway): nothing added yet.
    assert "already have a client" in replies[0].text and "Петров" in replies[0].text
    assert await _snapshot(owner) == before


async def test_a_crash_inside_a_handler_rolls_back_and_apologises(owner: BotHarness, monkeypatch):
    from bot.services.activities import ActivityService

    async def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    before = await _snapshot(owner)
    monkeypatch.setattr(ActivityService, "_reschedule", boom)
    replies = await owner.send(OWNER, "/call Иванов done")
    assert "Something went wrong" in replies[0].text
    assert await _snapshot(owner) == before


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/add Ромашка2, phone: +7 999 123 45 67 доб. 123 или +7 999 765 43 21 (секретарь)",
            "does not look like a phone number",
        ),
        ("/add Ромашка3, city: " + "Г" * 130, "City is too long: at most 120"),
        ("/add Ромашка4, segment: " + "s" * 101, "Segment is too long: at most 100"),
        ("/add Ромашка5, contact: " + "К" * 201, "Contact is too long: at most 200"),
    ],
)
async def test_overlong_card_fields_are_refused_on_every_database(
    owner: BotHarness, command: str, expected: str
):
    before = await _snapshot(owner)
    replies = await owner.send(OWNER, command)
    assert expected in replies[0].text
    assert await _snapshot(owner) == before


async def test_long_unknown_names_are_echoed_short(owner: BotHarness):
    replies = await owner.send(OWNER, "/note " + "Неизвестный " * 400)
    assert len(replies) == 1 and len(replies[0].text) < 400
    replies = await owner.send(OWNER, "/find " + "x" * 4000)
    assert len(replies) == 1 and len(replies[0].text) < 400


async def test_round_margins_print_as_numbers(owner: BotHarness):
    replies = await owner.send(OWNER, "/deal Иванов 150000 margin 30%")
    assert "margin 30%" in replies[0].text
