"""Item 3 of issue 17: replying to a reminder push, a client card or the morning digest logs the
text for that client, as `/call` when the command language reads an outcome, else as `/note`.

Through the real Dispatcher and the in-memory Bot API, on SQLite and PostgreSQL. The clock
starts at Wednesday 2026-12-02 10:15 Moscow time and is moved, never waited for."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.types import Sticker
from sqlalchemy import select

from bot.parsing.commands import parse_call, starts_with_outcome
from bot.runtime.instances import UpdatePruner
from bot.services.reply_log import quoted_clients
from bot.telegram.callbacks import ForgetClient
from storage.dto import ClientDTO
from storage.models import Activity, Client, Followup, FsmRecord, SentMessage
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.replying import BotMessages, reply
from tests.support.sweeps import make_sweep, moscow

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")
RUSSIAN = Person(5, "Вера", language="ru")
# Wednesday 2026-12-02 10:15 in Moscow: the phrases' reference moment.
REFERENCE_MOMENT = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)
# Real phrases managers write (the project's shared test data).
PHRASES = Path(__file__).parent / "data" / "phrases.tsv"


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(MANAGER, OTHER, RUSSIAN))


async def _activities(h: BotHarness) -> list[tuple[str, str | None, str | None]]:
    async with h.uow_factory() as uow:
        rows = await uow.session.execute(
            select(Activity.kind, Activity.outcome, Activity.text).order_by(Activity.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _pending(h: BotHarness, name: str) -> list[tuple[str, bool]]:
    async with h.uow_factory() as uow:
        rows = await uow.session.execute(
            select(Followup.due_on, Followup.date_only)
            .join(Client, Client.id == Followup.client_id)
            .where(Client.name == name, Followup.state == "pending")
        )
        return [(str(day), date_only) for day, date_only in rows]


async def _push(h: BotHarness, person: Person, name: str, sent: BotMessages):  # type: ignore[no-untyped-def]
    """A follow-up push about `name` for `person`, on 3 December at 10:00."""
    await h.send(person, f"/add {name}")
    await h.send(person, f"/next {name} 03.12 10:00 send the price")
    h.clock.set(moscow(3, 10, 0))
    await make_sweep(h).run_once()
    return sent.last(person.id, "🔔")


async def test_done_in_reply_to_a_push_logs_the_call_and_moves_the_next_contact(
    team: BotHarness,
):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, "done, sent the price")
    assert answer.text.startswith("✅ Call with <b>Иванов</b> logged.")
    assert await _activities(team) == [("call", "done", "sent the price")]
    # The push's follow-up is closed; the next one follows the temperature (warm: 14 days).
    assert await _pending(team, "Иванов") == [("2026-12-17", True)]


async def test_free_text_in_reply_to_a_push_is_a_note_and_the_follow_up_stays(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, "wants a discount for 8 March")
    assert answer.text == "📝 Note about <b>Иванов</b> saved."
    assert await _activities(team) == [("note", None, "wants a discount for 8 March")]
    assert await _pending(team, "Иванов") == [("2026-12-03", False)]


async def test_a_note_that_mentions_a_deal_later_is_still_a_note(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, "asked about the deal next week")
    assert "Note about" in answer.text
    assert await _activities(team) == [("note", None, "asked about the deal next week")]


async def test_russian_reply_to_a_push_asks_for_a_call_back_in_a_week(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, RUSSIAN, "Петров", sent)
    [answer] = await reply(team, RUSSIAN, push, "перезвонить через неделю")
    assert "Петров" in answer.text and "перезвонить" in answer.text.lower()
    assert await _activities(team) == [("call", "callback", None)]
    assert await _pending(team, "Петров") == [("2026-12-10", True)]
    [note] = await reply(team, RUSSIAN, push, "хочет скидку к 8 марта")
    assert note.text == "📝 Заметка сохранена: <b>Петров</b>."


async def test_deal_in_reply_to_a_push_records_the_deal(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, "deal 150k")
    assert "Deal with <b>Иванов</b> logged" in answer.text and "150" in answer.text
    assert await _activities(team) == [("call", "deal", None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deal", "amount"),
        ("перезвонить", "call back"),
        ("callback 31.02", "date"),
    ],
)
async def test_a_call_that_cannot_be_read_is_refused_and_nothing_is_written(
    team: BotHarness, text: str, expected: str
):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, text)
    assert expected in answer.text.lower()
    assert await _activities(team) == []
    assert await _pending(team, "Иванов") == [("2026-12-03", False)]


async def test_a_push_whose_buttons_were_used_still_takes_a_reply(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    # «+1 hour» edits the push and removes its buttons; Telegram then hands no markup back.
    await team.press(MANAGER, push.reply_markup.inline_keyboard[1][0].callback_data or "")
    [answer] = await reply(team, MANAGER, push, "no answer", with_buttons=False)
    assert "No answer from <b>Иванов</b> logged" in answer.text


async def test_a_reply_to_a_card_logs_for_its_client(team: BotHarness):
    sent = BotMessages(team)
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/add Петров")
    await team.send(MANAGER, "/client Петров")
    card = sent.last(MANAGER.id, "<b>Петров</b>")
    async with team.uow_factory() as uow:
        kinds = list(await uow.session.scalars(select(SentMessage.kind)))
    assert kinds == ["card"]
    [answer] = await reply(team, MANAGER, card, "no answer", with_buttons=False)
    assert "No answer from <b>Петров</b> logged" in answer.text
    [note] = await reply(team, MANAGER, card, "asked for the catalogue", with_buttons=False)
    assert "Note about <b>Петров</b>" in note.text


async def test_an_unrecorded_card_is_read_by_its_buttons_or_gets_a_hint(team: BotHarness):
    sent = BotMessages(team)
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/client Иванов")
    card = sent.last(MANAGER.id, "<b>Иванов</b>")
    async with team.uow_factory() as uow:
        await uow.session.execute(SentMessage.__table__.delete())
        await uow.commit()
    [answer] = await reply(team, MANAGER, card, "done")
    assert "Call with <b>Иванов</b> logged" in answer.text
    [hint] = await reply(team, MANAGER, card, "done", with_buttons=False)
    assert "not about a client" in hint.text
    assert len(await _activities(team)) == 1


async def test_a_reply_to_a_list_of_several_clients_is_never_guessed(team: BotHarness):
    sent = BotMessages(team)
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/add Иванова")
    await team.send(MANAGER, "/find Иван")
    found = sent.last(MANAGER.id, "Found 2")
    [hint] = await reply(team, MANAGER, found, "done")
    assert "not about a client" in hint.text
    assert await _activities(team) == []


async def test_a_reply_to_a_message_of_someone_else_is_not_logged(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    [answer] = await reply(team, MANAGER, push, "done", from_bot=False)
    assert "I understand commands" in answer.text
    assert await _activities(team) == []


async def test_a_reply_to_a_bot_message_about_no_client_gets_a_hint(team: BotHarness):
    sent = BotMessages(team)
    await team.send(MANAGER, "/help")
    help_message = sent.last(MANAGER.id, "Salesbot")
    [answer] = await reply(team, MANAGER, help_message, "done")
    assert "not about a client" in answer.text
    assert await _activities(team) == []


async def test_a_manager_replying_to_a_push_of_a_client_transferred_since_writes_nothing(
    team: BotHarness,
):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    await team.send(OWNER, "/transfer Max Nina Иванов")
    for text in ("done", "wants a discount"):
        [answer] = await reply(team, MANAGER, push, text)
        assert answer.text == (
            "«Иванов» is no longer among your clients: the client was reassigned. "
            "Nothing was saved."
        )
    assert await _activities(team) == []
    # Nina, the new manager, cannot use Max's push either: it was not sent to her.
    [other] = await reply(team, OTHER, push, "done", with_buttons=False)
    assert "not about a client" in other.text
    assert await _activities(team) == []


async def test_a_reply_to_a_push_of_a_client_erased_since_writes_nothing(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    async with team.uow_factory() as uow:
        client_id = await uow.session.scalar(select(Client.id).where(Client.name == "Иванов"))
    await team.send(OWNER, "/forget Иванов")
    await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    [answer] = await reply(team, MANAGER, push, "wants a discount")
    assert "personal data was erased" in answer.text
    assert await _activities(team) == []


async def test_a_sticker_in_reply_to_a_push_gets_a_polite_hint(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    sticker = Sticker(
        file_id="CAACAgIAAxkBAAE",
        file_unique_id="AgADBAAD",
        type="regular",
        width=512,
        height=512,
        is_animated=False,
        is_video=False,
    )
    [answer] = await reply(team, MANAGER, push, sticker=sticker)
    assert "only text replies" in answer.text
    assert await _activities(team) == []


async def test_a_reply_to_a_push_wins_over_an_unrelated_open_question_which_stays_open(
    team: BotHarness,
):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    await team.send(MANAGER, "/add Петров")
    [question] = await team.send(MANAGER, "/note")
    assert "Which client?" in question.text
    [answer] = await reply(team, MANAGER, push, "done")
    assert "Call with <b>Иванов</b> logged" in answer.text
    # The question is still open: the next plain text answers it.
    [asked] = await team.send(MANAGER, "Петров")
    assert "Send the note about <b>Петров</b>" in asked.text


async def test_a_reply_to_the_open_question_itself_answers_it(team: BotHarness):
    sent = BotMessages(team)
    await team.send(MANAGER, "/add Петров")
    await team.send(MANAGER, "/note")
    question = sent.last(MANAGER.id, "Which client?")
    [asked] = await reply(team, MANAGER, question, "Петров")
    assert "Send the note about <b>Петров</b>" in asked.text
    [saved] = await team.send(MANAGER, "brings his own lawyer")
    assert "Note about <b>Петров</b> saved" in saved.text


async def test_a_reply_to_a_push_answers_the_open_question_about_the_same_client(
    team: BotHarness,
):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)
    other_date = push.reply_markup.inline_keyboard[2][0].callback_data or ""
    [asked] = await team.press(MANAGER, other_date)
    assert "When is the next contact with <b>Иванов</b>" in asked.text
    [answer] = await reply(team, MANAGER, push, "friday 11:00")
    assert "Next contact with <b>Иванов</b>" in answer.text
    assert await _activities(team) == []
    assert await _pending(team, "Иванов") == [("2026-12-04", False)]


async def _digest(h: BotHarness, sent: BotMessages, names: list[str]):  # type: ignore[no-untyped-def]
    for name in names:
        await h.send(MANAGER, f"/add {name}")
        await h.send(MANAGER, f"/next {name} 03.12")
    h.clock.set(moscow(3, 9, 0))
    await make_sweep(h).run_once()
    return sent.last(MANAGER.id, "Good morning")


async def test_a_reply_quoting_a_client_of_the_digest_logs_for_that_client(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов Петр", "Петров", "ООО Ромашка"])
    assert "Иванов Петр, Петров, ООО Ромашка" in (digest.text or "")
    [answer] = await reply(team, MANAGER, digest, "done", quote="Петров")
    assert "Call with <b>Петров</b> logged" in answer.text
    # A quoted surname of a longer name is enough.
    [answer] = await reply(team, MANAGER, digest, "wants the price list", quote="Иванов")
    assert "Note about <b>Иванов Петр</b>" in answer.text
    assert await _pending(team, "ООО Ромашка") == [("2026-12-03", True)]


async def test_a_reply_to_the_digest_without_a_quote_asks_which_client(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров", "Сидоров"])
    [question] = await reply(team, MANAGER, digest, "no answer")
    assert "Which one is your reply about?" in question.text and "no answer" in question.text
    names = [text for text, _ in question.buttons]
    assert names == ["Иванов", "Петров", "Сидоров"]
    assert await _activities(team) == []  # nothing guessed
    petrov = question.buttons[1][1]
    replies = await team.press(MANAGER, petrov)
    assert "No answer from <b>Петров</b> logged" in replies[-1].text
    assert team.markup_removed()
    # A second press of the same button logs nothing more.
    await team.press(MANAGER, petrov)
    assert team.alerts() == ["This choice has expired. Reply to the message again."]
    assert await _activities(team) == [("call", "no_answer", None)]


async def test_a_digest_reply_that_cannot_be_read_is_refused_before_the_pick(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров"])
    [answer] = await reply(team, MANAGER, digest, "deal")
    assert "amount" in answer.text.lower() and answer.buttons == []
    async with team.uow_factory() as uow:
        data = list(await uow.session.scalars(select(FsmRecord.data)))
    assert not any(d and "reply_pick" in d for d in data)


async def test_a_quote_naming_several_clients_of_the_digest_offers_just_those(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров", "Сидоров"])
    [question] = await reply(team, MANAGER, digest, "done", quote="Иванов, Петров")
    assert [text for text, _ in question.buttons] == ["Иванов", "Петров"]


async def test_a_digest_reply_waits_beside_an_open_question_and_keeps_it(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров"])
    await team.send(MANAGER, "/note")
    [question] = await reply(team, MANAGER, digest, "done")
    await team.press(MANAGER, question.buttons[0][1])
    [asked] = await team.send(MANAGER, "Петров")
    assert "Send the note about <b>Петров</b>" in asked.text


async def test_a_digest_client_transferred_since_is_not_offered(team: BotHarness):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров"])
    await team.send(OWNER, "/transfer Max Nina Иванов")
    [answer] = await reply(team, MANAGER, digest, "done")
    assert "Call with <b>Петров</b> logged" in answer.text
    await team.send(OWNER, "/transfer Max Nina Петров")
    [answer] = await reply(team, MANAGER, digest, "done")
    assert "None of the clients of this digest is yours any more" in answer.text
    assert await _activities(team) == [("call", "done", None)]


async def test_a_stale_pick_from_a_digest_reply_of_a_transferred_client_writes_nothing(
    team: BotHarness,
):
    sent = BotMessages(team)
    digest = await _digest(team, sent, ["Иванов", "Петров"])
    [question] = await reply(team, MANAGER, digest, "done")
    await team.send(OWNER, "/transfer Max Nina Иванов")
    await team.press(MANAGER, question.buttons[0][1])
    assert team.alerts() == [
        "«Иванов» is no longer among your clients: the client was reassigned. Nothing was saved."
    ]
    assert await _activities(team) == []
    async with team.uow_factory() as uow:
        data = list(await uow.session.scalars(select(FsmRecord.data)))
    assert any(d and "reply_pick" in d for d in data)  # rolled back: still pickable


async def test_the_hourly_prune_forgets_sent_messages_after_a_month(team: BotHarness):
    sent = BotMessages(team)
    push = await _push(team, MANAGER, "Иванов", sent)  # the push, and the digest naming him

    async def kinds() -> list[str]:
        async with team.uow_factory() as uow:
            return sorted(await uow.session.scalars(select(SentMessage.kind)))

    pruner = UpdatePruner(team.app)
    team.clock.advance(timedelta(days=29))
    await pruner.prune()
    assert await kinds() == ["digest", "push"]
    team.clock.advance(timedelta(days=2))
    await pruner.prune()
    assert await kinds() == []
    [hint] = await reply(team, MANAGER, push, "done", with_buttons=False)
    assert "not about a client" in hint.text


def test_outcome_words_open_a_call_and_anything_else_is_a_note():
    """What follows the name in every readable `/call` of the real phrases opens a call."""
    rows = [
        line.split("\t")
        for line in PHRASES.read_text().splitlines()
        if line.startswith("/call ") and line.split("\t")[1]
    ]
    assert rows
    for text, _outcome, next_contact, *_ in rows:
        if next_contact == "error":
            continue
        args = text.removeprefix("/call ")
        name = parse_call(args, REFERENCE_MOMENT, max_amount=Decimal(10**12)).name
        assert starts_with_outcome(args[len(name) :]), text
    for text in ("done", "no answer", "перезвонить через неделю", "deal 150k", "недозвон"):
        assert starts_with_outcome(text), text
    for text in ("wants a discount", "asked about the deal", "хочет скидку", "—", ""):
        assert not starts_with_outcome(text), text


def _client(cid: int, name: str) -> ClientDTO:
    values: dict[str, object] = {f.name: None for f in fields(ClientDTO)}
    values.update(id=cid, team_id=1, manager_id=1, name=name, temperature="warm", stage="new")
    values.update(consent="unknown", stage_changed_at=REFERENCE_MOMENT)
    values.update(created_at=REFERENCE_MOMENT)
    return ClientDTO(**values)  # type: ignore[arg-type]


def test_a_quote_matches_whole_names_first_then_part_of_one():
    clients = [_client(1, "Ivanov"), _client(2, "Ivanova Anna"), _client(3, "Петров")]
    assert [c.id for c in quoted_clients("Ivanova Anna", clients)] == [2]
    assert [c.id for c in quoted_clients("Today (2): Ivanov, Петров", clients)] == [1, 3]
    assert [c.id for c in quoted_clients("Anna", clients)] == [2]
    assert [c.id for c in quoted_clients("ov", clients)] == []
