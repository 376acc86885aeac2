"""Turns an owed reminder into a Telegram push in the member's language, through the Sender."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.i18n import pick_language, use_locale
from bot.services.reminders import Reminder
from bot.telegram.render import Viewer, reminder_keyboard, reminder_text
from bot.telegram.sender import Delivery, Sender


class TelegramNotifier:
    def __init__(self, sender: Sender, clock: Clock, default_language: str) -> None:
        self._sender = sender
        self._clock = clock
        self._default_language = default_language

    async def remind(self, reminder: Reminder) -> Delivery:
        member = reminder.member
        zone = ZoneInfo(member.timezone)
        # No update, so no locale from one: the member's own choice, then their Telegram's.
        language = pick_language(
            member.language, member.telegram_language, default=self._default_language
        )
        with use_locale(language):
            viewer = Viewer(zone, self._clock.now().astimezone(zone).date())
            text = reminder_text(reminder, viewer)
            markup = reminder_keyboard(reminder.followup.id)
        return await self._sender.send(member.telegram_id, text, reply_markup=markup)
