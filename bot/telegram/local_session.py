"""A Bot API that lives in memory: records every request and answers like Telegram would,
including its refusals (too long, broken HTML, a second answer to one button press).

Used by the console playground, the tests and the benchmarks, so all three drive the real
Dispatcher and the real handlers with no network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile

from bot.telegram.paging import ALERT_LIMIT, CAPTION_LIMIT, TEXT_LIMIT, measure, utf16_len
from bot.telegram.sessions import response_type
from bot.telegram_limits import UPLOAD_MAX_BYTES

_FILE_DIR = "documents"


@dataclass
class PlannedFailure:
    method: type[TelegramMethod[Any]] | None
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None


def check_html(text: str, limit: int = TEXT_LIMIT) -> str | None:
    """Telegram's objection to this HTML text, or None. Measured by the same function the bot
    pages its views with (`bot.telegram.paging.measure`)."""
    measured = measure(text)
    if measured.error:
        return f"Bad Request: can't parse entities: {measured.error}"
    if measured.blank:
        return "Bad Request: message text is empty"
    if measured.visible > limit:
        return "Bad Request: message is too long"
    return None


_message_ids = itertools.count(1000)


def raw_result(bot: Bot, method: TelegramMethod[Any], *, bot_username: str = "salesbot") -> Any:
    """What Telegram would answer to a successful request, as JSON."""
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


class LocalSession(BaseSession):
    def __init__(
        self,
        *,
        bot_username: str = "salesbot_local",
        on_request: Callable[[TelegramMethod[Any]], None] | None = None,
        on_result: Callable[[TelegramMethod[Any], Any], None] | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        # Requests Telegram would have refused: tests assert this stays empty.
        self.violations: list[str] = []
        self.bot_username = bot_username
        self.on_request = on_request
        # Told what Telegram answered to each accepted request (the console learns message ids).
        self.on_result = on_result
        self.delay = delay  # simulated network round trip, for benchmarks
        self._failures: deque[PlannedFailure] = deque()
        self._answered_queries: set[str] = set()
        # Files members "uploaded": file_id -> content, served by getFile and the download URL.
        self.files: dict[str, bytes] = {}

    def add_file(self, file_id: str, content: bytes) -> None:
        self.files[file_id] = content

    def fail_next(
        self,
        status: int,
        description: str,
        *,
        method: type[TelegramMethod[Any]] | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next matching request (of that type, to that chat) gets this error."""
        self._failures.append(PlannedFailure(method, status, description, retry_after, chat_id))

    def sent(self, method: type[TelegramMethod[Any]]) -> list[Any]:
        return [request for request in self.requests if isinstance(request, method)]

    def clear(self) -> None:
        self.requests.clear()

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.requests.append(method)
        if self.on_request is not None:
            self.on_request(method)
        failure = self._take_failure(method) or self._refusal(method)
        if failure is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            response_type(method.__returning__)
            self.check_response(bot, method, failure.status, json.dumps(body))
        if isinstance(method, GetFile):
            result = self._file_result(method)
        else:
            result = raw_result(bot, method, bot_username=self.bot_username)
        response = response_type(method.__returning__).model_validate(
            {"ok": True, "result": result}, context={"bot": bot}
        )
        if self.on_result is not None:
            self.on_result(method, response.result)
        return response.result  # type: ignore[no-any-return]

    def _file_result(self, method: GetFile) -> dict[str, Any]:
        file_id = method.file_id
        content = self.files.get(file_id)
        if content is None:
            raise TelegramBadRequest(method, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "file_size": len(content),
            "file_path": f"{_FILE_DIR}/{file_id}",
        }

    def _refusal(self, method: TelegramMethod[Any]) -> PlannedFailure | None:
        problem: str | None = None
        if isinstance(method, SendMessage | EditMessageText) and isinstance(method.text, str):
            problem = check_html(method.text)
        elif isinstance(method, SendDocument):
            # Files the bot builds in memory (exports) are BufferedInputFile.
            document = method.document
            if isinstance(document, BufferedInputFile) and len(document.data) > UPLOAD_MAX_BYTES:
                problem = "Request Entity Too Large"
            elif isinstance(method.caption, str):
                problem = _caption_problem(method.caption)
        elif isinstance(method, SendPhoto) and isinstance(method.caption, str):
            problem = _caption_problem(method.caption)
        elif isinstance(method, AnswerCallbackQuery):
            if method.callback_query_id in self._answered_queries:
                problem = "Bad Request: query is too old and response timeout expired"
            elif method.text and utf16_len(method.text) > ALERT_LIMIT:
                problem = "Bad Request: MESSAGE_TOO_LONG"
            self._answered_queries.add(method.callback_query_id)
        if problem is None:
            return None
        self.violations.append(f"{type(method).__name__}: {problem}")
        return PlannedFailure(None, 400, problem)

    def _take_failure(self, method: TelegramMethod[Any]) -> PlannedFailure | None:
        for failure in list(self._failures):
            right_type = failure.method is None or isinstance(method, failure.method)
            right_chat = (
                failure.chat_id is None or getattr(method, "chat_id", None) == failure.chat_id
            )
            if right_type and right_chat:
                self._failures.remove(failure)
                return failure
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        # The download URL ends with the file_path getFile handed out.
        _, _, file_id = url.rpartition(f"/{_FILE_DIR}/")
        content = self.files.get(file_id, b"")
        for start in range(0, len(content), chunk_size):
            yield content[start : start + chunk_size]


def _caption_problem(caption: str) -> str | None:
    if not caption:
        return None
    problem = check_html(caption, CAPTION_LIMIT)
    if problem == "Bad Request: message is too long":
        return "Bad Request: message caption is too long"
    return None if problem == "Bad Request: message text is empty" else problem
