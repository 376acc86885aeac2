"""Client base commands: `/add`, `/client`, `/find`, `/hot` `/warm` `/cold`, and card buttons."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.i18n import _
from bot.parsing.commands import Outcome
from bot.parsing.new_client import parse_new_client
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.callbacks import CardAction, PickClient
from bot.telegram.render import (
    ECHO_LIMIT,
    client_buttons,
    echo,
    logged_text,
    temperature_label,
    when_text,
)
from handlers.flow import CLIENT_COMMANDS, Flow, Steps
from storage.enums import Temperature

# What the card's date buttons mean, in days from today.
POSTPONE_DAYS = {"tomorrow": 1, "week": 7}


def _flow(bot: Bot, chat_id: int, actor: Actor, services: Services, state: FSMContext) -> Flow:
    return Flow(bot, chat_id, actor, services, state)


async def add_client(flow: Flow, text: str) -> None:
    limits = flow.services.ctx.limits
    data = parse_new_client(text, max_amount=limits.max_amount, max_tag_chars=limits.max_tag_chars)
    added = await flow.services.clients.add(flow.actor, data)
    await flow.state.clear()
    client = added.client
    await flow.send(
        _(
            "➕ <b>{name}</b> added ({temperature}). First contact: {when}.\n"
            "Log it: <code>/call {short} done</code> · card: <code>/client {short}</code>"
        ).format(
            name=escape(client.name),
            temperature=temperature_label(client.temperature),
            when=when_text(added.followup, flow.viewer()),
            short=escape(client.name.split()[0]),
        )
    )


async def add(
    message: Message,
    command: CommandObject,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
) -> None:
    flow = _flow(bot, message.chat.id, actor, services, state)
    if not (command.args or "").strip():
        await state.set_state(Steps.add)
        await message.answer(
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
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
) -> None:
    flow = _flow(bot, message.chat.id, actor, services, state)
    await flow.start(command.command.lower(), command.args or "")


async def find(
    message: Message, command: CommandObject, actor: Actor, services: Services, state: FSMContext
) -> None:
    query = (command.args or "").strip()
    if not query:
        await state.set_state(Steps.find)
        await message.answer(_("What do I look for? A name, part of it, or phone digits."))
        return
    await show_found(message, query, actor, services, state)


async def show_found(
    message: Message, query: str, actor: Actor, services: Services, state: FSMContext
) -> None:
    await state.clear()
    clients = await services.clients.find(actor, query)
    if not clients:
        await message.answer(
            _("Nothing found for «{query}». To add a client: <code>/add {query}</code>").format(
                query=echo(query)
            )
        )
        return
    await message.answer(
        _("Found {count}. Open a card:").format(count=len(clients)),
        reply_markup=client_buttons(clients),
    )


async def picked(
    query: CallbackQuery,
    callback_data: PickClient,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
) -> None:
    if callback_data.cmd not in CLIENT_COMMANDS or query.message is None:
        await query.answer()
        return
    await query.answer()
    flow = _flow(bot, query.message.chat.id, actor, services, state)
    await flow.picked(callback_data.cmd, callback_data.cid, callback_data.pid)
    await bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
    )


async def card_view_action(
    query: CallbackQuery,
    callback_data: CardAction,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
) -> None:
    if callback_data.act == "open":
        flow = _button_flow(query, bot, actor, services, state)
        await query.answer()
        if flow is not None:
            await flow.execute("client", callback_data.cid, "")
        return
    updated = await services.clients.set_temperature(
        actor, callback_data.cid, Temperature(callback_data.act)
    )
    await query.answer(
        _("{name} is now {temperature}.").format(
            name=updated.name[:ECHO_LIMIT], temperature=temperature_label(updated.temperature)
        )
    )


def _button_flow(
    query: CallbackQuery, bot: Bot, actor: Actor, services: Services, state: FSMContext
) -> Flow | None:
    """The flow answering in the chat of the pressed message (None: Telegram no longer has it)."""
    if query.message is None:
        return None
    return _flow(bot, query.message.chat.id, actor, services, state)


async def card_log_action(
    query: CallbackQuery,
    callback_data: CardAction,
    bot: Bot,
    actor: Actor,
    services: Services,
    state: FSMContext,
) -> None:
    flow = _button_flow(query, bot, actor, services, state)
    if flow is None or query.message is None:
        await query.answer()
        return
    cid, act, fid = callback_data.cid, callback_data.act, callback_data.fid
    activities = services.activities
    if act in ("done", "no_answer"):
        outcome = Outcome.DONE if act == "done" else Outcome.NO_ANSWER
        result = await activities.quick_call(actor, cid, outcome, expected_followup=fid)
    else:
        days = POSTPONE_DAYS[act]
        result = await activities.postpone(actor, cid, days=days, expected_followup=fid)
    await state.clear()
    await query.answer()
    # Buttons that log go away once used: a second press must not log the call twice.
    await bot.edit_message_reply_markup(
        chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
    )
    await flow.send(logged_text(result, flow.viewer()))


def build_router() -> Router:
    router = Router(name="clients")
    router.message.register(add, Command("add"))
    router.message.register(client_command, Command(*CLIENT_COMMANDS))
    router.message.register(find, Command("find"))
    router.callback_query.register(picked, PickClient.filter())
    router.callback_query.register(
        card_view_action, CardAction.filter(F.act.in_({"hot", "warm", "cold", "open"}))
    )
    router.callback_query.register(
        card_log_action, CardAction.filter(F.act.in_({"done", "no_answer", "tomorrow", "week"}))
    )
    return router
