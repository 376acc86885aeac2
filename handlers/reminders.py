"""Buttons under a follow-up push: each logs or moves the follow-up like the matching command,
then the push is edited to say what was done, with no buttons left to press twice."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.parsing.commands import Outcome
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import Remind
from bot.telegram.render import logged_text
from bot.telegram.replies import Replies
from handlers.flow import Flow

# What the date buttons mean: (days, hours) from now.
SNOOZE = {"hour": (0, 1), "tomorrow": (1, 0), "twoweeks": (14, 0)}


async def reminder_action(
    query: CallbackQuery,
    callback_data: Remind,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    message = query.message
    if message is None:
        replies.answer_callback()
        return
    flow = Flow(replies, actor, services, state)
    activities = services.activities
    followup, client = await activities.pending_target(actor, callback_data.fid)
    act = callback_data.act
    replies.answer_callback()
    if act == "open":
        await flow.execute("client", client.id, "")
        return
    if act == "other":
        # Same question as a bare /next; the push keeps its buttons until a date is given.
        await flow.execute("next", client.id, "")
        return
    if act in ("done", "no_answer"):
        outcome = Outcome.DONE if act == "done" else Outcome.NO_ANSWER
        result = await activities.quick_call_pending(actor, followup, client, outcome)
    else:
        days, hours = SNOOZE[act]
        result = await activities.postpone_pending(actor, followup, client, days=days, hours=hours)
    summary = logged_text(result, flow.viewer())
    if isinstance(message, Message) and message.html_text:
        replies.edit(f"{message.html_text}\n\n{summary}")
    else:
        await flow.send(summary)


def build_router() -> Router:
    router = Router(name="reminders")
    router.callback_query.register(reminder_action, Remind.filter())
    return router
