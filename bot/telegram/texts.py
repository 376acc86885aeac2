"""Message texts that more than one handler uses; error codes' sentences are in error_texts."""

from __future__ import annotations

from bot.telegram.error_texts import error_text
from bot.telegram.paging import split_text

# Handlers split long replies with this; it lives with Telegram's limits in bot.telegram.paging.
__all__ = ["error_text", "split_text"]
