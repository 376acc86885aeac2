"""What `/export`, `/grant`, `/consent` and `/forget` show: the file's words, the captions, the
pick among several clients and the erasure's confirmation (`/audit` is views/audit.py)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _, fmt_number, ngettext
from bot.services.export import ExportLabels, ExportResult, client_headers
from bot.services.matching import Resolution
from bot.telegram.callbacks import ForgetAct, ForgetClient, SetConsent
from bot.telegram.views.common import consent_label, echo, outcome_label, stage_label
from storage.dto import ClientDTO
from storage.enums import Consent

View = tuple[str, InlineKeyboardMarkup | None]

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
        client_headers=client_headers(_),
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


def exported_caption(result: ExportResult, with_activities: bool) -> str:
    caption = ngettext(
        "📤 {rows} client exported.", "📤 {rows} clients exported.", result.clients
    ).format(rows=fmt_number(result.clients))
    if with_activities:
        caption += " " + ngettext(
            "With {count} activity.", "With {count} activities.", result.activities
        ).format(count=fmt_number(result.activities))
    return caption + "\n" + _("The file holds personal data: keep it safe and do not forward it.")


def grant_text(name: str, allowed: bool) -> str:
    text = (
        _("<b>{name}</b> may now export clients with /export. You will be told about each export.")
        if allowed
        else _("<b>{name}</b> can no longer export clients.")
    )
    return text.format(name=escape(name))


# -- consent and erasure -----------------------------------------------------------------------


def _pick(resolution: Resolution, button: Callable[[int], CallbackData]) -> View:
    b = InlineKeyboardBuilder()
    for match in resolution.matches:
        b.button(text=match.candidate.name[:60], callback_data=button(match.candidate.id))
    b.adjust(1)
    return _("Several clients match. Which one?"), b.as_markup()


def consent_pick(resolution: Resolution, value: Consent) -> View:
    return _pick(resolution, lambda client_id: SetConsent(cid=client_id, val=value))


def consent_set_text(client: ClientDTO) -> str:
    return _("Consent of <b>{name}</b> to data processing: {consent}.").format(
        name=escape(client.name), consent=consent_label(client.consent)
    )


def forget_pick(resolution: Resolution) -> View:
    return _pick(resolution, lambda client_id: ForgetClient(act=ForgetAct.ASK, cid=client_id))


def forget_nobody(name: str) -> str:
    return _("No client matches «{name}».").format(name=echo(name))


def forget_confirm(client: ClientDTO) -> View:
    text = _(
        "Erase the personal data of <b>{name}</b>? Name, contacts, phones, notes and planned "
        "reminders are deleted for good; deal sums stay, anonymised, for the analytics. "
        "This cannot be undone."
    ).format(name=escape(client.name))
    b = InlineKeyboardBuilder()
    b.button(text=_("🗑 Erase"), callback_data=ForgetClient(act=ForgetAct.YES, cid=client.id))
    b.button(text=_("Keep"), callback_data=ForgetClient(act=ForgetAct.NO, cid=client.id))
    return text, b.as_markup()


def forget_kept() -> str:
    return _("Nothing was erased.")


def forgotten_text(placeholder: str) -> str:
    # Replaces the confirmation, which quoted the name: the chat keeps no copy of it either.
    return _(
        "🗑 Personal data erased. The client stays in the numbers as «{placeholder}»; "
        "reminders about them are cancelled. The audit log records the erasure."
    ).format(placeholder=escape(placeholder))
