"""Follow-up pushes: due once, never lost, never repeated, across restarts and instances.

The clock starts at Wednesday 2026-12-02 10:15 Moscow time and is moved, never waited for.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import Update
from sqlalchemy import func, select

from bot.telegram.callbacks import Remind
from storage.models import Activity, Followup, OutboxMessage
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep, moscow, pushes

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
OTHER = Person(3, "Nina")


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(MANAGER, OTHER))


async def test_followup_due_at_10_is_pushed_once_at_10_and_never_again(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00 send the price")
    sweep = make_sweep(team)
    team.session.clear()
    team.clock.set(moscow(15, 9, 59))
    await sweep.run_once()
    assert pushes(team, MANAGER.id) == []
    team.clock.set(moscow(15, 10, 0))
    await sweep.run_once()
    [push] = pushes(team, MANAGER.id)
    assert "Иванов" in push.text and "send the price" in push.text and "Late" not in push.text
    labels = [b.text for row in push.reply_markup.inline_keyboard for b in row]
    assert labels == [
        "✅ Talked",
        "📵 No answer",
        "⏱ +1 hour",
        "📅 Tomorrow",
        "📅 In 2 weeks",
        "📆 Other date",
        "📇 Open card",
    ]
    for minutes in (1, 30, 600):
        team.clock.set(moscow(15, 10, 0) + timedelta(minutes=minutes))
        await sweep.run_once()
    # A restarted bot is a new sweep with a new lease owner: still nothing more.
    await make_sweep(team).run_once()
    assert len(pushes(team, MANAGER.id)) == 1


async def test_a_date_only_followup_arrives_when_the_working_day_starts(team: BotHarness):
    await team.send(MANAGER, "/settings hours 10-19")
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12")
    sweep = make_sweep(team)
    team.session.clear()
    team.clock.set(moscow(15, 9, 30))
    await sweep.run_once()
    assert pushes(team, MANAGER.id) == []
    team.clock.set(moscow(15, 10, 0))
    await sweep.run_once()
    assert len(pushes(team, MANAGER.id)) == 1


async def test_a_date_only_push_missed_overnight_waits_for_the_next_morning(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12")
    sweep = make_sweep(team)
    team.session.clear()
    team.clock.set(moscow(15, 22, 0))  # the bot was down all day 15 December
    await sweep.run_once()
    assert pushes(team, MANAGER.id) == []
    team.clock.set(moscow(16, 9, 0))
    await sweep.run_once()
    [push] = pushes(team, MANAGER.id)
    assert "Late" in push.text


async def test_an_exact_time_push_after_a_two_day_outage_is_sent_once_marked_late(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    team.session.clear()
    team.clock.set(moscow(17, 11, 0))
    sweep = make_sweep(team)
    await sweep.run_once()
    await sweep.run_once()
    [push] = pushes(team, MANAGER.id)
    assert "Late" in push.text


async def test_two_sweepers_on_one_database_send_each_reminder_exactly_once(team: BotHarness):
    for n in range(40):
        await team.send(MANAGER, f"/add Client {n:02d}")
        await team.send(MANAGER, f"/next Client {n:02d} 15.12 10:00")
    team.session.clear()
    team.clock.set(moscow(15, 10, 5))
    first, second = make_sweep(team, "a"), make_sweep(team, "b")
    for _ in range(3):
        await asyncio.gather(first.run_once(), second.run_once())
    texts = [m.text for m in pushes(team, MANAGER.id)]
    assert len(texts) == 40 and len(set(texts)) == 40
    async with team.uow_factory() as uow:
        states = list(
            await uow.session.scalars(
                select(OutboxMessage.state).where(OutboxMessage.kind == "followup")
            )
        )
    assert states == ["sent"] * 40


async def test_a_sweeper_that_died_after_claiming_leaves_exactly_one_send(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    team.session.clear()
    team.clock.set(moscow(15, 10, 0))
    dead = make_sweep(team, "dead")
    async with team.uow_factory() as uow:
        from bot.services.reminders import plan_due_followups

        await plan_due_followups(uow, team.clock.now(), late_after=timedelta(minutes=5), limit=10)
        claimed = await uow.outbox.claim(dead.owner, team.clock.now(), timedelta(minutes=2), 10)
        await uow.commit()
    assert len(claimed) == 1  # ...and then the process was killed before sending
    survivor = make_sweep(team, "alive")
    await survivor.run_once()
    assert pushes(team, MANAGER.id) == []  # the lease still holds
    team.clock.advance(timedelta(minutes=3))
    await survivor.run_once()
    await survivor.run_once()
    assert len(pushes(team, MANAGER.id)) == 1


async def test_retry_after_is_waited_out_and_the_push_is_delivered_once(team: BotHarness):
    await team.send(MANAGER, "/settings digest 20:00")  # keep the morning digest out of the way
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    team.session.clear()
    team.clock.set(moscow(15, 10, 0))
    team.session.fail_next(
        429,
        "Too Many Requests: retry after 5",
        method=SendMessage,
        retry_after=5,
        chat_id=MANAGER.id,
    )
    report = await make_sweep(team).run_once()
    # One request refused with 429, waited out, then the same push accepted: one delivery.
    assert len(pushes(team, MANAGER.id)) == 2 and report.retried == 0
    async with team.uow_factory() as uow:
        states = list(
            await uow.session.scalars(
                select(OutboxMessage.state).where(OutboxMessage.kind == "followup")
            )
        )
    assert states == ["sent"]


async def test_a_member_who_blocked_the_bot_is_marked_and_skipped_until_they_return(
    team: BotHarness,
):
    await team.send(MANAGER, "/settings digest 20:00")
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/add Петров")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    await team.send(MANAGER, "/next Петров 15.12 11:00")
    team.session.clear()
    team.clock.set(moscow(15, 10, 0))
    team.session.fail_next(
        403, "Forbidden: bot was blocked by the user", method=SendMessage, chat_id=MANAGER.id
    )
    sweep = make_sweep(team)
    report = await sweep.run_once()
    assert report.blocked == 1
    await sweep.run_once()
    # The owner hears it once.
    notices = [
        m.text
        for m in team.session.sent(SendMessage)
        if m.chat_id == OWNER.id and "blocked the bot" in m.text
    ]
    assert len(notices) == 1 and "Max" in notices[0]
    team.session.clear()
    team.clock.set(moscow(15, 12, 0))
    await sweep.run_once()
    assert pushes(team, MANAGER.id) == []
    await team.send(MANAGER, "/today")  # they are back
    team.clock.set(moscow(15, 12, 1))
    await sweep.run_once()
    # Everything still owed arrives, late: the push refused at 10:00 and Петров's at 11:00.
    texts = sorted(push.text for push in pushes(team, MANAGER.id))
    assert len(texts) == 2 and all("Late" in text for text in texts)
    assert "Иванов" in texts[0] + texts[1] and "Петров" in texts[0] + texts[1]


async def test_the_done_button_logs_moves_and_closes_the_push(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    team.clock.set(moscow(15, 10, 0))
    await make_sweep(team).run_once()
    [push] = pushes(team, MANAGER.id)
    done = next(
        b.callback_data
        for row in push.reply_markup.inline_keyboard
        for b in row
        if "Talked" in b.text
    )
    await team.press(MANAGER, done)
    edits = team.session.sent(EditMessageText)
    assert edits and edits[0].reply_markup is None and "Call with" in edits[0].text
    async with team.uow_factory() as uow:
        calls = await uow.session.scalar(select(func.count()).select_from(Activity))
        pending = await uow.session.scalar(select(Followup).where(Followup.state == "pending"))
    assert calls == 1 and pending is not None and pending.due_on.isoformat() == "2026-12-29"
    await team.press(MANAGER, done)
    assert any("already handled" in alert for alert in team.alerts())


async def test_snooze_buttons_move_the_followup(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00 обсудить цену")
    team.clock.set(moscow(15, 10, 0))
    await make_sweep(team).run_once()
    async with team.uow_factory() as uow:
        fid = await uow.session.scalar(select(Followup.id).where(Followup.state == "pending"))
    await team.press(MANAGER, Remind(act="hour", fid=fid).pack())
    async with team.uow_factory() as uow:
        pending = await uow.session.scalar(select(Followup).where(Followup.state == "pending"))
    assert pending is not None and pending.due_at == moscow(15, 11, 0)
    assert pending.reason == "обсудить цену" and not pending.date_only


async def test_push_buttons_of_another_manager_are_refused(team: BotHarness):
    await team.send(MANAGER, "/add Иванов")
    async with team.uow_factory() as uow:
        fid = await uow.session.scalar(select(Followup.id).where(Followup.state == "pending"))
    await team.press(OTHER, Remind(act="done", fid=fid).pack())
    assert any("not found" in alert for alert in team.alerts())
    async with team.uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Activity)) == 0


async def test_talked_on_a_push_telegram_sends_without_its_text_logs_and_answers_anew(
    team: BotHarness,
):
    """Telegram sends a press on a push hours old with an InaccessibleMessage (date 0, no
    text: tdlib/telegram-bot-api#401): the call is logged all the same, and the summary comes
    as a new message (an edit would wipe the push's text, which the bot no longer has)."""
    await team.send(MANAGER, "/add Иванов")
    await team.send(MANAGER, "/next Иванов 15.12 10:00")
    team.clock.set(moscow(15, 10, 0))
    await make_sweep(team).run_once()
    async with team.uow_factory() as uow:
        fid = await uow.session.scalar(select(Followup.id).where(Followup.state == "pending"))
    team.session.clear()
    query = {
        "id": "77",
        "from": {"id": MANAGER.id, "is_bot": False, "first_name": MANAGER.first_name},
        "chat_instance": "test",
        "data": Remind(act="done", fid=fid).pack(),
        "message": {"message_id": 5, "chat": {"id": MANAGER.id, "type": "private"}, "date": 0},
    }
    update = Update.model_validate(
        {"update_id": 9001, "callback_query": query}, context={"bot": team.app.bot}
    )
    await team.app.dispatcher.feed_update(team.app.bot, update)
    async with team.uow_factory() as uow:
        calls = await uow.session.scalar(select(func.count()).select_from(Activity))
    assert calls == 1
    assert team.session.sent(EditMessageText) == []
    [summary] = team.session.sent(SendMessage)
    assert summary.chat_id == MANAGER.id and "Call with" in summary.text
    assert not any("expired" in alert for alert in team.alerts())
