"""What the runtime tells the Bot API at start and stop: setWebhook, the command menu,
deleteWebhook. Each call is bounded: they must not hold start or stop for a minute (aiogram's
request timeout) while the Bot API hangs, and none of their failures stops the bot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from bot.app import Application

log = logging.getLogger(__name__)

BOT_API_SETUP_SECONDS = 10.0
_FAILURES = (TelegramAPIError, TelegramNetworkError, TimeoutError)


async def register_commands(app: Application) -> None:
    from bot.telegram.menu import register_commands

    try:
        async with asyncio.timeout(BOT_API_SETUP_SECONDS):
            await register_commands(app.bot, app.settings.default_language)
    except _FAILURES as exc:
        log.warning("command menu not registered: %s", type(exc).__name__)
    await set_menu_button(app)


async def set_menu_button(app: Application) -> None:
    """With MINIAPP_URL, the menu button opens the Mini App; a failure is logged, never fatal
    (the chat works without it, and BotFather's button does the same)."""
    from bot.telegram.menu import set_miniapp_button

    url = app.settings.miniapp_url
    if not url:
        return
    try:
        async with asyncio.timeout(BOT_API_SETUP_SECONDS):
            await set_miniapp_button(app.bot, url, app.settings.default_language)
    except _FAILURES as exc:
        log.warning("Mini App menu button not set: %s", type(exc).__name__)
        return
    log.info("Mini App menu button set")


async def announce(app: Application, allowed: list[str]) -> bool:
    """setWebhook (with the secret) and the command menu; False if the Bot API failed."""
    settings = app.settings
    try:
        async with asyncio.timeout(BOT_API_SETUP_SECONDS):
            await app.bot.set_webhook(
                settings.public_webhook_url,
                secret_token=settings.webhook_secret.get_secret_value(),  # type: ignore[union-attr]
                allowed_updates=allowed,
                drop_pending_updates=False,
            )
    except _FAILURES as exc:
        log.error("setWebhook failed: %s", type(exc).__name__)
        return False
    log.info("webhook set", extra={"allowed_updates": ",".join(allowed)})
    await register_commands(app)
    return True


async def announce_until_done(
    app: Application, allowed: list[str], closing: Callable[[], bool]
) -> None:
    delay = 1.0
    while not closing():
        await asyncio.sleep(delay)
        if await announce(app, allowed):
            return
        delay = min(delay * 2, 60.0)


async def forget_webhook_quietly(app: Application) -> None:
    """Before polling: getUpdates is refused while a webhook is set (say, after webhook mode)."""
    with suppress(*_FAILURES):
        async with asyncio.timeout(BOT_API_SETUP_SECONDS):
            await app.bot.delete_webhook(drop_pending_updates=False)


async def delete_webhook(app: Application) -> None:
    try:
        async with asyncio.timeout(BOT_API_SETUP_SECONDS / 2):
            await app.bot.delete_webhook(drop_pending_updates=False)
        log.info("webhook deleted")
    except _FAILURES as exc:
        log.warning("deleteWebhook failed: %s", type(exc).__name__)
