"""The questions of `/transfer` step by step: whose clients, to whom, all or some (the summary
after the move is bot/telegram/views/team.py's transferred_text)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _
from bot.telegram.callbacks import TransferPick, TransferStep
from storage.dto import MemberDTO

View = tuple[str, InlineKeyboardMarkup]


def nobody_holds_clients() -> str:
    return _("Nobody in the team has clients yet.")


def ask_source(holders: Sequence[MemberDTO]) -> View:
    b = InlineKeyboardBuilder()
    for member in holders:
        mark = "" if member.is_active else "🚫 "
        b.button(
            text=f"{mark}{member.full_name[:40]}",
            callback_data=TransferPick(step=TransferStep.FROM, mid=member.id),
        )
    b.adjust(1)
    text = _("Whose clients do you move? Press a member or write the name. /cancel to stop.")
    return text, b.as_markup()


def ask_target(source: MemberDTO, count: int, receivers: Sequence[MemberDTO]) -> View:
    b = InlineKeyboardBuilder()
    for member in receivers:
        b.button(
            text=f"➡️ {member.full_name[:40]}",
            callback_data=TransferPick(step=TransferStep.TO, mid=member.id),
        )
    b.adjust(1)
    text = _(
        "To whom do the clients of <b>{name}</b> ({count}) go? Press or write the name."
    ).format(name=escape(source.full_name), count=count)
    return text, b.as_markup()


def ask_clients(source: MemberDTO, target: MemberDTO) -> View:
    b = InlineKeyboardBuilder()
    b.button(
        text=_("All of them"), callback_data=TransferPick(step=TransferStep.ALL, mid=target.id)
    )
    text = _(
        "All clients of <b>{source}</b> go to <b>{target}</b>, or only some? Press "
        "<b>All of them</b> or send the names separated by commas."
    ).format(source=escape(source.full_name), target=escape(target.full_name))
    return text, b.as_markup()
