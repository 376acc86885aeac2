"""Bot API sessions that keep pydantic's parametrised `Response[...]` classes alive.

aiogram builds `Response[method.__returning__]` for every reply. pydantic caches that class only
weakly; under load it is collected and rebuilt each time (several milliseconds of CPU per
request, seen in bench/). A strong reference per return type keeps the cache hit.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

_RESPONSE_TYPES: dict[Any, Any] = {}


def response_type(returning: Any) -> Any:
    cached = _RESPONSE_TYPES.get(returning)
    if cached is None:
        cached = _RESPONSE_TYPES[returning] = Response[returning]  # type: ignore[valid-type]
    return cached


class TelegramSession(AiohttpSession):
    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        response_type(method.__returning__)
        return super().check_response(bot, method, status_code, content)
