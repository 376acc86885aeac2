"""The base's protection: `/export`, `/grant` `/revoke export`, `/audit`, `/consent`, `/forget`."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import ErrorCode
from bot.i18n import _, fmt_number
from bot.parsing.data_rights import parse_audit, parse_export, split_consent
from bot.parsing.errors import ParseError
from bot.services.access import require_role
from bot.services.audit import AuditQuery
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.export import ExportLabels
from bot.services.hub import Services
from bot.services.matching import MatchKind
from bot.telegram.audit_render import audit_view
from bot.telegram.callbacks import AuditPage as AuditPageData
from bot.telegram.callbacks import ForgetAct, ForgetClient, SetConsent
from bot.telegram.render import Viewer, consent_label, echo, outcome_label, stage_label
from bot.telegram.replies import Replies
from storage.enums import Consent, Role

# -- export ------------------------------------------------------------------------------------


def _value_label(field: str, value: str) -> str:
    if field == "consent":
        return consent_label(value)
    if field == "temperature":
        return {"hot": _("hot"), "warm": _("warm"), "cold": _("cold")}.get(value, value)
    if field == "stage":
        return stage_label(value)
    if field == "kind":
        return outcome_label(value, None) if value != "call" else _("call")
    if field == "outcome":
        return outcome_label("call", value)
    return value


def export_labels() -> ExportLabels:
    return ExportLabels(
        client_sheet=_("Clients"),
        activity_sheet=_("Activities"),
        client_headers=[
            "ID",
            _("Name"),
            _("Contact"),
            _("Position"),
            _("Phones"),
            _("Email"),
            _("Website"),
            _("City"),
            _("Address"),
            _("Birthday"),
            _("Source"),
            _("Referred by"),
            _("Segment"),
            _("Tags"),
            _("Consent"),
            _("Temperature"),
            _("Stage"),
            _("Potential"),
            _("First deal"),
            _("Manager"),
            _("Next contact"),
            _("Last contact"),
            _("Created"),
        ],
        activity_headers=[
            _("Client ID"),
            _("Client"),
            _("When"),
            _("Kind"),
            _("Result"),
            _("Text"),
            _("Author"),
        ],
        value=_value_label,
    )


async def export(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    limits = services.ctx.limits
    request = parse_export(command.args or "", max_tag_chars=limits.max_tag_chars)
    result = await services.export.export(actor, request, export_labels())
    caption = _("📤 {rows} clients exported.").format(rows=fmt_number(result.clients))
    if request.activities:
        caption += " " + _("With {count} activities.").format(count=fmt_number(result.activities))
    for file in result.files:
        replies.document(BufferedInputFile(file.data, filename=file.filename))
    replies.answer(
        caption + "\n" + _("The file holds personal data: keep it safe and do not forward it.")
    )


async def grant(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    allowed = command.command.lower() == "grant"
    words = (command.args or "").split()
    if len(words) < 2 or words[0].casefold() not in ("export", "экспорт"):
        raise ParseError(ErrorCode.GRANT_USAGE)
    member = await services.export.set_grant(actor, " ".join(words[1:]), allowed)
    text = (
        _("<b>{name}</b> may now export clients with /export. You will be told about each export.")
        if allowed
        else _("<b>{name}</b> can no longer export clients.")
    )
    replies.answer(text.format(name=escape(member.full_name)))


# -- audit -------------------------------------------------------------------------------------


async def _audit_reply(
    actor: Actor,
    services: Services,
    query: AuditQuery,
    offset: int,
    part: int = 0,
) -> tuple[str, InlineKeyboardMarkup | None]:
    page = await services.audit.page(actor, query, offset)
    viewer = Viewer(actor.zone, services.ctx.local_now(actor).date())
    size = services.ctx.limits.audit_page_size
    return audit_view(page, query, viewer, part=part, chunk_size=size)


async def audit(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    today = services.ctx.local_now(actor).date()
    query = parse_audit(command.args or "", today)
    text, markup = await _audit_reply(actor, services, query, 0)
    replies.answer(text, reply_markup=markup)


async def audit_page(
    query: CallbackQuery,
    callback_data: AuditPageData,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    if query.message is None:
        replies.answer_callback()
        return
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
        b = InlineKeyboardBuilder()
        for match in resolution.matches:
            b.button(
                text=match.candidate.name[:60],
                callback_data=SetConsent(cid=match.candidate.id, val=value),
            )
        b.adjust(1)
        replies.answer(_("Several clients match. Which one?"), reply_markup=b.as_markup())
        return
    replies.answer(await _consent_set(actor, services, resolution.best.id, value))


async def _consent_set(actor: Actor, services: Services, client_id: int, value: Consent) -> str:
    client = await services.privacy.set_consent(actor, client_id, value)
    return _("Consent of <b>{name}</b> to data processing: {consent}.").format(
        name=escape(client.name), consent=consent_label(client.consent)
    )


async def consent_picked(
    query: CallbackQuery,
    callback_data: SetConsent,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    if callback_data.val not in Consent.__members__.values() or query.message is None:
        replies.answer_callback()
        return
    text = await _consent_set(actor, services, callback_data.cid, Consent(callback_data.val))
    replies.answer_callback()
    replies.edit(text)


def _confirm_text(name: str) -> str:
    return _(
        "Erase the personal data of <b>{name}</b>? Name, contacts, phones, notes and planned "
        "reminders are deleted for good; deal sums stay, anonymised, for the analytics. "
        "This cannot be undone."
    ).format(name=escape(name))


def _confirm_keyboard(client_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=_("🗑 Erase"), callback_data=ForgetClient(act=ForgetAct.YES, cid=client_id))
    b.button(text=_("Keep"), callback_data=ForgetClient(act=ForgetAct.NO, cid=client_id))
    return b.as_markup()


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
        replies.answer(_("No client matches «{name}».").format(name=echo(name)))
        return
    if resolution.kind is MatchKind.SEVERAL:
        b = InlineKeyboardBuilder()
        for match in resolution.matches:
            b.button(
                text=match.candidate.name[:60],
                callback_data=ForgetClient(act=ForgetAct.ASK, cid=match.candidate.id),
            )
        b.adjust(1)
        replies.answer(_("Several clients match. Which one?"), reply_markup=b.as_markup())
        return
    client = await services.privacy.forget_target(actor, resolution.best.id)
    text = _confirm_text(client.name)
    replies.answer(text, reply_markup=_confirm_keyboard(client.id))


async def forget_picked(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    """A client picked among several: ask before erasing."""
    if query.message is None:
        replies.answer_callback()
        return
    client = await services.privacy.forget_target(actor, callback_data.cid)
    text = _confirm_text(client.name)
    replies.answer_callback()
    replies.edit(text, _confirm_keyboard(client.id))


async def forget_declined(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    if query.message is None:
        replies.answer_callback()
        return
    await services.privacy.forget_target(actor, callback_data.cid)
    replies.answer_callback()
    replies.edit(_("Nothing was erased."))


async def forget_confirmed(
    query: CallbackQuery,
    callback_data: ForgetClient,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    if query.message is None:
        replies.answer_callback()
        return
    placeholder = await services.privacy.forget(actor, callback_data.cid)
    replies.answer_callback()
    # The confirmation quoted the name: it is replaced, so the chat keeps no copy either.
    replies.edit(
        _(
            "🗑 Personal data erased. The client stays in the numbers as «{placeholder}»; "
            "reminders about them are cancelled. The audit log records the erasure."
        ).format(placeholder=escape(placeholder))
    )


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
