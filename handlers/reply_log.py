"""A reply to the bot's reminder push, client card or digest logs its text for that client.

Text the command language reads as a call's outcome (`done`, `no answer`, `перезвонить через
неделю`, `deal 150k`) is logged as `/call`; anything else as `/note`: the same services, checks
and answers as the commands. Only the bot's own messages count; which clients one is about was
recorded when it was sent (bot/services/reply_log.py). A message sent before that record
existed is read by its buttons, when Telegram hands them back with the reply.

Placed before the routers that answer open questions: a reply that points at a push is about
that push's client, whatever another command asked meanwhile. The open question stays open,
except one about the same client (`/call` without an outcome, «Other date»): the reply answers
it. A reply to a bot message about no client falls through to the question, or gets a hint.
"""

from __future__ import annotations

import secrets

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.parsing.commands import parse_call, starts_with_outcome
from bot.services.context import Actor
from bot.services.hub import Services
from bot.services.reply_log import DIGEST, quoted_clients
from bot.telegram.callbacks import CardAction, Remind, ReplyPick
from bot.telegram.filters import answer_text, refuses_by_event
from bot.telegram.replies import Replies
from bot.telegram.views import flow as flow_view
from bot.telegram.views import reply_log as view
from bot.telegram.views.common import logged_text
from handlers.flow import PLACEHOLDER, Flow, Steps
from storage.dto import ClientDTO

# Where the step data keeps a digest reply waiting for its client to be picked.
PENDING = "reply_pick"


async def to_the_bot(message: Message, bot: Bot) -> bool:
    """A reply to a message this bot sent (a reply to anyone else's is no reply-log)."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


@refuses_by_event
async def not_text(message: Message) -> bool:
    """Media a reply-log cannot read; a file and a contact are left to their own features."""
    return message.text is None and message.document is None and message.contact is None


async def _about(message: Message, actor: Actor, services: Services) -> tuple[str, list[int]]:
    """(kind, client ids) of the replied message; no ids: it is about no client."""
    replied = message.reply_to_message
    assert replied is not None
    found = await services.reply_log.replied(actor, message.chat.id, replied.message_id)
    if found is not None:
        return found.kind, list(found.client_ids)
    # Not recorded (sent before the record existed): the buttons name the client, when
    # Telegram hands them back; once used they are gone, and then so is this way. Buttons of
    # several clients (a /find list) name none: a reply to them is never guessed.
    markup = replied.reply_markup
    cids: set[int] = set()
    fids: set[int] = set()
    for row in markup.inline_keyboard if markup is not None else []:
        for button in row:
            data = button.callback_data or ""
            try:
                cids.add(CardAction.unpack(data).cid)
                continue
            except (ValueError, TypeError):
                pass
            try:
                fids.add(Remind.unpack(data).fid)
            except (ValueError, TypeError):
                continue
    if len(fids) == 1 and not cids:
        client_id = await services.reply_log.client_of_followup(actor, fids.pop())
        return ("push", [client_id]) if client_id is not None else ("", [])
    if len(cids) == 1 and not fids:
        return "card", [cids.pop()]
    return "", []


def _command(text: str) -> str:
    return "call" if starts_with_outcome(text) else "note"


async def _log(flow: Flow, client_id: int, text: str) -> None:
    """As `/call <client> <text>` or `/note <client> <text>` would, without ending an open
    question of another command."""
    services, actor = flow.services, flow.actor
    if _command(text) == "call":
        parsed = parse_call(
            f"{PLACEHOLDER} {text}",
            flow.services.local_now(actor),
            max_amount=services.limits.max_amount,
        )
        result = await services.activities.log_call(actor, client_id, parsed)
        flow.replies.answer(logged_text(result, flow.viewer()))
    else:
        client = await services.activities.add_note(actor, client_id, text)
        flow.replies.answer(flow_view.note_saved(client.name))


async def reply_text(
    message: Message,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    kind, client_ids = await _about(message, actor, services)
    if not client_ids:
        if await state.get_state() is not None:
            raise SkipHandler  # an answer to the open question, given as a reply
        replies.answer(view.not_about_a_client())
        return
    text = (message.text or "").strip()
    flow = Flow(replies, actor, services, state)
    if kind != DIGEST:
        client = await services.reply_log.target(actor, client_ids[0])
        if await _answers_question(state, client.id):
            await flow.details_given(text)
            return
        await _log(flow, client.id, text)
        return
    if _command(text) == "call":
        # A call that cannot be read is refused at once, not after the client is picked.
        parse_call(
            f"{PLACEHOLDER} {text}",
            services.local_now(actor),
            max_amount=services.limits.max_amount,
        )
    choices = await services.reply_log.choices(actor, client_ids)
    if not choices:
        replies.answer(view.no_clients_left())
        return
    quote = message.quote.text if message.quote is not None else ""
    offered = quoted_clients(quote, choices) if quote else choices
    if len(offered) == 1:
        await _log(flow, offered[0].id, text)
        return
    await _offer(flow, offered or choices, text, quoted=bool(quote))


async def _answers_question(state: FSMContext, client_id: int) -> bool:
    if await state.get_state() != Steps.details.state:
        return False
    return (await state.get_data()).get("cid") == client_id


async def _offer(flow: Flow, clients: list[ClientDTO], text: str, *, quoted: bool) -> None:
    """Buttons to pick the client; the text waits in the step data, beside any open question."""
    token = secrets.token_hex(3)
    shown = clients[: view.PICK_LIMIT]
    await flow.state.update_data(
        {PENDING: {"tok": token, "text": text, "cids": [c.id for c in shown]}}
    )
    flow.replies.answer(
        view.pick_text(quoted, len(clients)) + "\n" + view.quoted(text),
        view.pick_keyboard(shown, token),
    )


async def picked(
    query: CallbackQuery,
    callback_data: ReplyPick,
    actor: Actor,
    services: Services,
    state: FSMContext,
    replies: Replies,
) -> None:
    data = await state.get_data()
    pending = data.get(PENDING)
    if (
        not isinstance(pending, dict)
        or pending.get("tok") != callback_data.tok
        or callback_data.cid not in (pending.get("cids") or [])
    ):
        replies.answer_callback(view.pick_expired())
        return
    await state.set_data({key: value for key, value in data.items() if key != PENDING})
    replies.answer_callback()
    client = await services.reply_log.target(actor, callback_data.cid)
    # The question's buttons go away: a second press must not log the text twice.
    replies.edit_markup()
    await _log(Flow(replies, actor, services, state), client.id, str(pending["text"]))


async def reply_media(
    message: Message, actor: Actor, services: Services, state: FSMContext, replies: Replies
) -> None:
    _, client_ids = await _about(message, actor, services)
    if not client_ids:
        raise SkipHandler
    replies.answer(view.only_text())


def build_router() -> Router:
    router = Router(name="reply_log")
    router.message.register(reply_text, answer_text, to_the_bot)
    router.message.register(reply_media, not_text, to_the_bot)
    router.callback_query.register(picked, ReplyPick.filter())
    return router
