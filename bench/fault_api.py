"""A Bot API on 127.0.0.1 that can misbehave on cue, for fault tests and load benchmarks.

Modes (set now with `set_mode`, or as a timed script with `run_script`):
- ok: answers like Telegram; sendMessage is recorded in `sent`. With `enforce_limits`, more
  than `global_per_second` messages in a sliding second or two to one chat within
  `per_chat_interval` get 429 (counted in `limit_violations`: the bot went over the limits).
- 429: every request gets 429 with `retry_after`.
- 500: every request gets 500 Internal Server Error.
- timeout: every request is held `hold_seconds` (longer than the client waits), then 500.
- refuse: the port stops listening (connection refused); requests already on a kept-alive
  connection have it closed under them.

Every request that reaches a handler is in `attempts` (method, chat id, time, what it got).
Times are `time.monotonic()`, comparable across threads of one process.

The server runs on its own event loop in a thread (`ThreadedFaultApi`) so that synchronous
fixtures and subprocess-driven tests can use it; or in the caller's loop (`FaultApi.start`).

CLI: `python -m bench.fault_api --port 8081 --script ok:10,429:5,500:5,timeout:5,refuse:5,ok`
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MODES = ("ok", "429", "500", "timeout", "refuse")
BOT_ID_FALLBACK = 123456


@dataclass(frozen=True, slots=True)
class Attempt:
    method: str
    chat_id: int | None
    at: float
    outcome: str  # ok | limit_429 | 429 | 500 | timeout | refused | 400
    bot_id: int


@dataclass(frozen=True, slots=True)
class Sent:
    chat_id: int
    text: str
    message_id: int
    at: float
    bot_id: int
    reply_to: int | None


class FaultApi:
    def __init__(
        self,
        *,
        enforce_limits: bool = True,
        global_per_second: int = 30,
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
        self.attempts: list[Attempt] = []
        self.sent: list[Sent] = []
        self.limit_violations = 0
        self._window: deque[float] = deque()
        self._last_by_chat: dict[int, float] = {}
        self._message_ids = itertools.count(1)
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._script: asyncio.Task[None] | None = None
        # While set and closed, every sendMessage waits here, then is recorded as sent: like
        # Telegram, which delivers a message whose request reached it even if the client has
        # given up meanwhile. `held` counts the requests that waited.
        self._sends_open: asyncio.Event | None = None
        self.held = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        # Paths hold the bot token: no access log.
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
        return f"http://127.0.0.1:{self._port}"

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await self._site.start()

    async def stop(self) -> None:
        if self._script is not None:
            self._script.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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

    async def hold_sends(self) -> None:
        self._sends_open = asyncio.Event()

    async def release_sends(self) -> None:
        if self._sends_open is not None:
            self._sends_open.set()

    # --- requests ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"].lower()
        bot_id_text = request.match_info["token"].partition(":")[0]
        bot_id = int(bot_id_text) if bot_id_text.isdigit() else BOT_ID_FALLBACK
        params = await _read_params(request)
        chat_id = _int(params.get("chat_id"))
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
            return _error(
                429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after
            )
        if mode == "500":
            note("500")
            return _error(500, "Internal Server Error")
        if mode == "timeout":
            note("timeout")
            await asyncio.sleep(self.hold_seconds)
            return _error(500, "Internal Server Error")
        if method == "getme":
            note("ok")
            return _ok({"id": bot_id, "is_bot": True, "first_name": "Fake", "username": "fake_bot"})
        if method == "sendmessage":
            gate = self._sends_open
            if gate is not None and not gate.is_set():
                self.held += 1
                await gate.wait()
            return self._send_message(params, chat_id, bot_id, now, note)
        if method in ("editmessagetext", "editmessagereplymarkup"):
            note("ok")
            return _ok(True if params.get("inline_message_id") else _message(chat_id, 1, "…"))
        note("ok")
        return _ok(True)

    def _send_message(
        self, params: dict[str, Any], chat_id: int | None, bot_id: int, now: float, note: Any
    ) -> web.Response:
        text = params.get("text")
        if chat_id is None or not text:
            note("400")
            return _error(400, "Bad Request: chat_id or text is empty")
        if self.enforce_limits:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            last = self._last_by_chat.get(chat_id)
            if len(self._window) >= self.global_per_second or (
                last is not None and now - last < self.per_chat_interval
            ):
                self.limit_violations += 1
                note("limit_429")
                return _error(429, "Too Many Requests: retry after 1", 1)
            self._window.append(now)
            self._last_by_chat[chat_id] = now
        note("ok")
        message_id = next(self._message_ids)
        reply_to = _int(params.get("reply_to_message_id"))
        self.sent.append(Sent(chat_id, str(text), message_id, now, bot_id, reply_to))
        return _ok(_message(chat_id, message_id, str(text)))

    # --- what tests read --------------------------------------------------------------------

    def sent_to(self, chat_id: int, marker: str = "") -> list[Sent]:
        return [s for s in list(self.sent) if s.chat_id == chat_id and marker in s.text]


class ThreadedFaultApi:
    """A FaultApi on its own loop in a daemon thread; every call is thread-safe."""

    def __init__(self, **kwargs: Any) -> None:
        self.api = FaultApi(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._script: Any = None

    def start(self) -> str:
        self._thread.start()
        return self._call(self.api.start())

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


def min_gap_per_chat(events: list[tuple[int, float]]) -> float:
    """The shortest time between two events to one chat (inf if no chat got two)."""
    by_chat: dict[int, list[float]] = {}
    for chat_id, at in events:
        by_chat.setdefault(chat_id, []).append(at)
    gaps = [b - a for times in by_chat.values() for a, b in itertools.pairwise(sorted(times))]
    return min(gaps, default=float("inf"))


# --- plumbing ----------------------------------------------------------------------------------


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _message(chat_id: int | None, message_id: int, text: str) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id or 0, "type": "private"},
        "text": text,
    }


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def parse_script(text: str) -> list[tuple[str, float]]:
    phases = []
    for part in text.split(","):
        mode, _, seconds = part.partition(":")
        phases.append((mode.strip(), float(seconds) if seconds else 0.0))
    return phases


async def _main(args: argparse.Namespace) -> None:
    api = FaultApi(port=args.port, enforce_limits=not args.no_limits)
    url = await api.start()
    print(f"fault api at {url}", flush=True)
    try:
        await api.run_script(parse_script(args.script))
        while True:
            await asyncio.sleep(5)
            print(f"sent={len(api.sent)} attempts={len(api.attempts)} mode={api.mode}", flush=True)
    finally:
        await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--script", default="ok")
    parser.add_argument("--no-limits", action="store_true")
    asyncio.run(_main(parser.parse_args()))
