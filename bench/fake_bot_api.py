"""A Bot API on 127.0.0.1 that enforces Telegram's flood limits, for tests and benchmarks.

Unlike the in-memory `LocalSession`, requests go through aiogram's real `AiohttpSession` over
HTTP, so timing, 429 handling and error parsing are exercised end to end.

Limits apply to sendMessage only (that is what the outbox sends and what Telegram counts
reliably): at most `global_per_second` accepted in any sliding second, and one per chat per
`per_chat_interval`. Over either limit the request gets 429 and is not recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_ID_FALLBACK = 123456
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

Params = dict[str, Any]
Handler = Callable[[Params, str], Awaitable[web.Response]]


@dataclass
class _ScriptedFailure:
    status: int
    description: str
    retry_after: int | None


@dataclass
class _StoredMessage:
    text: str
    reply_markup: Any


class FakeBotApi:
    """What tests read back: `sent` (every accepted sendMessage: chat_id, text, message_id, at
    on the loop clock, parse_mode), `rejected_429`, `requests` (method names in arrival order).
    What they set: `blocked_chats` and `fail_next`."""

    def __init__(
        self,
        *,
        global_per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        retry_after: int = 1,
    ) -> None:
        self.global_per_second = global_per_second
        self.per_chat_interval = per_chat_interval
        self.retry_after = retry_after
        self.sent: list[dict[str, Any]] = []
        self.rejected_429 = 0
        self.blocked_chats: set[int] = set()
        self.requests: list[str] = []
        self._failures: deque[_ScriptedFailure] = deque()
        self._window: deque[float] = deque()
        self._last_by_chat: dict[int | str, float] = {}
        self._messages: dict[tuple[int | str, int], _StoredMessage] = {}
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._true,
            "setmycommands": self._true,
            "deletewebhook": self._true,
            "setwebhook": self._true,
        }

    async def start(self) -> str:
        """Serve on a free loopback port; returns the base URL for TelegramAPIServer.from_base."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        # The access log would print request paths, and every path holds the bot token.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        host, port = sock.getsockname()[:2]
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._base_url = None

    def fail_next(
        self, status: int, description: str, count: int = 1, retry_after: int | None = None
    ) -> None:
        """The next `count` requests, whatever the method, get this error instead of a result."""
        for _ in range(count):
            self._failures.append(_ScriptedFailure(status, description, retry_after))

    # --- plumbing -------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.match_info["token"]
        self.requests.append(method)
        if self._failures:
            failure = self._failures.popleft()
            return self._error(failure.status, failure.description, failure.retry_after)
        handler = self._handlers.get(method.lower())
        if handler is None:
            return self._error(404, "Not Found")
        return await handler(await _read_params(request), token)

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        if status == 429:
            self.rejected_429 += 1
        return web.json_response(body, status=status)

    def _too_many(self) -> web.Response:
        return self._error(
            429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after
        )

    def _message(
        self, chat_id: int | str, message_id: int, text: str, reply_markup: Any, *, edited: bool
    ) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "message_id": message_id,
            "date": now,
            "chat": {"id": chat_id, "type": "private"},
            "text": text,
        }
        if reply_markup:
            body["reply_markup"] = reply_markup
        if edited:
            body["edit_date"] = now
        return body

    # --- methods --------------------------------------------------------------------------

    async def _get_me(self, params: Params, token: str) -> web.Response:
        bot_id, _, _ = token.partition(":")
        return self._ok(
            {
                "id": int(bot_id) if bot_id.isdigit() else BOT_ID_FALLBACK,
                "is_bot": True,
                "first_name": "Fake",
                "username": "fake_bot",
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _true(self, params: Params, token: str) -> web.Response:
        return self._ok(True)

    async def _send_message(self, params: Params, token: str) -> web.Response:
        chat_id = _chat_id(params.get("chat_id"))
        text = params.get("text")
        if chat_id is None:
            return self._error(400, "Bad Request: chat_id is empty")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if chat_id in self.blocked_chats:
            return self._error(403, "Forbidden: bot was blocked by the user")
        loop_now = asyncio.get_running_loop().time()
        while self._window and self._window[0] <= loop_now - 1.0:
            self._window.popleft()
        if len(self._window) >= self.global_per_second:
            return self._too_many()
        last = self._last_by_chat.get(chat_id)
        if last is not None and loop_now - last < self.per_chat_interval:
            return self._too_many()
        self._window.append(loop_now)
        self._last_by_chat[chat_id] = loop_now
        message_id = next(self._message_ids)
        markup = _json_field(params.get("reply_markup"))
        self._messages[(chat_id, message_id)] = _StoredMessage(text, markup)
        self.sent.append(
            {
                "chat_id": chat_id,
                "text": text,
                "message_id": message_id,
                "at": loop_now,
                "parse_mode": params.get("parse_mode"),
            }
        )
        return self._ok(self._message(chat_id, message_id, text, markup, edited=False))

    async def _edit_message_text(self, params: Params, token: str) -> web.Response:
        text = params.get("text")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        return self._edit(params, text=text)

    async def _edit_message_reply_markup(self, params: Params, token: str) -> web.Response:
        return self._edit(params, text=None)

    def _edit(self, params: Params, *, text: str | None) -> web.Response:
        if params.get("inline_message_id"):
            return self._ok(True)
        chat_id = _chat_id(params.get("chat_id"))
        message_id = _int(params.get("message_id"))
        if chat_id is None or message_id is None:
            return self._error(400, "Bad Request: message to edit not found")
        if chat_id in self.blocked_chats:
            return self._error(403, "Forbidden: bot was blocked by the user")
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            return self._error(400, "Bad Request: message to edit not found")
        new_text = stored.text if text is None else text
        new_markup = _json_field(params.get("reply_markup"))
        if new_text == stored.text and new_markup == stored.reply_markup:
            return self._error(400, NOT_MODIFIED)
        stored.text, stored.reply_markup = new_text, new_markup
        return self._ok(self._message(chat_id, message_id, new_text, new_markup, edited=True))


async def _read_params(request: web.Request) -> Params:
    """Query string, then the body: JSON, urlencoded or multipart (aiogram sends FormData)."""
    params: Params = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _chat_id(value: Any) -> int | str | None:
    """Numeric ids become ints; "@channel" usernames stay strings, as Telegram accepts both."""
    as_int = _int(value)
    if as_int is not None:
        return as_int
    return value if isinstance(value, str) and value.startswith("@") else None


def _json_field(value: Any) -> Any:
    # Form bodies carry nested objects as JSON strings; JSON bodies carry them as objects.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
