"""Turns an owed reminder into a Telegram push in the member's language, through the Sender."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.i18n import pick_language, use_locale
from bot.services.alerts import Alert
from bot.services.digest import Digest, Notice, Nudge
from bot.services.reminders import Reminder
from bot.services.weekly import Weekly
from bot.telegram.paging import split_text
from bot.telegram.sender import Delivery, Outcome, Sender
from bot.telegram.views.alerts import alert_text
from bot.telegram.views.common import (
    Viewer,
    digest_text,
    notice_text,
    nudge_text,
    reminder_keyboard,
    reminder_text,
)
from bot.telegram.views.weekly import weekly_keyboard, weekly_text


class TelegramNotifier:
    def __init__(self, sender: Sender, clock: Clock, default_language: str) -> None:
        self._sender = sender
        self._clock = clock
        self._default_language = default_language

    async def deliver(
        self, content: Reminder | Digest | Nudge | Notice | Alert | Weekly
    ) -> Delivery:
        member = content.member
        zone = ZoneInfo(member.timezone)
        # No update, so no locale from one: the member's own choice, then their Telegram's.
        language = pick_language(
            member.language, member.telegram_language, default=self._default_language
        )
        with use_locale(language):
            viewer = Viewer(zone, self._clock.now().astimezone(zone).date())
            if isinstance(content, Reminder):
                chunks = [reminder_text(content, viewer)]
                markup = reminder_keyboard(content.followup.id)
            elif isinstance(content, Digest):
                chunks = split_text(digest_text(content, viewer))
                markup = None
            elif isinstance(content, Weekly):
                # One message, fitted to the limit by the view.
                chunks = [weekly_text(content, viewer)]
                markup = weekly_keyboard(content)
            elif isinstance(content, Nudge):
                chunks = [nudge_text(content)]
                markup = None
            elif isinstance(content, Alert):
                text = alert_text(content)
                if text is None:
                    return Delivery(Outcome.REJECTED, error=f"unknown alert {content.step!r}")
                chunks = split_text(text)
                markup = None
            else:
                chunks = [notice_text(content)]
                markup = None
        delivery = Delivery(Outcome.SENT)
        sent: list[int] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            delivery = await self._sender.send(
                member.telegram_id, chunk, reply_markup=markup if last else None
            )
            if delivery.outcome != Outcome.SENT:
                # A digest cut short is retried whole later: better twice the start than a gap.
                return delivery
            if delivery.message_id is not None:
                sent.append(delivery.message_id)
        # A reply to any part of a long digest is a reply to the digest (sweep: sent_messages).
        return replace(delivery, message_ids=tuple(sent))
