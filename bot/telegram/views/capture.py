"""What the bot answers to a contact shared from the phone and to a forwarded message
(handlers/capture.py): one answer per batch, edited as more arrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.errors import ErrorCode
from bot.i18n import _, fmt_datetime, ngettext
from bot.services.capture import ContactStatus
from bot.telegram.callbacks import (
    CardAct,
    CardAction,
    ContactAct,
    ForwardedNote,
    NoteAct,
    SharedContacts,
)
from bot.telegram.error_texts import error_text
from bot.telegram.views.common import Viewer, snippet
from storage.dto import ClientDTO

# A batch of 50 contacts must fit one message: names and phones are cut in its lines.
_NAME = 40
_PHONE = 24
_BUTTON = 60
ADDED = "added"  # a contact of the batch the member has added (beside ContactStatus)


@dataclass(frozen=True, slots=True)
class ContactLine:
    """One contact of a batch as the answer shows it."""

    name: str
    phone: str | None
    status: str  # a ContactStatus value, or ADDED
    client_id: int = 0  # the client it is (YOURS) or became (ADDED)
    client_name: str = ""


View = tuple[str, InlineKeyboardMarkup | None]


def _who(line: ContactLine) -> str:
    text = f"<b>{snippet(line.name, _NAME)}</b>"
    if line.phone:
        text += f", {snippet(line.phone, _PHONE)}"
    return text


def contacts_view(lines: list[ContactLine], token: str) -> View:
    if len(lines) == 1:
        return _one_contact(lines[0], token)
    sections = (
        (ADDED, _("Added as clients:")),
        (ContactStatus.NEW, _("New, not added yet:")),
        (ContactStatus.YOURS, _("Already your clients:")),
        (
            ContactStatus.TAKEN,
            _("In the team's base with another manager (not added; ask the head of sales):"),
        ),
        (ContactStatus.NO_PHONE, _("Without a phone number (not added):")),
    )
    parts = [
        ngettext(
            "📇 {count} contact received.", "📇 {count} contacts received.", len(lines)
        ).format(count=len(lines))
    ]
    for status, head in sections:
        chosen = [line for line in lines if line.status == status]
        if chosen:
            parts.append("\n" + head)
            parts.extend(f"• {_who(line)}" for line in chosen)
    return "\n".join(parts), _contacts_keyboard(lines, token)


def _one_contact(line: ContactLine, token: str) -> View:
    who = _who(line)
    if line.status == ContactStatus.NEW:
        text = _("📇 {who}\nAdd as a new client?").format(who=who)
    elif line.status in (ContactStatus.YOURS, ADDED):
        text = _("📇 {who} is already your client <b>{name}</b>.").format(
            who=who, name=escape(line.client_name)
        )
    elif line.status == ContactStatus.TAKEN:
        text = f"📇 {who}\n" + error_text(ErrorCode.DUPLICATE_PHONE, {})
    else:
        text = no_phone_text(line.name)
    return text, _contacts_keyboard([line], token)


def no_phone_text(name: str) -> str:
    return _(
        "📇 <b>{name}</b>: the shared contact has no phone number, so I cannot add it as a "
        "client. Share a contact with a phone, or type the client: "
        "<code>/add {name}, +7 999 123-45-67</code>"
    ).format(name=snippet(name, _NAME))


def _contacts_keyboard(lines: list[ContactLine], token: str) -> InlineKeyboardMarkup | None:
    b = InlineKeyboardBuilder()
    new = [index for index, line in enumerate(lines) if line.status == ContactStatus.NEW]
    if len(lines) == 1 and new:
        b.button(
            text=_("➕ Add client"), callback_data=SharedContacts(act=ContactAct.ALL, tok=token)
        )
    elif len(new) > 1:
        b.button(
            text=ngettext(
                "➕ Add {count} new client", "➕ Add all {count} new clients", len(new)
            ).format(count=len(new)),
            callback_data=SharedContacts(act=ContactAct.ALL, tok=token),
        )
    if len(lines) > 1:
        for index in new:
            b.button(
                text=_("➕ {name}").format(name=lines[index].name[:_BUTTON]),
                callback_data=SharedContacts(act=ContactAct.ONE, tok=token, i=index),
            )
    opened: set[int] = set()
    for line in lines:
        if line.status in (ContactStatus.YOURS, ADDED) and line.client_id not in opened:
            opened.add(line.client_id)
            b.button(
                text=_("📇 {name}").format(name=line.client_name[:_BUTTON]),
                callback_data=CardAction(act=CardAct.OPEN, cid=line.client_id),
            )
    if new:
        b.button(text=_("✖️ Cancel"), callback_data=SharedContacts(act=ContactAct.DROP, tok=token))
    b.adjust(1)
    markup = b.as_markup()
    return markup if markup.inline_keyboard else None


def batch_full(limit: int) -> str:
    return ngettext(
        "One answer takes at most {count} item. Finish this one (add, or cancel) and send the "
        "rest again.",
        "One answer takes at most {count} items. Finish this one (add, or cancel) and send the "
        "rest again.",
        limit,
    ).format(count=limit)


# -- forwarded messages ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The forwarded messages waiting for a client, as the question shows them."""

    count: int
    senders: list[str]
    first: datetime  # UTC
    last: datetime


def _when(moment: datetime, viewer: Viewer) -> str:
    return fmt_datetime(moment.astimezone(viewer.zone), viewer.today)


def _span(batch: Forwarded, viewer: Viewer) -> str:
    first, last = _when(batch.first, viewer), _when(batch.last, viewer)
    return first if first == last else f"{first} – {last}"


def forward_question(
    batch: Forwarded, suggestions: list[ClientDTO], token: str, viewer: Viewer
) -> View:
    senders = ", ".join(f"<b>{snippet(name, _NAME)}</b>" for name in batch.senders[:3])
    if batch.count == 1:
        head = (
            _("✉️ A message from {sender}, written {when}.")
            if senders
            else _("✉️ A forwarded message, written {when}.")
        )
        ask = _("Save it as a note about which client?")
    else:
        head = (
            ngettext(
                "✉️ {count} message from {sender}, written {when}.",
                "✉️ {count} messages from {sender}, written {when}.",
                batch.count,
            )
            if senders
            else ngettext(
                "✉️ {count} forwarded message, written {when}.",
                "✉️ {count} forwarded messages, written {when}.",
                batch.count,
            )
        )
        ask = _("Save them as notes (one per message, each with its date) about which client?")
    text = head.format(count=batch.count, sender=senders, when=_span(batch, viewer)) + "\n" + ask
    if not suggestions:
        text += "\n" + _("No client of yours has the sender's name: press «Another client».")
    b = InlineKeyboardBuilder()
    for client in suggestions:
        b.button(
            text=_("📝 {name}").format(name=client.name[:_BUTTON]),
            callback_data=ForwardedNote(act=NoteAct.TO, tok=token, cid=client.id),
        )
    b.button(text=_("🔎 Another client"), callback_data=ForwardedNote(act=NoteAct.OTHER, tok=token))
    b.button(text=_("✖️ Cancel"), callback_data=ForwardedNote(act=NoteAct.DROP, tok=token))
    b.adjust(1)
    return text, b.as_markup()


def pick_for_notes(clients: list[tuple[int, str]], token: str) -> View:
    b = InlineKeyboardBuilder()
    for client_id, name in clients:
        b.button(
            text=name[:_BUTTON],
            callback_data=ForwardedNote(act=NoteAct.TO, tok=token, cid=client_id),
        )
    b.button(text=_("✖️ Cancel"), callback_data=ForwardedNote(act=NoteAct.DROP, tok=token))
    b.adjust(1)
    return _("Several clients match. Which one?"), b.as_markup()


def no_client_for_notes(name: str) -> str:
    return _("No client matches «{name}». Send another name, or /cancel.").format(
        name=snippet(" ".join(name.split()), 60)
    )


def notes_saved(name: str, batch: Forwarded, viewer: Viewer) -> str:
    return ngettext(
        "📝 Note about <b>{name}</b> saved, dated as written: {when}.",
        "📝 {count} notes about <b>{name}</b> saved, dated as written: {when}.",
        batch.count,
    ).format(count=batch.count, name=escape(name), when=_span(batch, viewer))


def no_text_forward() -> str:
    return _(
        "Only text can become a note, and this forwarded message has none (a sticker, a voice "
        "message, a photo without a caption…). Forward a text message, or one with a caption."
    )


def cancelled() -> str:
    return _("Cancelled. Nothing was saved.")


def cancelled_rest() -> str:
    return _("Cancelled: the other contacts were not added.")
