"""Phone-first capture through the Dispatcher: a shared contact offers a client (one answer per
batch, edited as more arrive), a forwarded message becomes a note dated when it was written."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendMessage
from aiogram.types import (
    Chat,
    Contact,
    Document,
    Message,
    MessageOriginChannel,
    MessageOriginHiddenUser,
    MessageOriginUser,
    PhotoSize,
    Sticker,
    Update,
    User,
)
from pydantic import SecretStr
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Overrides, build
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.capture import CaptureService
from bot.telegram import fsm_storage, middlewares
from bot.telegram.local_session import LocalSession
from handlers import capture
from storage.models import Activity, Client
from storage.uow import UnitOfWork
from storage.uow import _holder as uow_holder
from tests.support.builders import MANAGER, OTHER, OWNER, TeamSpec, build_team
from tests.support.harness import BotHarness, Person, Reply
from tests.support.reads import count
from tests.support.services import REDIS_URL

IVAN = User(id=777, is_bot=False, first_name="Ivan", last_name="Petrov")
WRITTEN = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)  # 12:05 in Moscow, the members' zone
RU_MANAGER = Person(5, "Маша", language="ru")
INACTIVE = "This button is no longer active."


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, RU_MANAGER),
        commands=(
            (MANAGER, "/add Sidorov Oleg, +7 999 111-22-33"),
            (OTHER, "/add Kuznetsova Anna, +7 999 444-55-66"),
            (OTHER, "/add Petrov Ivan, +7 999 777-88-99"),
        ),
    )


class Sent:
    """Message ids the fake Bot API handed out, by request: the batch's answer is edited by
    the id Telegram gave it."""

    def __init__(self, h: BotHarness) -> None:
        self.ids: list[int] = []
        h.session.on_result = self._seen

    def _seen(self, method: Any, result: Any) -> None:
        if isinstance(method, SendMessage):
            self.ids.append(result.message_id)


async def feed(h: BotHarness, person: Person, **fields: Any) -> list[Reply]:
    h.session.clear()
    message = Message(
        message_id=next(h._ids),
        date=h.clock.now(),
        chat=Chat(id=person.id, type="private"),
        from_user=User(
            id=person.id, is_bot=False, first_name=person.first_name, language_code=person.language
        ),
        **fields,
    )
    await h.app.dispatcher.feed_update(h.app.bot, Update(update_id=next(h._ids), message=message))
    return h.replies()


async def share(
    h: BotHarness, person: Person, phone: str, first: str, last: str | None = None, **extra: Any
) -> list[Reply]:
    contact = Contact(phone_number=phone, first_name=first, last_name=last, **extra)
    return await feed(h, person, contact=contact)


async def forward(h: BotHarness, person: Person, origin: Any = None, **content: Any) -> list[Reply]:
    if origin is None:
        origin = MessageOriginUser(type="user", date=WRITTEN, sender_user=IVAN)
    return await feed(h, person, forward_origin=origin, **content)


def button(reply: Reply, label: str) -> str:
    return next(data for text, data in reply.buttons if label in text)


async def clients_named(h: BotHarness, name: str) -> list[Client]:
    async with h.uow_factory() as uow:
        return list(await uow.session.scalars(select(Client).where(Client.name == name)))


async def notes_of(h: BotHarness, name: str) -> list[Activity]:
    async with h.uow_factory() as uow:
        rows = await uow.session.scalars(
            select(Activity)
            .join(Client, Client.id == Activity.client_id)
            .where(Client.name == name, Activity.kind == "note")
            .order_by(Activity.occurred_at)
        )
        return list(rows)


# -- shared contacts ---------------------------------------------------------------------------


async def test_a_new_contact_is_offered_and_added_with_its_name_and_phone(team: BotHarness):
    [offer] = await share(team, MANAGER, "79995550011", "Anna", "Smirnova")
    assert "<b>Anna Smirnova</b>, 79995550011" in offer.text and "Add as a new client" in offer.text
    assert await clients_named(team, "Anna Smirnova") == []  # only offered so far
    [added] = await team.press(MANAGER, button(offer, "Add client"))
    assert "Client <b>Anna Smirnova</b> added" in added.text
    [client] = await clients_named(team, "Anna Smirnova")
    card = (await team.send(MANAGER, "/client Smirnova"))[-1].text
    assert "79995550011" in card
    assert client.source == "shared contact"
    # The same button again adds nothing more.
    await team.press(MANAGER, button(offer, "Add client"))
    assert team.alerts()[-1] == INACTIVE
    assert len(await clients_named(team, "Anna Smirnova")) == 1


async def test_a_contact_with_the_phone_of_ones_own_client_opens_that_card(team: BotHarness):
    # Telegram writes the number its own way; the digits meet the client's phone.
    [card] = await share(team, MANAGER, "+79991112233", "Oleg")
    assert card.text.startswith("<b>Sidorov Oleg</b>")
    assert await count(team, Client) == 3


async def test_another_managers_client_is_neither_added_nor_named(team: BotHarness):
    [answer] = await share(team, MANAGER, "89994445566", "Anya")
    assert "already in the team's base" in answer.text
    assert "Kuznetsova" not in answer.text and answer.buttons == []
    assert await count(team, Client) == 3
    # The owner sees the whole team: for them it is a client of theirs to open.
    [card] = await share(team, OWNER, "89994445566", "Anya")
    assert card.text.startswith("<b>Kuznetsova Anna</b>")


async def test_a_contact_without_a_phone_is_answered_politely(team: BotHarness):
    [answer] = await share(team, MANAGER, "", "Boris", "Gromov")
    assert "has no phone number" in answer.text and "/add Boris Gromov" in answer.text
    assert answer.buttons == []
    assert await count(team, Client) == 3


async def test_three_contacts_at_once_get_one_answer_edited_then_added_together(
    team: BotHarness,
):
    sent = Sent(team)
    first = await share(team, MANAGER, "79995550011", "Anna", "Smirnova")
    second = await share(team, MANAGER, "+7 999 111-22-33", "Oleg")
    third = await share(team, MANAGER, "", "Boris")
    fourth = await share(team, MANAGER, "79995550022", "Vera")
    assert len(first) == 1 and len(sent.ids) == 1  # one message was sent, the rest are edits
    edits = [r for batch in (second, third, fourth) for r in batch]
    assert len(edits) == 3 and {r.message_id for r in edits} == {sent.ids[0]}
    assert team.session.sent(SendMessage) == []
    answer = edits[-1]
    assert "4 contacts received" in answer.text
    assert "New, not added yet:" in answer.text and "Vera" in answer.text
    assert "Already your clients:" in answer.text and "Without a phone number" in answer.text
    labels = [text for text, _data in answer.buttons]
    assert labels == [
        "➕ Add all 2 new clients",
        "➕ Anna Smirnova",
        "➕ Vera",
        "📇 Sidorov Oleg",
        "✖️ Cancel",
    ]
    [result] = await team.press(MANAGER, button(answer, "Add all"), message_id=sent.ids[0])
    assert "Added as clients:" in result.text and "New, not added" not in result.text
    assert [t for t, _d in result.buttons] == ["📇 Anna Smirnova", "📇 Sidorov Oleg", "📇 Vera"]
    assert await count(team, Client) == 5
    # The batch is answered: the next contact starts a new one.
    await share(team, MANAGER, "79995550033", "Gleb")
    assert len(sent.ids) == 2


async def test_one_contact_of_a_batch_can_be_added_alone(team: BotHarness):
    await share(team, MANAGER, "79995550011", "Anna", "Smirnova")
    [answer] = await share(team, MANAGER, "79995550022", "Vera")
    [result] = await team.press(MANAGER, button(answer, "➕ Vera"))
    assert "Added as clients:" in result.text and "New, not added yet:" in result.text
    assert [t for t, _d in result.buttons] == ["➕ Anna Smirnova", "📇 Vera", "✖️ Cancel"]
    assert len(await clients_named(team, "Vera")) == 1
    assert await clients_named(team, "Anna Smirnova") == []
    [cancelled] = await team.press(MANAGER, button(result, "Cancel"))
    assert "the other contacts were not added" in cancelled.text
    assert await clients_named(team, "Anna Smirnova") == []


async def test_a_contact_after_the_window_starts_a_new_answer(team: BotHarness):
    sent = Sent(team)
    [first] = await share(team, MANAGER, "79995550011", "Anna")
    team.clock.advance(timedelta(minutes=2))
    await share(team, MANAGER, "79995550022", "Vera")
    assert len(sent.ids) == 2
    # The first answer's buttons belong to a batch no longer kept.
    await team.press(MANAGER, button(first, "Add client"))
    assert team.alerts()[-1] == INACTIVE
    assert await clients_named(team, "Anna") == []


async def test_a_phone_taken_meanwhile_is_not_added_twice(team: BotHarness):
    [offer] = await share(team, MANAGER, "79995550011", "Anna")
    await team.send(OTHER, "/add Anna Other, 79995550011")
    [result] = await team.press(MANAGER, button(offer, "Add client"))
    assert "already in the team's base" in result.text
    assert await clients_named(team, "Anna") == []


async def test_vcard_phones_and_the_one_email_are_kept(team: BotHarness):
    vcard = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Anna Smirnova\nTEL;TYPE=CELL:+7 999 555-00-11\n"
        "item1.TEL;TYPE=WORK:+7 495 123-45-67\nEMAIL;TYPE=INTERNET:anna@example.com\nEND:VCARD"
    )
    [offer] = await share(team, MANAGER, "79995550011", "Anna", "Smirnova", vcard=vcard)
    await team.press(MANAGER, button(offer, "Add client"))
    card = (await team.send(MANAGER, "/client Smirnova"))[-1].text
    assert "79995550011" in card and "+7 495 123-45-67" in card and "anna@example.com" in card
    assert card.count("555-00-11") == 0  # the same phone twice is kept once


async def test_contacts_in_russian(team: BotHarness):
    [offer] = await share(team, RU_MANAGER, "79995550011", "Анна")
    assert "Добавить" in offer.text or "добавить" in offer.text.casefold()
    [added] = await team.press(RU_MANAGER, button(offer, "Добавить"))
    assert "Анна" in added.text and "добавлен" in added.text
    [answer] = await share(team, RU_MANAGER, "", "Борис")
    assert "нет номера" in answer.text


async def test_cancel_drops_the_batch(team: BotHarness):
    [offer] = await share(team, MANAGER, "79995550011", "Anna")
    assert (await team.send(MANAGER, "/cancel"))[-1].text == "Cancelled. Nothing was saved."
    await team.press(MANAGER, button(offer, "Add client"))
    assert team.alerts()[-1] == INACTIVE
    [offer] = await share(team, MANAGER, "79995550011", "Anna")
    [dropped] = await team.press(MANAGER, button(offer, "Cancel"))
    assert dropped.text == "Cancelled. Nothing was saved."
    assert await clients_named(team, "Anna") == []


# -- forwarded messages ------------------------------------------------------------------------


async def test_a_forwarded_text_becomes_a_note_dated_when_it_was_written(team: BotHarness):
    await team.send(MANAGER, "/add Petrov Ivan Sergeevich, +7 999 000-11-22")
    [question] = await forward(team, MANAGER, text="Send the contract, please")
    assert "A message from <b>Ivan Petrov</b>" in question.text and "12:05" in question.text
    labels = [text for text, _data in question.buttons]
    # Only the manager's own client is suggested, never the other manager's "Petrov Ivan".
    assert labels == ["📝 Petrov Ivan Sergeevich", "🔎 Another client", "✖️ Cancel"]
    [saved] = await team.press(MANAGER, button(question, "Petrov Ivan Sergeevich"))
    assert "Note about <b>Petrov Ivan Sergeevich</b> saved" in saved.text and "12:05" in saved.text
    [note] = await notes_of(team, "Petrov Ivan Sergeevich")
    assert note.text == "Send the contract, please"
    assert note.occurred_at.astimezone(UTC) == WRITTEN
    [client] = await clients_named(team, "Petrov Ivan Sergeevich")
    # An old message is not a contact now: the last contact stays, the activity is its date.
    assert client.last_contact_at is None
    assert client.last_activity_at is not None
    assert client.last_activity_at.astimezone(UTC) == WRITTEN
    card = (await team.send(MANAGER, "/client Petrov Ivan Sergeevich"))[-1].text
    assert "Send the contract, please" in card


async def test_several_forwards_are_one_question_and_one_note_each(team: BotHarness):
    sent = Sent(team)
    for minute, text in enumerate(("Hello", "We need 20 units", "By Friday")):
        origin = MessageOriginUser(
            type="user", date=WRITTEN + timedelta(minutes=minute), sender_user=IVAN
        )
        replies = await forward(team, MANAGER, origin, text=text)
    assert len(sent.ids) == 1 and replies[-1].message_id == sent.ids[0]
    question = replies[-1]
    assert "3 messages from <b>Ivan Petrov</b>" in question.text
    assert "12:05 – " in question.text and "12:07" in question.text
    await team.press(MANAGER, button(question, "Another client"))
    assert "Which client?" in team.replies()[-1].text
    [saved] = await team.send(MANAGER, "Sidorov")
    assert "3 notes about <b>Sidorov Oleg</b> saved" in saved.text
    assert team.markup_removed()  # the question's buttons go
    notes = await notes_of(team, "Sidorov Oleg")
    assert [n.text for n in notes] == ["Hello", "We need 20 units", "By Friday"]
    assert notes[-1].occurred_at.astimezone(UTC) == WRITTEN + timedelta(minutes=2)


async def test_a_caption_is_a_note_and_a_sticker_is_refused(team: BotHarness):
    photo = [PhotoSize(file_id="p1", file_unique_id="u1", width=10, height=10)]
    [question] = await forward(team, MANAGER, photo=photo, caption="Our requisites")
    assert "Save it as a note" in question.text
    sticker = Sticker(
        file_id="s1",
        file_unique_id="s1",
        type="regular",
        width=10,
        height=10,
        is_animated=False,
        is_video=False,
    )
    [refusal] = await forward(team, MANAGER, sticker=sticker)
    assert "Only text can become a note" in refusal.text
    photo_only = await forward(team, MANAGER, photo=photo)
    assert "Only text can become a note" in photo_only[-1].text
    # The caption's question still stands.
    await team.press(MANAGER, button(question, "Another client"))
    [saved] = await team.send(MANAGER, "Sidorov")
    assert "Note about <b>Sidorov Oleg</b> saved" in saved.text
    assert [n.text for n in await notes_of(team, "Sidorov Oleg")] == ["Our requisites"]


async def test_a_hidden_sender_is_suggested_by_the_name_telegram_shows(team: BotHarness):
    hidden = MessageOriginHiddenUser(
        type="hidden_user", date=WRITTEN, sender_user_name="Oleg Sidorov"
    )
    [question] = await forward(team, MANAGER, hidden, text="Call me tomorrow")
    assert "A message from <b>Oleg Sidorov</b>" in question.text
    assert "📝 Sidorov Oleg" in [text for text, _data in question.buttons]
    # A name Telegram shows cut short still finds the client by the word it has.
    short = MessageOriginHiddenUser(type="hidden_user", date=WRITTEN, sender_user_name="Oleg S")
    team.clock.advance(timedelta(minutes=5))
    [question] = await forward(team, MANAGER, short, text="Call me tomorrow")
    assert "📝 Sidorov Oleg" in [text for text, _data in question.buttons]


async def test_a_lone_card_becomes_the_batch_list_when_more_contacts_follow(team: BotHarness):
    sent = Sent(team)
    [card] = await share(team, MANAGER, "+79991112233", "Oleg")
    assert card.text.startswith("<b>Sidorov Oleg</b>")
    [answer] = await share(team, MANAGER, "79995550011", "Anna")
    assert answer.message_id == sent.ids[0] and "2 contacts received" in answer.text
    assert [t for t, _d in answer.buttons] == ["➕ Anna", "📇 Sidorov Oleg", "✖️ Cancel"]


async def test_a_channel_post_has_no_suggestion_and_says_so(team: BotHarness):
    channel = MessageOriginChannel(
        type="channel",
        date=WRITTEN,
        chat=Chat(id=-100123, type="channel", title="Market news"),
        message_id=7,
    )
    [question] = await forward(team, MANAGER, channel, text="Prices go up")
    assert "No client of yours has the sender's name" in question.text


async def test_a_manager_cannot_attach_a_note_to_another_managers_client(team: BotHarness):
    [question] = await forward(team, MANAGER, text="Confidential")
    # "Ivan Petrov" is Nina's client: not suggested, not found by name, not reachable by a
    # forged button.
    assert "Petrov Ivan" not in question.text + str(question.buttons)
    async with team.uow_factory() as uow:
        nina_client = await uow.session.scalar(
            select(Client.id).where(Client.name == "Petrov Ivan")
        )
    token = button(question, "Cancel").split(":")[2]
    await team.press(MANAGER, f"fw:to:{token}:{nina_client}")
    assert (
        "not found" in team.alerts()[-1].casefold() or "no client" in team.alerts()[-1].casefold()
    )
    await team.press(MANAGER, button(question, "Another client"))
    [answer] = await team.send(MANAGER, "Petrov Ivan")
    assert "No client matches" in answer.text
    assert await notes_of(team, "Petrov Ivan") == []


async def test_an_ambiguous_name_gives_pick_buttons(team: BotHarness):
    await team.send(MANAGER, "/add Ivanov Petr, +7 999 111-00-00")
    await team.send(MANAGER, "/add Ivanov Pavel, +7 999 111-00-01")
    [question] = await forward(team, MANAGER, text="See you")
    await team.press(MANAGER, button(question, "Another client"))
    [pick] = await team.send(MANAGER, "Ivanov")
    assert pick.text == "Several clients match. Which one?"
    [saved] = await team.press(MANAGER, button(pick, "Ivanov Pavel"))
    assert "Note about <b>Ivanov Pavel</b> saved" in saved.text
    assert any(
        isinstance(r, EditMessageReplyMarkup) and r.reply_markup is None
        for r in team.session.requests
    )


async def test_cancel_forgets_the_forwarded_messages(team: BotHarness):
    [question] = await forward(team, MANAGER, text="Draft")
    [dropped] = await team.press(MANAGER, button(question, "Cancel"))
    assert dropped.text == "Cancelled. Nothing was saved."
    [question] = await forward(team, MANAGER, text="Draft")
    await team.press(MANAGER, button(question, "Another client"))
    assert (await team.send(MANAGER, "/cancel"))[-1].text == "Cancelled. Nothing was saved."
    # The typed name is no longer an answer.
    assert "No client matches" not in (await team.send(MANAGER, "Sidorov"))[-1].text
    assert await notes_of(team, "Sidorov Oleg") == []


async def test_a_forward_answers_notes_own_question(team: BotHarness):
    await team.send(MANAGER, "/note Sidorov")
    [saved] = await forward(team, MANAGER, text="Wants a discount")
    assert "Note about <b>Sidorov Oleg</b> saved" in saved.text and "12:05" in saved.text
    [note] = await notes_of(team, "Sidorov Oleg")
    assert note.occurred_at.astimezone(UTC) == WRITTEN


async def test_a_forward_during_another_question_leaves_it_open(team: BotHarness):
    await team.send(MANAGER, "/call")
    [question] = await forward(team, MANAGER, text="Ping")
    assert "Save it as a note" in question.text
    # The /call question still takes the name.
    assert "How did the call" in (await team.send(MANAGER, "Sidorov"))[-1].text


async def test_a_too_long_forward_is_refused_and_keeps_nothing(team: BotHarness):
    [refusal] = await forward(team, MANAGER, text="x" * 4001)
    assert "too long" in refusal.text
    assert await notes_of(team, "Sidorov Oleg") == []


async def test_forwards_in_russian(team: BotHarness):
    await team.send(RU_MANAGER, "/add Петров Иван, +7 999 000-33-44")
    [question] = await forward(team, RU_MANAGER, text="Пришлите счёт")
    assert "Сообщение от <b>Ivan Petrov</b>" in question.text
    assert "📝 Петров Иван" in [text for text, _data in question.buttons]
    [saved] = await team.press(RU_MANAGER, button(question, "Петров Иван"))
    assert "1 заметка о клиенте <b>Петров Иван</b> сохранена" in saved.text
    sticker = Sticker(
        file_id="s1",
        file_unique_id="s1",
        type="regular",
        width=10,
        height=10,
        is_animated=False,
        is_video=False,
    )
    [refusal] = await forward(team, RU_MANAGER, sticker=sticker)
    assert "только текст" in refusal.text.casefold()


async def test_contacts_arriving_at_the_same_moment_still_get_one_answer(team: BotHarness):
    """Telegram delivers the contacts of one share together and the bot handles them at once:
    each waits for the previous one (PostgreSQL: an advisory lock; SQLite: the write gate) and
    extends the batch it committed, so none is lost and only one message is sent. Those that
    arrive while the answer is on its way are shown by the edit that follows it."""
    sent = Sent(team)
    team.session.clear()

    def update(phone: str, name: str) -> Update:
        message = Message(
            message_id=next(team._ids),
            date=team.clock.now(),
            chat=Chat(id=MANAGER.id, type="private"),
            from_user=User(id=MANAGER.id, is_bot=False, first_name="Max", language_code="en"),
            contact=Contact(phone_number=phone, first_name=name),
        )
        return Update(update_id=next(team._ids), message=message)

    updates = [update(f"7999555001{i}", f"Guest{i}") for i in range(3)]
    await asyncio.gather(*(team.app.dispatcher.feed_update(team.app.bot, u) for u in updates))
    assert len(sent.ids) == 1
    edits = team.session.sent(EditMessageText)
    assert 1 <= len(edits) <= 2 and {e.message_id for e in edits} == {sent.ids[0]}
    full = edits[-1]
    assert "3 contacts received" in full.text
    add_all = button(Reply(full.text, full.reply_markup), "Add all")
    await team.press(MANAGER, add_all, message_id=sent.ids[0])
    assert await count(team, Client) == 6


async def test_a_forwarded_file_is_the_owners_import_and_a_managers_refused_note(team: BotHarness):
    document = Document(file_id="d1", file_unique_id="d1", file_name="offer.pdf", file_size=10)
    [refusal] = await forward(team, MANAGER, document=document)
    assert "Only text can become a note" in refusal.text
    [question] = await forward(team, MANAGER, document=document, caption="Our offer")
    assert "Save it as a note" in question.text
    # The owner's forwarded file without a caption goes where a sent file goes: /import.
    [answer] = await forward(team, OWNER, document=document)
    assert "Only text can become a note" not in answer.text


async def test_with_the_conversation_in_redis_a_batch_is_one_answer_too(
    engine: AsyncEngine, clock: FrozenClock, settings: Settings, redis_prefix: str
):
    redis_settings = settings.model_copy(
        update={"redis_url": SecretStr(REDIS_URL), "redis_prefix": redis_prefix}
    )
    h = BotHarness.create(redis_settings, engine, clock)
    try:
        await build_team(h, TeamSpec(commands=((MANAGER, "/add Sidorov Oleg, +7 999 111-22-33"),)))
        sent = Sent(h)
        await share(h, MANAGER, "79995550011", "Anna")
        [answer] = await share(h, MANAGER, "79995550022", "Vera")
        assert len(sent.ids) == 1 and answer.message_id == sent.ids[0]
        await h.press(MANAGER, button(answer, "Add all"), message_id=sent.ids[0])
        assert len(await clients_named(h, "Anna")) == 1 and len(await clients_named(h, "Vera")) == 1
        [question] = await forward(h, MANAGER, text="Send the price")
        await h.press(MANAGER, button(question, "Another client"))
        [saved] = await h.send(MANAGER, "Sidorov")
        assert "Note about <b>Sidorov Oleg</b> saved" in saved.text
        assert h.session.violations == []
    finally:
        await h.app.bot.session.close()


async def test_with_the_conversation_in_redis_a_contact_waits_until_the_answer_id_is_written(
    engine: AsyncEngine,
    clock: FrozenClock,
    settings: Settings,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
):
    """The step recording the answer's id commits (on PostgreSQL its advisory lock ends there)
    and writes the state to Redis just after. A contact let in between would read the state
    without the id, join silently and write it back without the id: it waits instead, then
    edits the answer."""
    redis_settings = settings.model_copy(
        update={"redis_url": SecretStr(REDIS_URL), "redis_prefix": redis_prefix}
    )
    h = BotHarness.create(redis_settings, engine, clock)
    real_flush = fsm_storage._Flush.__call__
    arrivals: list[asyncio.Task[Any]] = []

    def vera() -> Update:
        message = Message(
            message_id=next(h._ids),
            date=h.clock.now(),
            chat=Chat(id=MANAGER.id, type="private"),
            from_user=User(id=MANAGER.id, is_bot=False, first_name="Max", language_code="en"),
            contact=Contact(phone_number="79995550022", first_name="Vera"),
        )
        return Update(update_id=next(h._ids), message=message)

    async def slow_flush(self: Any) -> None:
        _state, data = self._uow.fsm_cache.get(self.fsm_key, (None, {}))
        batch = data.get(capture.CONTACTS) or {}
        if batch.get("mid") and not arrivals:
            # Committed, not yet in Redis: Vera arrives now.
            arrivals.append(asyncio.create_task(h.app.dispatcher.feed_update(h.app.bot, vera())))
            await asyncio.sleep(0.5)
        await real_flush(self)

    try:
        await build_team(h, TeamSpec(commands=((MANAGER, "/add Sidorov Oleg, +7 999 111-22-33"),)))
        sent = Sent(h)
        monkeypatch.setattr(fsm_storage._Flush, "__call__", slow_flush)
        await share(h, MANAGER, "79995550011", "Anna")
        assert len(arrivals) == 1
        await arrivals[0]
        [shown] = [e for e in h.session.sent(EditMessageText) if "contacts received" in e.text]
        assert shown.message_id == sent.ids[0] and "2 contacts received" in shown.text
        [third] = await share(h, MANAGER, "79995550033", "Gleb")
        assert third.message_id == sent.ids[0] and "3 contacts received" in third.text
        assert len(sent.ids) == 1 and h.session.violations == []
        # Every unit of work gave its member lock back (none is left to expire).
        assert [k async for k in h.app.redis.scan_iter(match=f"{redis_prefix}:lock:member:*")] == []
    finally:
        await h.app.bot.session.close()


async def test_a_contact_answers_the_add_question(team: BotHarness):
    await team.send(MANAGER, "/add")
    [offer] = await share(team, MANAGER, "79995550011", "Anna")
    assert "Add as a new client" in offer.text
    # The /add question is answered: text now is not taken for a new client.
    assert "added" not in (await team.send(MANAGER, "Boris"))[-1].text
    await team.press(MANAGER, button(offer, "Add client"))
    assert len(await clients_named(team, "Anna")) == 1 and await clients_named(team, "Boris") == []


# -- the first answer leaves after the commit --------------------------------------------------


def failing_commits(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The next `times` commits fail the way a lost database does, before committing anything;
    the list counts every commit tried."""
    tried: list[int] = []
    real = UnitOfWork.commit

    async def commit(self: UnitOfWork) -> None:
        tried.append(1)
        if len(tried) <= times:
            raise sa_exc.OperationalError("COMMIT", {}, ConnectionError("connection lost"))
        await real(self)

    monkeypatch.setattr(UnitOfWork, "commit", commit)
    return tried


def offers(h: BotHarness) -> list[SendMessage]:
    return [m for m in h.session.sent(SendMessage) if "contact" in m.text or "Save" in m.text]


async def test_no_telegram_request_is_made_inside_a_transaction_or_the_write_gate(
    team: BotHarness, engine: AsyncEngine
):
    """Every request of a whole capture (contacts, their buttons, forwards, «Another client»)
    leaves with no unit of work open in the task and, on SQLite, the write gate free: no other
    member's write waits on a Telegram round trip."""
    held: list[str] = []
    gate = team.app.uow_factory._lock
    assert (gate is not None) == (engine.dialect.name == "sqlite")

    def watch(method: Any) -> None:
        if uow_holder.get() is asyncio.current_task():
            held.append(f"{type(method).__name__} inside a transaction")
        if gate is not None and gate.locked():
            held.append(f"{type(method).__name__} with the write gate held")

    team.session.on_request = watch
    sent = Sent(team)
    await share(team, MANAGER, "79995550011", "Anna")
    [answer] = await share(team, MANAGER, "79995550022", "Vera")
    await team.press(MANAGER, button(answer, "Add all"), message_id=sent.ids[0])
    await forward(team, MANAGER, text="Hello")
    [question] = await forward(team, MANAGER, text="We need 20 units")
    await team.press(MANAGER, button(question, "Another client"), message_id=sent.ids[1])
    [saved] = await team.send(MANAGER, "Sidorov")
    assert "2 notes about <b>Sidorov Oleg</b> saved" in saved.text
    assert len(sent.ids) == 4  # the two answers, «Which client?» and «saved»
    assert held == []


async def test_a_failing_commit_sends_nothing_and_keeps_no_batch(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    tried = failing_commits(monkeypatch, times=1)
    await share(team, MANAGER, "79995550011", "Anna")
    assert tried and offers(team) == []
    # The member is told, by the error handler, that nothing was saved; nothing else left.
    [told] = team.session.sent(SendMessage)
    assert "Add" not in told.text
    # Nothing was kept either: the next contact is a new answer of one, not an edit.
    sent = Sent(team)
    [offer] = await share(team, MANAGER, "79995550022", "Vera")
    assert len(sent.ids) == 1 and offer.message_id is None
    assert "Anna" not in offer.text and "Add as a new client" in offer.text


async def test_a_retried_update_sends_its_answer_once_and_the_next_one_edits_it(
    engine: AsyncEngine, clock: FrozenClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(middlewares, "RETRY_BACKOFF_SECONDS", 0.0)
    session = LocalSession()
    # As from Telegram: deduplicated, and an update whose database failed is retried.
    app = build(
        settings, Overrides(clock=clock, session=session, engine=engine, dedup_updates=True)
    )
    h = BotHarness(app=app, session=session, clock=clock)
    await build_team(h, TeamSpec(commands=((MANAGER, "/add Sidorov Oleg, +7 999 111-22-33"),)))
    sent = Sent(h)
    tried = failing_commits(monkeypatch, times=2)
    [offer] = await share(h, MANAGER, "79995550011", "Anna")
    assert len(tried) >= 3 and app.metrics.updates_retried == 2
    assert len(sent.ids) == 1 and "Add as a new client" in offer.text
    [answer] = await share(h, MANAGER, "79995550022", "Vera")
    assert answer.message_id == sent.ids[0] and "2 contacts received" in answer.text
    [question] = await forward(h, MANAGER, text="Send the price")
    assert len(sent.ids) == 2 and "Save it as a note" in question.text
    assert h.session.violations == []


async def test_what_arrives_while_the_answer_is_on_its_way_is_shown_by_the_edit_after_it(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    """The second contact (or forward) is handled while Telegram is creating the first one's
    answer: it joins the batch without an answer of its own, and the step that records the
    answer's id edits it to show both. The one after that edits it directly."""
    sent = Sent(team)
    real = team.session.make_request
    meanwhile: list[Update] = []

    async def slow(bot: Any, method: Any, **rest: Any) -> Any:
        if isinstance(method, SendMessage) and meanwhile:
            update = meanwhile.pop()
            await team.app.dispatcher.feed_update(team.app.bot, update)
        return await real(bot, method, **rest)

    monkeypatch.setattr(team.session, "make_request", slow)

    def arriving(**fields: Any) -> Update:
        message = Message(
            message_id=next(team._ids),
            date=team.clock.now(),
            chat=Chat(id=MANAGER.id, type="private"),
            from_user=User(id=MANAGER.id, is_bot=False, first_name="Max", language_code="en"),
            **fields,
        )
        return Update(update_id=next(team._ids), message=message)

    meanwhile.append(arriving(contact=Contact(phone_number="79995550022", first_name="Vera")))
    replies = await share(team, MANAGER, "79995550011", "Anna")
    assert meanwhile == [] and len(sent.ids) == 1
    first, shown = replies
    assert first.message_id is None and "Add as a new client" in first.text
    assert shown.message_id == sent.ids[0] and "2 contacts received" in shown.text
    [third] = await share(team, MANAGER, "79995550033", "Gleb")
    assert third.message_id == sent.ids[0] and "3 contacts received" in third.text

    origin = MessageOriginUser(type="user", date=WRITTEN, sender_user=IVAN)
    meanwhile.append(arriving(forward_origin=origin, text="We need 20 units"))
    first, shown = await forward(team, MANAGER, text="Hello")
    assert len(sent.ids) == 2 and shown.message_id == sent.ids[1]
    assert "2 messages from <b>Ivan Petrov</b>" in shown.text
    await team.press(MANAGER, button(shown, "Another client"))
    [saved] = await team.send(MANAGER, "Sidorov")
    assert "2 notes about <b>Sidorov Oleg</b> saved" in saved.text
    assert team.session.violations == []


async def test_an_answer_telegram_did_not_take_is_not_waited_for(team: BotHarness):
    sent = Sent(team)
    team.session.fail_next(500, "Internal Server Error", method=SendMessage)
    await share(team, MANAGER, "79995550011", "Anna")
    assert sent.ids == []
    # The batch went with the answer: the next contact is answered anew, not silently joined.
    [offer] = await share(team, MANAGER, "79995550022", "Vera")
    assert len(sent.ids) == 1 and "Add as a new client" in offer.text and "Anna" not in offer.text


async def test_what_joined_a_refused_answer_is_sent_again_with_it(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    """Telegram refuses the first answer after another contact (or forward) joined its batch
    silently: the whole batch goes as a new answer, and the next arrival edits that one."""
    sent = Sent(team)
    real = team.session.make_request
    meanwhile: list[Update] = []

    async def slow(bot: Any, method: Any, **rest: Any) -> Any:
        if isinstance(method, SendMessage) and meanwhile:
            await team.app.dispatcher.feed_update(team.app.bot, meanwhile.pop())
        return await real(bot, method, **rest)

    monkeypatch.setattr(team.session, "make_request", slow)

    def arriving(**fields: Any) -> Update:
        message = Message(
            message_id=next(team._ids),
            date=team.clock.now(),
            chat=Chat(id=MANAGER.id, type="private"),
            from_user=User(id=MANAGER.id, is_bot=False, first_name="Max", language_code="en"),
            **fields,
        )
        return Update(update_id=next(team._ids), message=message)

    meanwhile.append(arriving(contact=Contact(phone_number="79995550022", first_name="Vera")))
    team.session.fail_next(500, "Internal Server Error", method=SendMessage)
    replies = await share(team, MANAGER, "79995550011", "Anna")
    assert meanwhile == [] and len(sent.ids) == 1
    refused, again = replies
    assert "Add as a new client" in refused.text
    assert again.message_id is None and "2 contacts received" in again.text
    assert "Anna" in again.text and "Vera" in again.text
    [third] = await share(team, MANAGER, "79995550033", "Gleb")
    assert third.message_id == sent.ids[0] and "3 contacts received" in third.text

    origin = MessageOriginUser(type="user", date=WRITTEN, sender_user=IVAN)
    meanwhile.append(arriving(forward_origin=origin, text="We need 20 units"))
    team.session.fail_next(500, "Internal Server Error", method=SendMessage)
    refused, again = await forward(team, MANAGER, text="Hello")
    assert len(sent.ids) == 2 and "2 messages from <b>Ivan Petrov</b>" in again.text
    await team.press(MANAGER, button(again, "Another client"))
    [saved] = await team.send(MANAGER, "Sidorov")
    assert "2 notes about <b>Sidorov Oleg</b> saved" in saved.text
    assert team.session.violations == []


async def test_a_batch_refused_twice_is_dropped_and_the_next_contact_starts_anew(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    sent = Sent(team)
    real = team.session.make_request
    vera = Contact(phone_number="79995550022", first_name="Vera")
    joined = False

    async def slow(bot: Any, method: Any, **rest: Any) -> Any:
        nonlocal joined
        if isinstance(method, SendMessage) and not joined:
            joined = True
            update = Update(
                update_id=next(team._ids),
                message=Message(
                    message_id=next(team._ids),
                    date=team.clock.now(),
                    chat=Chat(id=MANAGER.id, type="private"),
                    from_user=User(id=MANAGER.id, is_bot=False, first_name="Max"),
                    contact=vera,
                ),
            )
            await team.app.dispatcher.feed_update(team.app.bot, update)
        return await real(bot, method, **rest)

    monkeypatch.setattr(team.session, "make_request", slow)
    team.session.fail_next(500, "Internal Server Error", method=SendMessage)
    team.session.fail_next(500, "Internal Server Error", method=SendMessage)
    await share(team, MANAGER, "79995550011", "Anna")
    assert sent.ids == []  # sent again once, not over and over
    assert len(team.session.sent(SendMessage)) == 2
    [offer] = await share(team, MANAGER, "79995550033", "Gleb")
    assert len(sent.ids) == 1 and "Add as a new client" in offer.text


async def test_what_joined_before_a_failed_step_is_shown_by_the_next_answer(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """The answer went out but the step recording its id failed: Vera, who joined while it was
    on its way, is not dropped; the next answer (after ANSWER_WAIT) shows her."""
    real_send = team.session.make_request
    real_hold = CaptureService.hold
    failing = False

    async def slow(bot: Any, method: Any, **rest: Any) -> Any:
        nonlocal failing
        if isinstance(method, SendMessage) and not failing:
            await share(team, MANAGER, "79995550022", "Vera")
            failing = True
        return await real_send(bot, method, **rest)

    async def hold(self: CaptureService, actor: Any) -> None:
        if failing:
            raise RuntimeError("the step fails")
        await real_hold(self, actor)

    monkeypatch.setattr(team.session, "make_request", slow)
    monkeypatch.setattr(CaptureService, "hold", hold)
    with caplog.at_level(logging.INFO, logger="bot.updates"):
        await share(team, MANAGER, "79995550011", "Anna")
    assert any("then=failed" in r.getMessage() for r in caplog.records if r.name == "bot.updates")
    monkeypatch.setattr(CaptureService, "hold", real_hold)
    monkeypatch.setattr(team.session, "make_request", real_send)
    team.clock.advance(capture.ANSWER_WAIT + timedelta(seconds=1))
    [offer] = await share(team, MANAGER, "79995550033", "Gleb")
    assert "2 contacts received" in offer.text and "Vera" in offer.text and "Anna" not in offer.text


async def test_a_batch_whose_answer_id_was_never_recorded_is_left_after_a_while(
    team: BotHarness, monkeypatch: pytest.MonkeyPatch
):
    async def stopped(*_args: Any) -> None:
        return None  # the process stopped between sending the answer and recording its id

    monkeypatch.setattr(middlewares.UnitOfWorkMiddleware, "_after_sent", stopped)
    await share(team, MANAGER, "79995550011", "Anna")
    # Within the wait it may still be recorded: a contact joins without an answer of its own.
    assert await share(team, MANAGER, "79995550022", "Vera") == []
    team.clock.advance(capture.ANSWER_WAIT + timedelta(seconds=1))
    # The next answer is a new one, and it shows Vera, whom nothing showed yet (not Anna, whose
    # own answer went out).
    [offer] = await share(team, MANAGER, "79995550033", "Gleb")
    assert offer.message_id is None and "2 contacts received" in offer.text
    assert "Vera" in offer.text and "Gleb" in offer.text and "Anna" not in offer.text
    assert [t for t, _d in offer.buttons][1:3] == ["➕ Vera", "➕ Gleb"]
    # One never shown and shared again later is one line, not two.
    assert await share(team, MANAGER, "79995550044", "Oleg") == []
    team.clock.advance(capture.ANSWER_WAIT + timedelta(seconds=1))
    [again] = await share(team, MANAGER, "79995550044", "Oleg")
    assert "Add as a new client" in again.text and again.text.count("Oleg") == 1


async def test_the_step_after_the_answer_is_on_the_updates_log_line(
    team: BotHarness, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="bot.updates"):
        await share(team, MANAGER, "79995550011", "Anna")
    [line] = [r for r in caplog.records if r.name == "bot.updates"]
    assert " ok then=ok in " in line.getMessage()
    assert line.after_sent == ["ok"]  # type: ignore[attr-defined]
