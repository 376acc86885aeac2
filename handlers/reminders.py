"""Buttons under a follow-up push: each logs or moves the follow-up like the matching command,
then the push is edited to say what was done, with no buttons left to press twice.

One handler per action (bot.telegram.callbacks.RemindAct), chosen by a filter on it."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.parsing.commands import Outcome
from bot.services.activities import Logged
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import Remind, RemindAct
from bot.telegram.replies import Replies
from bot.telegram.views.common import logged_text
from handlers.flow import Flow
from storage.dto import ClientDTO, FollowupDTO

# What the buttons mean: a call's outcome, or (days, hours) from now.
CALL_OUTCOMES = {RemindAct.DONE: Outcome.DONE, RemindAct.NO_ANSWER: Outcome.NO_ANSWER}
SNOOZE = {RemindAct.HOUR: (0, 1), RemindAct.TOMORROW: (1, 0), RemindAct.TWOWEEKS: (14, 0)}
# Buttons that open a command as if typed about the push's client.
COMMANDS = {RemindAct.OPEN: "client", RemindAct.OTHER: "next"}


async def _pressed(button: Remind, flow: Flow) -> tuple[FollowupDTO, ClientDTO] | None:
    """The push's follow-up and client, still pending (None: nothing is left to do)."""
    target = await flow.services.activities.pending_target(flow.actor, button.fid)
    flow.replies.answer_callback()
    return target


async def run_command(
    query: CallbackQuery,
    callback_data: Remind,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    """«Open» shows the card; «Other date» asks like a bare /next, and the push keeps its
    buttons until a date is given."""
    flow = Flow(replies, actor, services, state)
    target = await _pressed(callback_data, flow)
    if target is not None:
        await flow.execute(COMMANDS[callback_data.act], target[1].id, "")


async def log_call(
    query: CallbackQuery,
    callback_data: Remind,
    message: Message | InaccessibleMessage,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    flow = Flow(replies, actor, services, state)
    target = await _pressed(callback_data, flow)
    if target is None:
        return
    followup, client = target
    outcome = CALL_OUTCOMES[callback_data.act]
    result = await services.activities.quick_call_pending(actor, followup, client, outcome)
    await _summarise(message, flow, result)


async def snooze(
    query: CallbackQuery,
    callback_data: Remind,
    message: Message | InaccessibleMessage,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    flow = Flow(replies, actor, services, state)
    target = await _pressed(callback_data, flow)
    if target is None:
        return
    followup, client = target
    days, hours = SNOOZE[callback_data.act]
    result = await services.activities.postpone_pending(
        actor, followup, client, days=days, hours=hours
    )
    await _summarise(message, flow, result)


async def _summarise(push: Message | InaccessibleMessage, flow: Flow, result: Logged) -> None:
    """The push gains what was done below its text; when Telegram sent the press without the
    push's text (an InaccessibleMessage, even for a push hours old), the summary is a new
    message rather than an edit that would wipe the push's text."""
    summary = logged_text(result, flow.viewer())
    if isinstance(push, Message) and push.html_text:
        flow.replies.edit(f"{push.html_text}\n\n{summary}")
    else:
        await flow.send(summary)


def build_router() -> Router:
    router = Router(name="reminders")
    router.callback_query.register(run_command, Remind.filter(F.act.in_(COMMANDS)))
    router.callback_query.register(log_call, Remind.filter(F.act.in_(CALL_OUTCOMES)))
    router.callback_query.register(snooze, Remind.filter(F.act.in_(SNOOZE)))
    return router
