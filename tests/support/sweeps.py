"""The delivery sweep as tests drive it (no waiting, no rate limit) and what it pushed; times
given on Moscow's wall clock, where the tests' teams live."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.methods import SendMessage

from bot.jobs.sweep import DeliverySweep
from bot.services.weekly import WeeklyReports
from bot.telegram.notifier import TelegramNotifier
from bot.telegram.sender import RateLimiter, Sender
from tests.support.harness import BotHarness


def moscow(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour - 3, minute, tzinfo=UTC)


def make_sweep(h: BotHarness, owner: str | None = None) -> DeliverySweep:
    async def no_wait(_seconds: float) -> None:
        return None

    limiter = RateLimiter(per_second=10_000, per_chat_interval=0, sleep=no_wait)
    sender = Sender(h.app.bot, limiter, sleep=no_wait)
    notifier = TelegramNotifier(sender, h.clock, "en")
    settings = h.app.settings
    weekly = WeeklyReports(h.clock, settings.analytics, settings.limits, settings.rules)
    return DeliverySweep(
        h.uow_factory, h.clock, notifier, settings.delivery, owner=owner, weekly=weekly
    )


def pushes(h: BotHarness, chat_id: int) -> list[SendMessage]:
    return [m for m in h.session.sent(SendMessage) if m.chat_id == chat_id and "🔔" in m.text]
