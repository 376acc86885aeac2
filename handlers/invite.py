"""`/invite manager|head`: a single-use, expiring link for a new team member."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.errors import ErrorCode
from bot.i18n import _, fmt_datetime
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.telegram.replies import Replies
from bot.telegram.views.common import role_label
from storage.enums import Role

_ROLE_WORDS = {
    "manager": Role.MANAGER,
    "менеджер": Role.MANAGER,
    "менеджера": Role.MANAGER,
    "head": Role.HEAD,
    "руководитель": Role.HEAD,
    "руководителя": Role.HEAD,
    "роп": Role.HEAD,
}


async def invite(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    bot: Bot,
    replies: Replies,
) -> None:
    word = (command.args or "manager").strip().casefold()
    role = _ROLE_WORDS.get(word)
    if role is None:
        raise DomainError(ErrorCode.INVITE_ROLE_UNKNOWN)
    created = await services.onboarding.create_invite(actor, role)
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={created.token}"
    expires = fmt_datetime(created.expires_at.astimezone(actor.zone))
    replies.answer(
        _(
            "Invitation for a {role}. Send this link to the person; it works once and "
            "expires {expires}:\n{link}"
        ).format(role=role_label(role), expires=expires, link=link)
    )


def build_router() -> Router:
    router = Router(name="invite")
    router.message.register(invite, Command("invite"))
    return router
