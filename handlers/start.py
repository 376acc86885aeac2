"""`/start`: found a team, join by invite, or be refused politely."""

from __future__ import annotations

import re
from html import escape

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.config import Settings
from bot.errors import ErrorCode
from bot.i18n import _, pick_language, set_locale, use_locale
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.onboarding import NewcomerInfo, StartKind, StartOutcome
from bot.telegram.replies import Replies
from bot.telegram.views.common import role_label
from handlers.flow import Flow
from storage.types import MAX_ROW_ID

# `https://t.me/<bot>?start=card_42`: the links of the calendar feed's events open a card.
# Invite tokens (token_urlsafe(18), 24 characters) are never this short.
CARD_LINK = re.compile(r"card_([1-9][0-9]{0,9})")


async def start(
    message: Message,
    command: CommandObject,
    actor: Actor | None,
    services: Services,
    state: FSMContext,
    settings: Settings,
    replies: Replies,
) -> None:
    user = message.from_user
    if user is None:
        return
    payload = (command.args or "").strip() or None
    card = CARD_LINK.fullmatch(payload) if payload else None
    if card is not None:
        if actor is not None:
            # The same way as /client and the card buttons: access is checked by the service
            # (another manager's client is "not found"), and the view is audited.
            client_id = int(card.group(1))
            if client_id > MAX_ROW_ID:  # a forged link: no such row can exist
                raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
            await Flow(replies, actor, services, state).execute("client", client_id, "")
            return
        # A stranger or a removed member: the link is no invitation.
        payload = None
    person = NewcomerInfo(
        telegram_id=user.id,
        full_name=user.full_name or str(user.id),
        username=user.username,
        language=user.language_code,
    )
    outcome = await services.onboarding.start(person, payload)
    if outcome.member is not None:
        set_locale(
            pick_language(
                outcome.member.language, user.language_code, default=settings.default_language
            )
        )
    name = escape(user.first_name)
    if outcome.kind is StartKind.OWNER_CREATED:
        replies.answer(
            _(
                "Hello, {name}! You are the owner of a new team. 👋\n\n"
                "Add your first client: <code>/add Ivanov Petr, +7 999 123-45-67, Moscow</code>\n"
                "Log a call: <code>/call Ivanov done</code>\n"
                "Invite your managers: <code>/invite manager</code>\n"
                "Set your time zone: <code>/settings tz Europe/Moscow</code>\n\n"
                "All commands: /help"
            ).format(name=name)
        )
    elif outcome.kind is StartKind.JOINED:
        assert outcome.member is not None
        replies.answer(
            _(
                "Welcome to the team, {name}! Your role: {role}.\n\n"
                "Add a client: <code>/add Ivanov Petr, +7 999 123-45-67</code>\n"
                "See today's work: /today\n"
                "All commands: /help"
            ).format(name=name, role=role_label(outcome.member.role))
        )
        _tell_inviter(replies, outcome, settings)
    elif outcome.kind is StartKind.WELCOME_BACK:
        replies.answer(
            _("Hello again, {name}! See what is due: /today. All commands: /help").format(name=name)
        )
    elif outcome.kind is StartKind.INVITE_EXPIRED:
        replies.answer(_("This invitation link has expired. Ask the owner for a new one."))
    elif outcome.kind is StartKind.INVITE_USED:
        replies.answer(
            _("This invitation link has already been used. Ask the owner for a new one.")
        )
    elif outcome.kind is StartKind.INVITE_INVALID:
        replies.answer(_("This invitation link is not valid. Ask the owner for a new one."))
    elif outcome.kind is StartKind.DEACTIVATED:
        replies.answer(
            _("Your access to this team has been closed. Ask the owner if this is a mistake.")
        )
    else:
        replies.answer(
            _(
                "Hello! This is a private sales assistant of a team. To join, ask the owner "
                "for an invitation link."
            )
        )


def _tell_inviter(replies: Replies, outcome: StartOutcome, settings: Settings) -> None:
    inviter, member = outcome.inviter, outcome.member
    if inviter is None or member is None:
        return
    language = pick_language(
        inviter.language, inviter.telegram_language, default=settings.default_language
    )
    with use_locale(language):
        text = _("{name} joined the team as {role}.").format(
            name=escape(member.full_name), role=role_label(member.role)
        )
    # Sent after the commit like every reply; if the owner blocked the bot, the join still stands.
    replies.send(inviter.telegram_id, text)


def build_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    return router
