"""Real bot processes (`python -m bot run` in webhook mode) for fault tests and the benchmark,
plus the waiting helpers: every wait polls a condition until a deadline, none is a bare sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import REDIS_URL

REPO = Path(__file__).resolve().parents[2]
SECRET = "fault-secret_7-abcdef"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def token_for(bot_id: int) -> str:
    # Each process gets its own bot id, so the fake API can tell who sent what.
    return f"{bot_id}:AAFaultTestTokenFaultTestToken_{bot_id}"


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


async def await_for(
    condition: Callable[[], Any], seconds: float, what: str, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


class BotProcess:
    """One `python -m bot run` in webhook mode on a loopback port; stderr goes to a file."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        api_url: str,
        database_url: str,
        bot_id: int,
        schema: str | None = None,
        redis_prefix: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.bot_id = bot_id
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(REPO),
            "BOT_TOKEN": token_for(bot_id),
            "BOT_MODE": "webhook",
            "WEBHOOK_URL": "https://bot.example.org",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(self.port),
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "DEFAULT_LANGUAGE": "en",
            "DELIVERY__SWEEP_INTERVAL_SECONDS": "1",
            "SHUTDOWN_TIMEOUT_SECONDS": "10",
        }
        if schema:
            env["DATABASE_SCHEMA"] = schema
        if redis_prefix:
            env["REDIS_URL"] = REDIS_URL
            env["REDIS_PREFIX"] = redis_prefix
        env.update(extra_env or {})
        self.env = env
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        log = self.log_path.open("ab")
        # cwd is a scratch directory: a developer's .env in the repository must not leak in.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=3) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return self.get("/health")[0] == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 120.0) -> BotProcess:
        wait_for(self.healthy, timeout, f"{self.name} to answer /health")
        return self

    def post(self, body: bytes, *, secret: str | None = SECRET) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        request = urllib.request.Request(
            self.url + WEBHOOK_PATH, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def metric(self, name: str) -> float:
        status, body = self.get("/metrics")
        assert status == 200, body
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no {name} in /metrics")

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"msg": raw})
        return out

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, leases stay taken."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@contextmanager
def running(*processes: BotProcess) -> Iterator[tuple[BotProcess, ...]]:
    """Start all, wait until all answer /health; stop all (SIGTERM) on the way out."""
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_healthy()
        yield processes
    finally:
        # All are told first, so that they stop side by side, not one after another.
        for process in processes:
            if process.proc is not None and process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in processes:
            process.stop()


def message_update(update_id: int, user_id: int, text: str, language: str = "en") -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {
                    "id": user_id,
                    "is_bot": False,
                    "first_name": f"U{user_id}",
                    "language_code": language,
                },
                "text": text,
            },
        }
    ).encode()
