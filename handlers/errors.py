"""The last line: an unexpected failure is logged and the member hears that nothing was saved."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bot.i18n import _
from storage.db import is_unavailable

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent) -> bool:
    update = event.update
    # Type and update id only at error level: exception text may quote client data.
    log.error(
        "update %s failed: %s",
        update.update_id,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    if is_unavailable(event.exception):
        text = _(
            "The database is not answering right now. Nothing was saved; please try again "
            "in a minute."
        )
    else:
        text = _("Something went wrong. Nothing was saved; please try again.")
    try:
        if update.message is not None:
            await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except TelegramAPIError:
        log.warning("could not tell the member about failed update %s", update.update_id)
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
