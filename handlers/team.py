"""`/team` (owner; the head may view and reassign), its buttons, and `/owner <member>`.

Each button step (bot.telegram.callbacks.TeamStep) has its own handler, registered with a filter
on that step: a press answers with the new text of the pressed message, its buttons and
sometimes a short toast."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.errors import ErrorCode
from bot.i18n import _
from bot.services.access import require_role
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.team import SUMMARY_NAMES
from bot.telegram.callbacks import TeamAct, TeamStep
from bot.telegram.replies import Replies
from bot.telegram.views.common import Viewer
from bot.telegram.views.team import (
    confirm_keyboard,
    heirs_keyboard,
    new_owner_text,
    ownership_question,
    panel_keyboard,
    panel_text,
    receivers_keyboard,
    removal_question,
    removed_view,
    role_changed_note,
    roster_view,
    transferred_text,
    whom_text,
)
from storage.enums import Role

# What a button step answers: the pressed message's new text, its buttons, a toast or None.
Screen = tuple[str, InlineKeyboardMarkup | None, str | None]
Step = Callable[[TeamAct, Actor, Services], Awaitable[Screen]]


def _viewer(actor: Actor, services: Services) -> Viewer:
    return Viewer(actor.zone, services.today(actor))


async def team(message: Message, actor: Actor, services: Services, replies: Replies) -> None:
    roster = await services.team.roster(actor, 0)
    text, markup = roster_view(roster, _viewer(actor, services))
    replies.answer(text, reply_markup=markup)


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
        replies.answer(
            _("Whom do you hand the ownership over to?"), reply_markup=heirs_keyboard(receivers)
        )
        return
    named = await services.team.resolve_member(actor, args)
    member = await services.team.heir(actor, named.id)
    replies.answer(
        ownership_question(member.full_name),
        reply_markup=confirm_keyboard(TeamStep.OWNOK, member.id),
    )


async def page(data: TeamAct, actor: Actor, services: Services) -> Screen:
    roster = await services.team.roster(actor, data.off)
    return *roster_view(roster, _viewer(actor, services), data.pt), None


async def open_panel(data: TeamAct, actor: Actor, services: Services) -> Screen:
    line = await services.team.line(actor, data.mid)
    return panel_text(line, _viewer(actor, services)), panel_keyboard(line, actor.member), None


async def change_role(data: TeamAct, actor: Actor, services: Services) -> Screen:
    if data.arg not in (Role.MANAGER, Role.HEAD):
        raise DomainError(ErrorCode.ROLE_OWNER_BY_TRANSFER)
    member = await services.team.change_role(actor, data.mid, Role(data.arg))
    line = await services.team.line(actor, member.id)
    panel = panel_text(line, _viewer(actor, services))
    return panel, panel_keyboard(line, actor.member), role_changed_note(member)


async def ask_removal(data: TeamAct, actor: Actor, services: Services) -> Screen:
    line = await services.team.line(actor, data.mid)
    require_role(actor, Role.OWNER)
    return removal_question(line.member), confirm_keyboard(TeamStep.RMOK, data.mid), None


async def remove(data: TeamAct, actor: Actor, services: Services) -> Screen:
    removal = await services.team.remove(actor, data.mid)
    return *removed_view(removal), None


async def ask_receiver(data: TeamAct, actor: Actor, services: Services) -> Screen:
    line = await services.team.line(actor, data.mid)
    count = await services.team.client_count(actor, data.mid)
    if not count:
        raise DomainError(ErrorCode.TRANSFER_EMPTY, name=line.member.full_name)
    receivers = await services.team.receivers(actor, data.mid)
    return whom_text(line.member, count), receivers_keyboard(data.mid, receivers), None


async def transfer(data: TeamAct, actor: Actor, services: Services) -> Screen:
    if not data.arg.isdigit():
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=data.arg)
    result = await services.team.transfer(actor, data.mid, int(data.arg))
    return transferred_text(result, SUMMARY_NAMES), None, None


async def ask_ownership(data: TeamAct, actor: Actor, services: Services) -> Screen:
    member = await services.team.heir(actor, data.mid)
    question = ownership_question(member.full_name)
    return question, confirm_keyboard(TeamStep.OWNOK, data.mid), None


async def hand_over(data: TeamAct, actor: Actor, services: Services) -> Screen:
    member = await services.team.hand_over(actor, data.mid)
    return new_owner_text(member), None, None


STEPS: dict[TeamStep, Step] = {
    TeamStep.PAGE: page,
    TeamStep.OPEN: open_panel,
    TeamStep.ROLE: change_role,
    TeamStep.RM: ask_removal,
    TeamStep.RMOK: remove,
    TeamStep.GIVE: ask_receiver,
    TeamStep.TO: transfer,
    TeamStep.OWN: ask_ownership,
    TeamStep.OWNOK: hand_over,
}


def _button(step: Step) -> Callable[..., Awaitable[None]]:
    """The handler of one step: the step computes the screen, this shows it."""

    async def pressed(
        query: CallbackQuery,
        callback_data: TeamAct,
        actor: Actor,
        services: Services,
        replies: Replies,
    ) -> None:
        text, markup, note = await step(callback_data, actor, services)
        replies.answer_callback(note)
        replies.edit(text, markup)

    pressed.__name__ = pressed.__qualname__ = f"team_{step.__name__}"
    return pressed


def build_router() -> Router:
    router = Router(name="team")
    router.message.register(team, Command("team"))
    router.message.register(owner_command, Command("owner"))
    for name, step in STEPS.items():
        router.callback_query.register(_button(step), TeamAct.filter(F.act == name))
    return router
