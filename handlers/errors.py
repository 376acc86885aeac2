"""The last line: an unexpected failure is logged and the member hears that nothing was saved."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent

from bot.i18n import _
from bot.telegram.replies import Replies
from storage.db import is_unavailable

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
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
    # The update's transaction is over (rolled back) and its own replies dropped: this one goes
    # at once. A failure to deliver it is logged by the flush.
    replies = Replies(bot, update)
    if update.message is not None:
        replies.answer(text)
    elif update.callback_query is not None:
        replies.answer_callback(text, show_alert=True)
    await replies.flush()
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
