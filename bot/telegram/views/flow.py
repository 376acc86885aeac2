"""What the shared path of the client commands says (handlers/flow.py): which client, which of
several, what is missing, and what was done when the command's own result has no view."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _
from bot.services.matching import Resolution
from bot.telegram.callbacks import CardAct, CardAction
from bot.telegram.views.common import echo, pick_keyboard, temperature_label

View = tuple[str, InlineKeyboardMarkup | None]


def which_client() -> str:
    return _("Which client? Send a name, part of it, or phone digits. /cancel to stop.")


def several_clients(cmd: str, pick_id: str, resolution: Resolution) -> View:
    return _("Several clients match. Which one?"), pick_keyboard(cmd, pick_id, resolution)


def no_client(name: str) -> str:
    return _("No client matches «{name}». To add a new one: <code>/add {name}</code>").format(
        name=echo(name)
    )


def details_question(cmd: str, client_id: int, client_name: str, followup_id: int = 0) -> View:
    """What the command still needs once the client is known; a call offers its two usual
    outcomes as buttons, made for the client's next contact `followup_id` (0: none) as a card's
    are, so a second press or an old question cannot log the call twice."""
    prompts = {
        "call": _(
            "How did the call with <b>{name}</b> go? Write <code>done</code>, "
            "<code>no answer</code>, <code>callback in 2 weeks</code>, <code>refused</code> "
            "or <code>deal 150000</code>."
        ),
        "note": _("Send the note about <b>{name}</b>."),
        "meet": _(
            "When is the meeting with <b>{name}</b>? For example <code>tomorrow 15:00</code>. "
            "If it has already happened, write <code>done</code>."
        ),
        "next": _(
            "When is the next contact with <b>{name}</b>? For example <code>friday</code>, "
            "<code>15.12 10:00</code>, <code>in 2 weeks</code>."
        ),
        "deal": _(
            "What is the deal amount with <b>{name}</b>? "
            "For example <code>150000 margin 30%</code>."
        ),
    }
    markup = None
    if cmd == "call":
        b = InlineKeyboardBuilder()
        b.button(
            text=_("✅ Talked"),
            callback_data=CardAction(act=CardAct.DONE, cid=client_id, fid=followup_id),
        )
        b.button(
            text=_("📵 No answer"),
            callback_data=CardAction(act=CardAct.NO_ANSWER, cid=client_id, fid=followup_id),
        )
        markup = b.as_markup()
    text = prompts[cmd].format(name=escape(client_name)) + "\n" + _("/cancel to stop.")
    return text, markup


def note_saved(name: str) -> str:
    return _("📝 Note about <b>{name}</b> saved.").format(name=escape(name))


def temperature_changed(name: str, temperature: str) -> str:
    return _("<b>{name}</b> is now {temperature}.").format(
        name=escape(name), temperature=temperature_label(temperature)
    )
