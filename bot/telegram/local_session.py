"""A Bot API that lives in memory: records every request and answers like Telegram would.

Used by the console playground, the tests and the benchmarks, so all three drive the real
Dispatcher and the real handlers with no network.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import GetMe, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.telegram.sessions import response_type


@dataclass
class PlannedFailure:
    method: type[TelegramMethod[Any]] | None
    status: int
    description: str
    retry_after: int | None = None


class LocalSession(BaseSession):
    def __init__(
        self,
        *,
        bot_username: str = "salesbot_local",
        on_request: Callable[[TelegramMethod[Any]], None] | None = None,
    ) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.bot_username = bot_username
        self.on_request = on_request
        self._failures: deque[PlannedFailure] = deque()
        self._message_ids = itertools.count(1000)

    def fail_next(
        self,
        status: int,
        description: str,
        *,
        method: type[TelegramMethod[Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next matching request gets this error instead of a result."""
        self._failures.append(PlannedFailure(method, status, description, retry_after))

    def sent(self, method: type[TelegramMethod[Any]]) -> list[Any]:
        return [request for request in self.requests if isinstance(request, method)]

    def clear(self) -> None:
        self.requests.clear()

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        if self.on_request is not None:
            self.on_request(method)
        failure = self._take_failure(method)
        if failure is not None:
            response_type(method.__returning__)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            self.check_response(bot, method, failure.status, json.dumps(body))
        result = self._result_for(bot, method)
        response = response_type(method.__returning__).model_validate(
            {"ok": True, "result": result}, context={"bot": bot}
        )
        return response.result  # type: ignore[return-value]

    def _take_failure(self, method: TelegramMethod[Any]) -> PlannedFailure | None:
        for failure in list(self._failures):
            if failure.method is None or isinstance(method, failure.method):
                self._failures.remove(failure)
                return failure
        return None

    def _result_for(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        if isinstance(method, GetMe):
            return {
                "id": bot.id,
                "is_bot": True,
                "first_name": "Salesbot",
                "username": self.bot_username,
            }
        returning = repr(method.__returning__)
        if "Message" in returning and "MessageId" not in returning:
            return self._message_for(method)
        if "list" in returning.lower():
            return []
        if "bool" in returning:
            return True
        if "MessageId" in returning:
            return {"message_id": next(self._message_ids)}
        return True

    def _message_for(self, method: TelegramMethod[Any]) -> dict[str, Any]:
        chat_id = getattr(method, "chat_id", None) or 0
        message_id = getattr(method, "message_id", None) or next(self._message_ids)
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

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""
