"""From /start to a team: the first owner, invite links, and strangers kept out."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import AnswerInlineQuery, LeaveChat
from aiogram.types import (
    Chat,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    InlineQuery,
    Update,
    User,
)

from bot.config import Settings
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
STRANGER = Person(3, "Stan")


async def test_first_start_on_a_fresh_install_makes_the_sender_owner(harness: BotHarness):
    replies = await harness.send(OWNER, "/start")
    assert "owner of a new team" in replies[0].text
    async with harness.uow_factory() as uow:
        member = await uow.members.by_telegram_id(OWNER.id)
    assert member is not None and member.role == "owner"


async def test_a_stranger_after_the_owner_is_refused_and_sees_nothing(harness: BotHarness):
    await harness.join_owner(OWNER)
    await harness.send(OWNER, "/add Secret Client, +7 999 000-00-01")
    replies = await harness.send(STRANGER, "/start")
    assert "private sales assistant" in replies[0].text
    for command in ("/list", "/client Secret", "/today", "/find Secret", "hello"):
        replies = await harness.send(STRANGER, command)
        assert len(replies) == 1
        assert "invitation link" in replies[0].text
        assert "Secret" not in replies[0].text
    async with harness.uow_factory() as uow:
        assert await uow.members.by_telegram_id(STRANGER.id) is None


async def test_invite_link_works_once_with_its_role(harness: BotHarness):
    await harness.join_owner(OWNER)
    replies = await harness.send(OWNER, "/invite head")
    token = replies[0].text.split("start=")[1].split()[0]
    replies = await harness.send(MANAGER, f"/start {token}")
    assert "Welcome to the team" in replies[0].text and "head of sales" in replies[0].text
    # The owner hears about it.
    assert any("joined the team" in r.text for r in replies)
    replies = await harness.send(STRANGER, f"/start {token}")
    assert "already been used" in replies[0].text
    async with harness.uow_factory() as uow:
        assert (await uow.members.by_telegram_id(MANAGER.id)).role == "head"  # type: ignore[union-attr]
        assert await uow.members.by_telegram_id(STRANGER.id) is None


async def test_expired_and_forged_invites_are_refused(harness: BotHarness):
    await harness.join_owner(OWNER)
    replies = await harness.send(OWNER, "/invite manager")
    token = replies[0].text.split("start=")[1].split()[0]
    harness.clock.advance(timedelta(hours=73))
    assert "expired" in (await harness.send(MANAGER, f"/start {token}"))[0].text
    assert "not valid" in (await harness.send(MANAGER, "/start forged-token"))[0].text


async def test_only_the_owner_invites(harness: BotHarness):
    await harness.join_owner(OWNER)
    await harness.invite_and_join(OWNER, MANAGER)
    replies = await harness.send(MANAGER, "/invite manager")
    assert "Only the team owner" in replies[0].text
    replies = await harness.send(OWNER, "/invite president")
    assert "/invite manager" in replies[0].text


async def test_owner_telegram_id_decides_who_founds_the_team(
    harness: BotHarness, settings: Settings
):
    settings.owner_telegram_id = OWNER.id
    assert "private sales assistant" in (await harness.send(STRANGER, "/start"))[0].text
    assert "owner of a new team" in (await harness.send(OWNER, "/start"))[0].text


async def test_group_chats_get_a_polite_refusal(harness: BotHarness):
    await harness.join_owner(OWNER)
    replies = await harness.send(OWNER, "/today", chat_type="group", chat_id=-100)
    assert "private chat" in replies[0].text
    assert await harness.send(OWNER, "just chatting", chat_type="group", chat_id=-100) == []


async def test_bot_added_to_a_group_explains_and_leaves(harness: BotHarness):
    bot_user = User(id=harness.app.bot.id, is_bot=True, first_name="Salesbot")
    event = ChatMemberUpdated(
        chat=Chat(id=-200, type="supergroup"),
        from_user=User(id=OWNER.id, is_bot=False, first_name="Olga"),
        date=0,
        old_chat_member=ChatMemberLeft(user=bot_user),
        new_chat_member=ChatMemberMember(user=bot_user),
    )
    harness.session.clear()
    await harness.app.dispatcher.feed_update(
        harness.app.bot, Update(update_id=9000, my_chat_member=event)
    )
    assert harness.session.sent(LeaveChat)
    # No member language and no Telegram language: the default (ru) applies.
    assert "личном чате" in harness.replies()[0].text


async def test_inline_queries_return_nothing(harness: BotHarness):
    await harness.join_owner(OWNER)
    harness.session.clear()
    query = InlineQuery(
        id="1",
        from_user=User(id=OWNER.id, is_bot=False, first_name="Olga"),
        query="Ivanov",
        offset="",
    )
    await harness.app.dispatcher.feed_update(
        harness.app.bot, Update(update_id=9001, inline_query=query)
    )
    answers = harness.session.sent(AnswerInlineQuery)
    assert answers and answers[0].results == []


async def test_language_comes_from_telegram_until_the_member_sets_one(harness: BotHarness):
    ru_owner = Person(OWNER.id, "Olga", language="ru")
    replies = await harness.send(ru_owner, "/start")
    assert "владелец" in replies[0].text
    replies = await harness.send(ru_owner, "/settings lang en")
    assert "Saved" in replies[0].text
    replies = await harness.send(ru_owner, "/today")
    assert "Nothing is due today" in replies[0].text
