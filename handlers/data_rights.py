"""The base's protection: `/export`, `/grant` `/revoke export`, `/audit`, `/consent`, `/forget`."""

from __future__ import annotations

from datetime import date

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from bot.errors import ErrorCode
from bot.parsing.data_rights import AuditQuery, parse_audit, parse_export, split_consent
from bot.parsing.errors import ParseError
from bot.services.access import require_role
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.matching import MatchKind
from bot.telegram.callbacks import AuditPage as AuditPageData
from bot.telegram.callbacks import ForgetAct, ForgetClient, SetConsent
from bot.telegram.replies import Replies
from bot.telegram.views import data_rights as view
from bot.telegram.views.audit import audit_view
from bot.telegram.views.common import Viewer
from storage.enums import Consent, Role

# -- export ------------------------------------------------------------------------------------


async def export(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    request = parse_export(command.args or "", max_tag_chars=services.limits.max_tag_chars)
    result = await services.export.export(actor, request, view.export_labels())
    for file in result.files:
        replies.document(BufferedInputFile(file.data, filename=file.filename))
    replies.answer(view.exported_caption(result, request.activities))


async def grant(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    allowed = command.command.lower() == "grant"
    words = (command.args or "").split()
    if len(words) < 2 or words[0].casefold() not in ("export", "экспорт"):
        raise ParseError(ErrorCode.GRANT_USAGE)
    member = await services.export.set_grant(actor, " ".join(words[1:]), allowed)
    replies.answer(view.grant_text(member.full_name, allowed))


# -- audit -------------------------------------------------------------------------------------


async def _audit_reply(
    actor: Actor,
    services: Services,
    query: AuditQuery,
    offset: int,
    part: int = 0,
) -> tuple[str, InlineKeyboardMarkup | None]:
    page = await services.audit.page(actor, query, offset)
    viewer = Viewer(actor.zone, services.today(actor))
    return audit_view(page, query, viewer, part=part, chunk_size=services.limits.audit_page_size)


async def audit(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    query = parse_audit(command.args or "", services.today(actor))
    text, markup = await _audit_reply(actor, services, query, 0)
    replies.answer(text, reply_markup=markup)


async def audit_page(
    query: CallbackQuery,
    callback_data: AuditPageData,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    filters = AuditQuery(
        member_id=callback_data.mid or None,
        group=callback_data.grp or None,
        since=date.fromordinal(callback_data.since) if callback_data.since > 0 else None,
        until=date.fromordinal(callback_data.until) if callback_data.until > 0 else None,
    )
    text, markup = await _audit_reply(actor, services, filters, callback_data.off, callback_data.pt)
    replies.answer_callback()
    replies.edit(text, markup)


# -- consent and erasure -----------------------------------------------------------------------


async def consent(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    name, value = split_consent(command.args or "")
    resolution = await services.clients.resolve(actor, name)
    if resolution.kind is MatchKind.NONE:
        raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
    if resolution.kind is MatchKind.SEVERAL:
        replies.answer(*view.consent_pick(resolution, value))
        return
    client = await services.privacy.set_consent(actor, resolution.best.id, value)
    replies.answer(view.consent_set_text(client))


async def consent_picked(
    query: CallbackQuery,
    callback_data: SetConsent,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    if callback_data.val not in Consent.__members__.values():
        replies.answer_callback()
        return
    client = await services.privacy.set_consent(
        actor, callback_data.cid, Consent(callback_data.val)
    )
    replies.answer_callback()
    replies.edit(view.consent_set_text(client))


async def forget(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    name = (command.args or "").strip()
    if not name:
        raise ParseError(ErrorCode.FORGET_USAGE)
    # Owner-only before any lookup: others learn nothing about which clients exist.
    require_role(actor, Role.OWNER)
    resolution = await services.clients.resolve(actor, name)
    if resolution.kind is MatchKind.NONE:
        replies.answer(view.forget_nobody(name))
        return
    if resolution.kind is MatchKind.SEVERAL:
        replies.answer(*view.forget_pick(resolution))
        return
    client = await services.privacy.forget_target(actor, resolution.best.id)
    replies.answer(*view.forget_confirm(client))


async def forget_picked(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    """A client picked among several: ask before erasing."""
    client = await services.privacy.forget_target(actor, callback_data.cid)
    replies.answer_callback()
    replies.edit(*view.forget_confirm(client))


async def forget_declined(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    await services.privacy.forget_target(actor, callback_data.cid)
    replies.answer_callback()
    replies.edit(view.forget_kept())


async def forget_confirmed(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    placeholder = await services.privacy.forget(actor, callback_data.cid)
    replies.answer_callback()
    replies.edit(view.forgotten_text(placeholder))


def build_router() -> Router:
    router = Router(name="data_rights")
    router.message.register(export, Command("export"))
    router.message.register(grant, Command("grant", "revoke"))
    router.message.register(audit, Command("audit"))
    router.message.register(consent, Command("consent"))
    router.message.register(forget, Command("forget"))
    router.callback_query.register(audit_page, AuditPageData.filter())
    router.callback_query.register(forget_picked, ForgetClient.filter(F.act == ForgetAct.ASK))
    router.callback_query.register(forget_declined, ForgetClient.filter(F.act == ForgetAct.NO))
    router.callback_query.register(forget_confirmed, ForgetClient.filter(F.act == ForgetAct.YES))
    router.callback_query.register(consent_picked, SetConsent.filter())
    return router
