"""What a reply to a push, a card or a digest is answered with when it cannot simply be logged
(handlers/reply_log.py); a logged one gets the same answer as `/call` and `/note`."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _, ngettext
from bot.telegram.callbacks import ReplyPick
from bot.telegram.views.common import echo
from storage.dto import ClientDTO

# Buttons under "which client?": a digest names at most about forty; Telegram takes 100.
PICK_LIMIT = 40
BUTTON_CHARS = 60


def pick_text(quoted: bool, total: int) -> str:
    if quoted:
        text = _(
            "The quoted part names several clients of the digest, or none. Which client is "
            "your reply about?"
        )
    else:
        text = _(
            "The digest names several clients. Which one is your reply about? "
            "(Next time, quote the client's name in your reply.)"
        )
    hidden = total - PICK_LIMIT
    if hidden > 0:
        text += "\n" + ngettext(
            "{count} more client is not shown: for them use <code>/call</code> or "
            "<code>/note</code> with the name.",
            "{count} more clients are not shown: for them use <code>/call</code> or "
            "<code>/note</code> with the name.",
            hidden,
        ).format(count=hidden)
    return text


def pick_keyboard(clients: list[ClientDTO], token: str) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for client in clients[:PICK_LIMIT]:
        b.button(text=client.name[:BUTTON_CHARS], callback_data=ReplyPick(tok=token, cid=client.id))
    b.adjust(1)
    return b.as_markup()


def only_text() -> str:
    return _(
        "I log only text replies. Reply with words: <code>done</code>, <code>no answer</code>, "
        "<code>callback in a week</code>, <code>deal 150k</code>, or any note."
    )


def not_about_a_client() -> str:
    return _(
        "This message is not about a client, so a reply to it is not logged. Reply to a "
        "reminder, a client card or the morning digest, or use <code>/call</code> and "
        "<code>/note</code>."
    )


def no_clients_left() -> str:
    return _(
        "None of the clients of this digest is yours any more, so nothing was saved. "
        "Use <code>/call</code> or <code>/note</code> with the name."
    )


def pick_expired() -> str:
    return _("This choice has expired. Reply to the message again.")


def quoted(text: str) -> str:
    """The member's words, shown back under the question (short and escaped)."""
    return _("Your reply: «{text}»").format(text=echo(text))
