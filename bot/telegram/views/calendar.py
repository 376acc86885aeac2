"""`/calendar`: the private feed's address once, how to subscribe on a phone, and its state."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _, fmt_datetime
from bot.telegram.callbacks import CalendarAct, CalendarAction


def feed_keyboard() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=_("🔄 New link"), callback_data=CalendarAction(act=CalendarAct.NEW))
    b.button(text=_("⛔ Turn off"), callback_data=CalendarAction(act=CalendarAct.OFF))
    b.adjust(2)
    return b.as_markup()


def feed_link_text(url: str, zone: str, *, replaced: bool) -> str:
    head = (
        _("📅 Here is your new calendar link. The old one no longer works.")
        if replaced
        else _("📅 Your private calendar feed is on.")
    )
    return "\n\n".join(
        (
            head,
            _("Subscribe to this address in your phone's calendar:\n<code>{url}</code>").format(
                url=escape(url)
            ),
            _(
                "<b>iPhone:</b> Settings → Calendar → Accounts → Add Account → Other → "
                "Add Subscribed Calendar, paste the address (on iOS 18 Calendar is under "
                "Settings → Apps).\n"
                "<b>Android, Google Calendar:</b> on a computer open calendar.google.com → "
                "Other calendars → + → From URL, paste the address; the events then appear "
                "in the Google Calendar app. Google refreshes such calendars every few hours."
            ),
            _(
                "It shows your next contacts and meetings with the client's name, what for and "
                "a link back to the card, in your time zone ({zone}), and follows their changes."
            ).format(zone=escape(zone)),
            _(
                "Keep the address to yourself: anyone who has it sees these events. I show it "
                "only now. /calendar new makes a new one, /calendar off turns the feed off."
            ),
        )
    )


def feed_on_text(since: datetime, zone: ZoneInfo) -> str:
    return _(
        "📅 Your calendar feed is on since {since}.\n\n"
        "I keep only a fingerprint of its address, so I cannot show it again: it is in the "
        "message I sent then. Lost it? «New link» makes a new address, and the old one stops "
        "working."
    ).format(since=fmt_datetime(since.astimezone(zone)))


def feed_off_text() -> str:
    return _(
        "⛔ Calendar feed turned off: its address no longer works, and your calendar app will "
        "drop the events at its next refresh. /calendar turns it on again with a new address."
    )


def feed_already_off_text() -> str:
    return _("Your calendar feed is already off. /calendar turns it on.")


def no_address_text() -> str:
    return _(
        "The calendar feed is not available on this bot yet: it needs the bot's public web "
        "address, which the administrator sets (PUBLIC_URL). Please ask them to set it."
    )
