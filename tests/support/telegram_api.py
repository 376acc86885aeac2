"""A Bot API on 127.0.0.1, over real HTTP, for tests and benchmarks: it answers like Telegram,
enforces its flood limits, and misbehaves on cue.

Unlike the in-memory `bot.telegram.local_session.LocalSession` (the console's and the
harness's), requests go through aiogram's real `AiohttpSession`, so timing, 429 handling,
error parsing and whole bot processes (`python -m bot run`) are exercised end to end.

Behaviour:
- Limits (`enforce_limits`, sendMessage only: what the outbox sends and what Telegram counts
  reliably): more than `global_per_second` messages in a sliding second, or two to one chat
  within `per_chat_interval`, get 429 with `retry_after` and are not recorded
  (`limit_violations` counts them: the bot went over the limits).
- Modes (set now with `set_mode`, or as a timed script with `run_script`): ok; 429 (every
  request); 500; timeout (every request held `hold_seconds`, longer than the client waits,
  then 500); refuse (the port stops listening; requests already on a kept-alive connection have
  it closed under them).
- `fail_next`: the next requests, whatever the method, get a scripted error.
- `blocked_chats`: sending or editing there is 403, as for a member who blocked the bot.
- `hold_sends`/`release_sends`: sendMessage waits, then is recorded as sent, like Telegram,
  which delivers a message whose request reached it even if the client has given up meanwhile.
- Edits follow Telegram: a message it never sent is not found, an edit that changes nothing is
  "message is not modified".

What tests read: `sent` (every accepted sendMessage, as `Sent`), `requests` (method names in
arrival order, as in the URL), `attempts` (every request that reached a handler: method in
lower case, chat id, time, outcome), `rejected_429` (every 429 answered), `limit_violations`.
Times are `time.monotonic()` (the asyncio loop's clock too), comparable across threads.

The server runs in the caller's loop (`FakeBotApi.start`) or on its own loop in a thread
(`ThreadedFakeBotApi`), so that synchronous fixtures and subprocess-driven tests can use it.

CLI: `python -m tests.support.telegram_api --port 8081 --script ok:10,429:5,500:5,timeout:5,ok`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MODES = ("ok", "429", "500", "timeout", "refuse")
BOT_ID_FALLBACK = 123456
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attempt:
    method: str  # lower case
    chat_id: int | str | None
    at: float
    outcome: str  # ok | limit_429 | 429 | 500 | timeout | refused | 400 | 403 | scripted
    bot_id: int


@dataclass(frozen=True, slots=True)
class Sent:
    chat_id: int | str
    text: str
    message_id: int
    at: float
    bot_id: int
    reply_to: int | None = None
    parse_mode: str | None = None


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
    def __init__(
        self,
        *,
        enforce_limits: bool = True,
        global_per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        retry_after: int = 1,
        hold_seconds: float = 5.0,
        port: int = 0,
    ) -> None:
        self.enforce_limits = enforce_limits
        self.global_per_second = global_per_second
        self.per_chat_interval = per_chat_interval
        self.retry_after = retry_after
        self.hold_seconds = hold_seconds
        self.mode = "ok"
        self.sent: list[Sent] = []
        self.requests: list[str] = []
        self.attempts: list[Attempt] = []
        self.rejected_429 = 0
        self.limit_violations = 0
        self.blocked_chats: set[int | str] = set()
        self.held = 0
        self._failures: deque[_ScriptedFailure] = deque()
        self._window: deque[float] = deque()
        self._last_by_chat: dict[int | str, float] = {}
        self._messages: dict[tuple[int | str, int], _StoredMessage] = {}
        self._message_ids = itertools.count(1)
        self._sends_open: asyncio.Event | None = None
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a free loopback port (or the one given); returns the base URL for
        TelegramAPIServer.from_base."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        # The access log would print request paths, and every path holds the bot token.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        if not self._port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self._port = probe.getsockname()[1]
        await self._listen()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://127.0.0.1:{self._port}"

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    # --- what tests set ---------------------------------------------------------------------

    async def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "refuse" and self.mode != "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None
        elif mode != "refuse" and self._site is None:
            await self._listen()
        self.mode = mode

    async def run_script(self, phases: list[tuple[str, float]]) -> None:
        """Each (mode, seconds) in turn; the last phase's mode stays."""
        for mode, seconds in phases:
            await self.set_mode(mode)
            if seconds > 0:
                await asyncio.sleep(seconds)

    def fail_next(
        self, status: int, description: str, count: int = 1, retry_after: int | None = None
    ) -> None:
        """The next `count` requests, whatever the method, get this error instead of a result."""
        for _ in range(count):
            self._failures.append(_ScriptedFailure(status, description, retry_after))

    async def hold_sends(self) -> None:
        self._sends_open = asyncio.Event()

    async def release_sends(self) -> None:
        if self._sends_open is not None:
            self._sends_open.set()

    # --- what tests read --------------------------------------------------------------------

    def sent_to(self, chat_id: int, marker: str = "") -> list[Sent]:
        return [s for s in list(self.sent) if s.chat_id == chat_id and marker in s.text]

    # --- requests ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.match_info["method"])
        method = request.match_info["method"].lower()
        bot_id_text = request.match_info["token"].partition(":")[0]
        bot_id = int(bot_id_text) if bot_id_text.isdigit() else BOT_ID_FALLBACK
        params = await _read_params(request)
        chat_id = _chat_id(params.get("chat_id"))
        now = time.monotonic()

        def note(outcome: str) -> None:
            self.attempts.append(Attempt(method, chat_id, now, outcome, bot_id))

        mode = self.mode
        if mode == "refuse":
            # Arrived on a connection kept alive from before the port closed: cut it.
            note("refused")
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=503)
        if mode == "429":
            note("429")
            return self._too_many()
        if mode == "500":
            note("500")
            return self._error(500, "Internal Server Error")
        if mode == "timeout":
            note("timeout")
            await asyncio.sleep(self.hold_seconds)
            return self._error(500, "Internal Server Error")
        if self._failures:
            failure = self._failures.popleft()
            note("scripted")
            return self._error(failure.status, failure.description, failure.retry_after)
        if method == "getme":
            note("ok")
            return _ok(_bot_user(bot_id))
        if method == "sendmessage":
            gate = self._sends_open
            if gate is not None and not gate.is_set():
                self.held += 1
                await gate.wait()
            return self._send_message(params, chat_id, bot_id, now, note)
        if method in ("editmessagetext", "editmessagereplymarkup"):
            return self._edit(params, chat_id, note, text_too=method == "editmessagetext")
        note("ok")
        return _ok(True)

    def _send_message(
        self, params: Params, chat_id: int | str | None, bot_id: int, now: float, note: Any
    ) -> web.Response:
        text = params.get("text")
        if chat_id is None:
            note("400")
            return self._error(400, "Bad Request: chat_id is empty")
        if not text:
            note("400")
            return self._error(400, "Bad Request: message text is empty")
        if chat_id in self.blocked_chats:
            note("403")
            return self._error(403, BLOCKED)
        if self.enforce_limits:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            last = self._last_by_chat.get(chat_id)
            if len(self._window) >= self.global_per_second or (
                last is not None and now - last < self.per_chat_interval
            ):
                self.limit_violations += 1
                note("limit_429")
                return self._too_many()
            self._window.append(now)
            self._last_by_chat[chat_id] = now
        note("ok")
        message_id = next(self._message_ids)
        markup = _json_field(params.get("reply_markup"))
        self._messages[(chat_id, message_id)] = _StoredMessage(str(text), markup)
        reply_to = _int(params.get("reply_to_message_id"))
        parse_mode = params.get("parse_mode")
        self.sent.append(Sent(chat_id, str(text), message_id, now, bot_id, reply_to, parse_mode))
        return _ok(_message(chat_id, message_id, str(text), markup, edited=False))

    def _edit(
        self, params: Params, chat_id: int | str | None, note: Any, *, text_too: bool
    ) -> web.Response:
        text = params.get("text")
        if text_too and not text:
            note("400")
            return self._error(400, "Bad Request: message text is empty")
        if params.get("inline_message_id"):
            note("ok")
            return _ok(True)
        message_id = _int(params.get("message_id"))
        stored = None if message_id is None else self._messages.get((chat_id or 0, message_id))
        if chat_id is not None and chat_id in self.blocked_chats:
            note("403")
            return self._error(403, BLOCKED)
        if chat_id is None or message_id is None or stored is None:
            note("400")
            return self._error(400, "Bad Request: message to edit not found")
        new_text = str(text) if text_too else stored.text
        new_markup = _json_field(params.get("reply_markup"))
        if new_text == stored.text and new_markup == stored.reply_markup:
            note("400")
            return self._error(400, NOT_MODIFIED)
        stored.text, stored.reply_markup = new_text, new_markup
        note("ok")
        return _ok(_message(chat_id, message_id, new_text, new_markup, edited=True))

    def _too_many(self) -> web.Response:
        return self._error(
            429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after
        )

    def _error(self, status: int, description: str, retry_after: int | None = None) -> web.Response:
        if status == 429:
            self.rejected_429 += 1
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)


class ThreadedFakeBotApi:
    """A FakeBotApi on its own loop in a daemon thread; every call is thread-safe."""

    def __init__(self, **kwargs: Any) -> None:
        self.api = FakeBotApi(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._script: Any = None

    def start(self) -> str:
        self._thread.start()
        return str(self._call(self.api.start()))

    def stop(self) -> None:
        self._call(self.api.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def set_mode(self, mode: str) -> None:
        self._call(self.api.set_mode(mode))

    def hold_sends(self) -> None:
        self._call(self.api.hold_sends())

    def release_sends(self) -> None:
        self._call(self.api.release_sends())

    @property
    def held(self) -> int:
        return self.api.held

    def run_script(self, phases: list[tuple[str, float]]) -> Any:
        """Starts the script and returns at once (a concurrent.futures.Future)."""
        self._script = asyncio.run_coroutine_threadsafe(self.api.run_script(phases), self._loop)
        return self._script

    @property
    def base_url(self) -> str:
        return self.api.base_url

    @property
    def sent(self) -> list[Sent]:
        return list(self.api.sent)

    @property
    def attempts(self) -> list[Attempt]:
        return list(self.api.attempts)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)


# --- rate checks over recorded times ---------------------------------------------------------


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events within any `window` seconds (half-open, like the limiter's window)."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def min_gap_per_chat(events: list[tuple[Any, float]]) -> float:
    """The shortest time between two events to one chat (inf if no chat got two)."""
    by_chat: dict[Any, list[float]] = {}
    for chat_id, at in events:
        by_chat.setdefault(chat_id, []).append(at)
    gaps = [b - a for times in by_chat.values() for a, b in itertools.pairwise(sorted(times))]
    return min(gaps, default=float("inf"))


# --- plumbing ----------------------------------------------------------------------------------


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _bot_user(bot_id: int) -> dict[str, Any]:
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Fake",
        "username": "fake_bot",
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def _message(
    chat_id: int | str, message_id: int, text: str, reply_markup: Any, *, edited: bool
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


def parse_script(text: str) -> list[tuple[str, float]]:
    phases = []
    for part in text.split(","):
        mode, _, seconds = part.partition(":")
        phases.append((mode.strip(), float(seconds) if seconds else 0.0))
    return phases


async def _main(args: argparse.Namespace) -> None:
    api = FakeBotApi(port=args.port, enforce_limits=not args.no_limits)
    url = await api.start()
    print(f"fake Bot API at {url}", flush=True)
    try:
        await api.run_script(parse_script(args.script))
        while True:
            await asyncio.sleep(5)
            print(f"sent={len(api.sent)} attempts={len(api.attempts)} mode={api.mode}", flush=True)
    finally:
        await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--script", default="ok")
    parser.add_argument("--no-limits", action="store_true")
    asyncio.run(_main(parser.parse_args()))
