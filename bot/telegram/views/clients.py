"""What `/add` answers: the client added, or the clients it probably duplicates."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _, ngettext
from bot.services.clients import AddedClient
from bot.telegram.callbacks import AddAnyway, CardAct, CardAction
from bot.telegram.views.common import Viewer, temperature_label, when_text
from storage.dto import ClientDTO


def added_text(added: AddedClient, viewer: Viewer) -> str:
    client = added.client
    return _(
        "➕ Client <b>{name}</b> added ({temperature}). First contact: {when}.\n"
        "Log it: <code>/call {short} done</code> · card: <code>/client {short}</code>"
    ).format(
        name=escape(client.name),
        temperature=temperature_label(client.temperature),
        when=when_text(added.followup, viewer),
        short=escape(client.name.split()[0]),
    )


def duplicate_text(name: str, duplicates: list[ClientDTO]) -> str:
    head = ngettext(
        "⚠️ You already have a client with this name, phone or email:",
        "⚠️ You already have clients with this name, phone or email:",
        len(duplicates),
    )
    lines = [head, *(f"• <b>{escape(client.name)}</b>" for client in duplicates)]
    lines.append("")
    lines.append(
        _("Open the existing card, or add «{name}» as a new client anyway.").format(
            name=escape(name[:60])
        )
    )
    return "\n".join(lines)


def duplicate_keyboard(duplicates: list[ClientDTO], token: str) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for client in duplicates:
        b.button(
            text=_("📇 {name}").format(name=client.name[:60]),
            callback_data=CardAction(act=CardAct.OPEN, cid=client.id),
        )
    b.button(text=_("➕ Add anyway"), callback_data=AddAnyway(tok=token))
    b.adjust(1)
    return b.as_markup()
