"""`/team` (owner; the head may view and reassign), its buttons, and `/owner <member>`."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import ErrorCode
from bot.i18n import _
from bot.services.access import require_role
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.team import SUMMARY_NAMES
from bot.telegram.callbacks import TeamAct
from bot.telegram.render import Viewer, role_label
from bot.telegram.replies import Replies
from bot.telegram.views.team import (
    confirm_keyboard,
    panel_keyboard,
    panel_text,
    receivers_keyboard,
    roster_view,
    transferred_text,
    whom_text,
)
from storage.enums import Role


def _viewer(actor: Actor, services: Services) -> Viewer:
    return Viewer(actor.zone, services.ctx.local_now(actor).date())


async def team(message: Message, actor: Actor, services: Services, replies: Replies) -> None:
    roster = await services.team.roster(actor, 0)
    text, markup = roster_view(roster, _viewer(actor, services))
    replies.answer(text, reply_markup=markup)


def ownership_question(name: str) -> str:
    return _(
        "Hand the team's ownership over to <b>{name}</b>? They become the owner with every "
        "right; you become head of sales."
    ).format(name=escape(name))


async def owner_command(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    require_role(actor, Role.OWNER)
    args = (command.args or "").strip()
    if not args:
        receivers = await services.team.receivers(actor, actor.member.id)
        if not receivers:
            replies.answer(_("There is nobody else in the team yet. Invite: /invite"))
            return
        b = InlineKeyboardBuilder()
        for member in receivers:
            b.button(
                text=f"👑 {member.full_name[:40]}", callback_data=TeamAct(act="own", mid=member.id)
            )
        b.adjust(1)
        replies.answer(_("Whom do you hand the ownership over to?"), reply_markup=b.as_markup())
        return
    named = await services.team.resolve_member(actor, args)
    member = await services.team.heir(actor, named.id)
    replies.answer(
        ownership_question(member.full_name), reply_markup=confirm_keyboard("ownok", member.id)
    )


async def team_button(
    query: CallbackQuery, callback_data: TeamAct, actor: Actor, services: Services, replies: Replies
) -> None:
    if query.message is None:
        replies.answer_callback()
        return
    text, markup, note = await _act(callback_data, actor, services)
    replies.answer_callback(note)
    replies.edit(text, markup)


async def _act(
    data: TeamAct, actor: Actor, services: Services
) -> tuple[str, InlineKeyboardMarkup | None, str | None]:
    """(new text of the pressed message, its buttons, a short toast)."""
    team_service, viewer = services.team, _viewer(actor, services)
    act, mid = data.act, data.mid
    if act == "page":
        roster = await team_service.roster(actor, data.off)
        return *roster_view(roster, viewer, data.pt), None
    if act == "open":
        line = await team_service.line(actor, mid)
        return panel_text(line, viewer), panel_keyboard(line, actor.member), None
    if act == "role":
        if data.arg not in (Role.MANAGER, Role.HEAD):
            raise DomainError(ErrorCode.ROLE_OWNER_BY_TRANSFER)
        member = await team_service.change_role(actor, mid, Role(data.arg))
        line = await team_service.line(actor, member.id)
        note = _("{name} is now {role}.").format(
            name=member.full_name[:60], role=role_label(member.role)
        )
        return panel_text(line, viewer), panel_keyboard(line, actor.member), note
    if act == "rm":
        line = await team_service.line(actor, mid)
        require_role(actor, Role.OWNER)
        question = _(
            "Remove <b>{name}</b> from the team? Their access ends at once. Then you choose "
            "whom their clients, follow-ups and open leads go to; their history stays theirs."
        ).format(name=escape(line.member.full_name))
        return question, confirm_keyboard("rmok", mid), None
    if act == "rmok":
        removal = await team_service.remove(actor, mid)
        text = _("🚫 <b>{name}</b> is removed from the team; their access is closed.").format(
            name=escape(removal.member.full_name)
        )
        if removal.clients and removal.receivers:
            text += "\n\n" + whom_text(removal.member, removal.clients)
            return text, receivers_keyboard(removal.member.id, removal.receivers), None
        return text, None, None
    if act == "give":
        line = await team_service.line(actor, mid)
        count = await team_service.client_count(actor, mid)
        if not count:
            raise DomainError(ErrorCode.TRANSFER_EMPTY, name=line.member.full_name)
        receivers = await team_service.receivers(actor, mid)
        return whom_text(line.member, count), receivers_keyboard(mid, receivers), None
    if act == "to":
        if not data.arg.isdigit():
            raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=data.arg)
        result = await team_service.transfer(actor, mid, int(data.arg))
        return transferred_text(result, SUMMARY_NAMES), None, None
    if act == "own":
        member = await team_service.heir(actor, mid)
        return ownership_question(member.full_name), confirm_keyboard("ownok", mid), None
    if act == "ownok":
        member = await team_service.hand_over(actor, mid)
        text = _("👑 <b>{name}</b> is now the owner of the team; you are head of sales.").format(
            name=escape(member.full_name)
        )
        return text, None, None
    raise DomainError(ErrorCode.PICK_EXPIRED)


def build_router() -> Router:
    router = Router(name="team")
    router.message.register(team, Command("team"))
    router.message.register(owner_command, Command("owner"))
    router.callback_query.register(team_button, TeamAct.filter())
    return router
