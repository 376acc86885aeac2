"""Client base commands: `/add`, `/client`, `/find`, `/hot` `/warm` `/cold`, and card buttons."""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.parsing.commands import Outcome
from bot.parsing.new_client import parse_new_client
from bot.services.activities import Logged
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import AddAnyway, CardAct, CardAction, PickClient
from bot.telegram.replies import Replies
from bot.telegram.views.clients import added_text, duplicate_keyboard, duplicate_text
from bot.telegram.views.common import (
    ECHO_LIMIT,
    client_buttons,
    echo,
    logged_text,
    temperature_label,
)
from handlers.flow import CLIENT_COMMANDS, Flow, Steps
from storage.enums import Temperature

# What the card's buttons mean: a call's outcome, days from today, a temperature.
CALL_OUTCOMES = {CardAct.DONE: Outcome.DONE, CardAct.NO_ANSWER: Outcome.NO_ANSWER}
POSTPONE_DAYS = {CardAct.TOMORROW: 1, CardAct.WEEK: 7}
TEMPERATURES = {
    CardAct.HOT: Temperature.HOT,
    CardAct.WARM: Temperature.WARM,
    CardAct.COLD: Temperature.COLD,
}


# Where the step data keeps an `/add` held back by the duplicate warning.
PENDING_ADD = "pending_add"


async def add_client(flow: Flow, text: str, *, anyway: bool = False) -> None:
    limits = flow.services.limits
    data = parse_new_client(text, max_amount=limits.max_amount, max_tag_chars=limits.max_tag_chars)
    clients = flow.services.clients
    if not anyway:
        duplicates = await clients.likely_duplicates(flow.actor, data)
        if duplicates:
            token = secrets.token_hex(4)
            await flow.state.set_state(None)
            await flow.state.set_data({PENDING_ADD: {"tok": token, "text": text}})
            await flow.send(
                duplicate_text(data.name, duplicates), duplicate_keyboard(duplicates, token)
            )
            return
    added = await clients.add(flow.actor, data, allow_duplicate=anyway)
    await flow.state.clear()
    await flow.send(added_text(added, flow.viewer()))


async def add_anyway(
    query: CallbackQuery,
    callback_data: AddAnyway,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    pending = (await state.get_data()).get(PENDING_ADD)
    if not isinstance(pending, dict) or pending.get("tok") != callback_data.tok:
        replies.answer_callback(_("This button is no longer active."))
        return
    replies.answer_callback()
    replies.edit_markup()
    await add_client(Flow(replies, actor, services, state), str(pending["text"]), anyway=True)


async def add(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    flow = Flow(replies, actor, services, state)
    if not (command.args or "").strip():
        await state.set_state(Steps.add)
        replies.answer(
            _(
                "Send the new client: name, then phone, email, city, #tags, temperature, "
                "separated by commas. For example:\n"
                "<code>Ivanov Petr, +7 999 123-45-67, Moscow, #vip, hot</code>\n/cancel to stop."
            )
        )
        return
    await add_client(flow, command.args or "")


async def client_command(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    flow = Flow(replies, actor, services, state)
    await flow.start(command.command.lower(), command.args or "")


async def find(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await state.set_state(Steps.find)
        replies.answer(_("What do I look for? A name, part of it, or phone digits."))
        return
    await show_found(query, actor, services, state, replies)


async def show_found(
    query: str, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    await state.clear()
    clients = await services.clients.find(actor, query)
    if not clients:
        replies.answer(
            _("Nothing found for «{query}». To add a client: <code>/add {query}</code>").format(
                query=echo(query)
            )
        )
        return
    replies.answer(
        _("Found {count}. Open a card:").format(count=len(clients)),
        reply_markup=client_buttons(clients),
    )


async def picked(
    query: CallbackQuery,
    callback_data: PickClient,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    if callback_data.cmd not in CLIENT_COMMANDS:
        replies.answer_callback()
        return
    replies.answer_callback()
    flow = Flow(replies, actor, services, state)
    await flow.picked(callback_data.cmd, callback_data.cid, callback_data.pid)
    replies.edit_markup()


async def open_card(
    query: CallbackQuery,
    callback_data: CardAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    replies.answer_callback()
    await Flow(replies, actor, services, state).execute("client", callback_data.cid, "")


async def set_temperature(
    query: CallbackQuery,
    callback_data: CardAction,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    updated = await services.clients.set_temperature(
        actor, callback_data.cid, TEMPERATURES[callback_data.act]
    )
    replies.answer_callback(
        _("{name} is now {temperature}.").format(
            name=updated.name[:ECHO_LIMIT], temperature=temperature_label(updated.temperature)
        )
    )


async def log_call(
    query: CallbackQuery,
    callback_data: CardAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    result = await services.activities.quick_call(
        actor,
        callback_data.cid,
        CALL_OUTCOMES[callback_data.act],
        expected_followup=callback_data.fid,
    )
    await _logged(Flow(replies, actor, services, state), result)


async def postpone(
    query: CallbackQuery,
    callback_data: CardAction,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    result = await services.activities.postpone(
        actor,
        callback_data.cid,
        days=POSTPONE_DAYS[callback_data.act],
        expected_followup=callback_data.fid,
    )
    await _logged(Flow(replies, actor, services, state), result)


async def _logged(flow: Flow, result: Logged) -> None:
    await flow.state.clear()
    flow.replies.answer_callback()
    # Buttons that log go away once used: a second press must not log the call twice.
    flow.replies.edit_markup()
    await flow.send(logged_text(result, flow.viewer()))


def build_router() -> Router:
    router = Router(name="clients")
    router.message.register(add, Command("add"))
    router.message.register(client_command, Command(*CLIENT_COMMANDS))
    router.message.register(find, Command("find"))
    router.callback_query.register(picked, PickClient.filter())
    router.callback_query.register(add_anyway, AddAnyway.filter())
    router.callback_query.register(open_card, CardAction.filter(F.act == CardAct.OPEN))
    router.callback_query.register(set_temperature, CardAction.filter(F.act.in_(TEMPERATURES)))
    router.callback_query.register(log_call, CardAction.filter(F.act.in_(CALL_OUTCOMES)))
    router.callback_query.register(postpone, CardAction.filter(F.act.in_(POSTPONE_DAYS)))
    return router
