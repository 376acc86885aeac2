"""What Telegram would answer to a request, built locally (for buffered replies and the
in-memory Bot API)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiogram import Bot
from aiogram.methods import GetMe, TelegramMethod

from bot.telegram.sessions import response_type

_message_ids = itertools.count(1000)


def raw_result(bot: Bot, method: TelegramMethod[Any], *, bot_username: str = "salesbot") -> Any:
    if isinstance(method, GetMe):
        return {"id": bot.id, "is_bot": True, "first_name": "Salesbot", "username": bot_username}
    returning = repr(method.__returning__)
    if "MessageId" in returning:
        return {"message_id": next(_message_ids)}
    if "Message" in returning:
        return _message_for(method)
    if "list" in returning.lower():
        return []
    return True


def synthetic_result(bot: Bot, method: TelegramMethod[Any], **kwargs: Any) -> Any:
    response = response_type(method.__returning__).model_validate(
        {"ok": True, "result": raw_result(bot, method, **kwargs)}, context={"bot": bot}
    )
    return response.result


def _message_for(method: TelegramMethod[Any]) -> dict[str, Any]:
    chat_id = getattr(method, "chat_id", None) or 0
    message_id = getattr(method, "message_id", None) or next(_message_ids)
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id if isinstance(chat_id, int) else 0, "type": "private"},
    }
    text = getattr(method, "text", None)
    if isinstance(text, str):
        message["text"] = text
    markup = getattr(method, "reply_markup", None)
    if markup is not None and hasattr(markup, "inline_keyboard"):
        message["reply_markup"] = markup.model_dump(mode="json", exclude_none=True)
    return message
