"""Replies a sales manager must be able to trust: the true reason for every date, one message
for one event, search by a phone's last digits, a warning before a likely duplicate, filters
that explain themselves, buttons that are there, the team's own periods."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.methods import EditMessageText
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from storage.models import Client
from tests.support.harness import BotHarness, Person, Reply
from tests.support.reads import count

OWNER = Person(501, "Olga")


async def started(harness: BotHarness) -> BotHarness:
    await harness.join_owner(OWNER)
    return harness


def button(reply: Reply, label: str) -> str:
    return next(data for text, data in reply.buttons if label in text)


async def test_no_answer_says_it_is_the_retry_not_the_temperature(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Sidorova Anna, hot")
    text = (await harness.send(OWNER, "/call Sidorova no answer"))[-1].text
    assert "retry after no answer" in text and "hot" not in text.split("\n", 1)[1]
    text = (await harness.send(OWNER, "/call Sidorova done"))[-1].text
    assert "the team's period for a 🔥 hot client" in text


async def test_meet_says_it_is_a_meeting_once(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Sidorova Anna")
    text = (await harness.send(OWNER, "/meet Sidorova tomorrow 15:00"))[-1].text
    assert text.startswith("📅 Meeting with <b>Sidorova Anna</b> planned:") and "15:00" in text
    assert "Next contact" not in text and text.count("15:00") == 1
    text = (await harness.send(OWNER, "/next Sidorova friday"))[-1].text
    assert text.count("Next contact") == 1


async def test_find_by_the_last_four_digits_of_a_phone(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Ivanov Petr, +7 999 123-45-67")
    await harness.send(OWNER, "/add Petrov Ivan, +7 999 456-70-00")
    reply = (await harness.send(OWNER, "/find 4567"))[-1]
    assert [label for label, _ in reply.buttons] == ["Ivanov Petr"]


async def test_add_warns_about_the_same_name_in_the_other_alphabet(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Ivanov Petr")
    warning = (await harness.send(OWNER, "/add Иванов Пётр, Москва"))[-1]
    assert "already have a client" in warning.text and "Ivanov Petr" in warning.text
    assert "Open the existing card" in warning.text
    card = await harness.press(OWNER, button(warning, "📇 Ivanov Petr"))
    assert card[-1].text.startswith("<b>Ivanov Petr</b>")
    # Nothing was added meanwhile: the name still names one client.
    assert "Which one" not in (await harness.send(OWNER, "/client Иванов"))[-1].text

    warning = (await harness.send(OWNER, "/add Иванов Пётр, Москва"))[-1]
    added = await harness.press(OWNER, button(warning, "Add anyway"))
    assert "Client <b>Иванов Пётр</b> added" in added[-1].text
    assert harness.markup_removed()
    # A second press of the same button adds nothing more.
    await harness.press(OWNER, button(warning, "Add anyway"))
    assert "no longer active" in harness.alerts()[-1]
    # Exact spelling wins over the same name read across alphabets.
    assert (await harness.send(OWNER, "/client Ivanov Petr"))[-1].text.startswith(
        "<b>Ivanov Petr</b>"
    )
    assert (await harness.send(OWNER, "/client Иванов Пётр"))[-1].text.startswith(
        "<b>Иванов Пётр</b>"
    )


async def test_add_warns_about_the_same_phone_or_email(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Ivanov Petr, +7 999 123-45-67, petr@example.com")
    warning = (await harness.send(OWNER, "/add Petya, 8 999 123 45 67"))[-1]
    assert "Ivanov Petr" in warning.text and any("Add anyway" in t for t, _ in warning.buttons)
    warning = (await harness.send(OWNER, "/add Office, PETR@example.com"))[-1]
    assert "Ivanov Petr" in warning.text
    added = await harness.press(OWNER, button(warning, "Add anyway"))
    assert "Client <b>Office</b> added" in added[-1].text


async def test_list_with_an_unknown_word_lists_the_filters(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Ivanov Petr, #purple-ish")
    text = (await harness.send(OWNER, "/list purple"))[-1].text
    assert "There is no list «purple»" in text and "<code>/list hot</code>" in text
    # A #tag with no clients is a real, empty list.
    assert "No clients match" in (await harness.send(OWNER, "/list #purple"))[-1].text


async def test_settings_after_a_change_shows_the_buttons_it_mentions(harness: BotHarness):
    await started(harness)
    reply = (await harness.send(OWNER, "/settings lang en"))[-1]
    assert "the buttons below" in reply.text
    assert [label for label, _ in reply.buttons] == ["Русский", "English"]


async def test_tapping_the_view_already_shown_answers_without_an_edit(harness: BotHarness):
    await started(harness)
    shown = (await harness.send(OWNER, "/settings"))[-1]
    english = button(shown, "English")
    harness.session.clear()
    plain = shown.text.replace("<b>", "").replace("</b>", "").replace("<code>", "")
    plain = plain.replace("</code>", "")
    user = User(id=OWNER.id, is_bot=False, first_name=OWNER.first_name, language_code="en")
    query = CallbackQuery(
        id="tap-1",
        from_user=user,
        chat_instance="test",
        message=Message(
            message_id=77,
            date=datetime.now(UTC),
            chat=Chat(id=OWNER.id, type="private"),
            text=plain,
            reply_markup=shown.markup,
        ),
        data=english,
    )
    await harness.app.dispatcher.feed_update(
        harness.app.bot, Update(update_id=9_000, callback_query=query)
    )
    assert harness.alerts() == ["Saved."]
    assert not harness.session.sent(EditMessageText)


async def test_help_shows_the_teams_own_periods(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/settings team hot 5")
    await harness.send(OWNER, "/settings team retry 2")
    text = "\n".join(r.text for r in await harness.send(OWNER, "/help"))
    assert "hot 5, warm 14, cold 30" in text
    assert "try again in 2 days" in text
    assert "hot 3" not in text


async def test_a_phone_of_a_client_the_member_cannot_see_is_still_refused(harness: BotHarness):
    await started(harness)
    manager = Person(502, "Max")
    await harness.invite_and_join(OWNER, manager)
    await harness.send(OWNER, "/add Ivanov Petr, +7 999 123-45-67")
    reply = (await harness.send(manager, "/add Petya, 8 999 123 45 67"))[-1]
    assert "already in the team's base" in reply.text and "Ivanov" not in reply.text
    assert not reply.buttons


async def test_add_anyway_without_its_message_adds_nothing(harness: BotHarness):
    await started(harness)
    await harness.send(OWNER, "/add Ivanov Petr")
    warning = (await harness.send(OWNER, "/add Иванов Пётр, Москва"))[-1]
    harness.session.clear()
    # Telegram sends no message with a press on one it no longer lets the bot see: the member
    # is told to start again (bot/telegram/middlewares.py PressedMessageMiddleware).
    query = CallbackQuery(
        id="tap-old",
        from_user=User(id=OWNER.id, is_bot=False, first_name=OWNER.first_name, language_code="en"),
        chat_instance="test",
        data=button(warning, "Add anyway"),
    )
    await harness.app.dispatcher.feed_update(
        harness.app.bot, Update(update_id=9_001, callback_query=query)
    )
    assert harness.alerts() == ["This choice has expired. Please send the command again."]
    assert harness.replies() == []
    assert await count(harness, Client) == 1
