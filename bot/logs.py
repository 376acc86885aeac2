"""Logging set-up that keeps secrets out of every line, tracebacks included.

Two formats: readable text (the default) and JSON lines (`LOG_FORMAT=json`) for a log shipper.
Structured fields passed with `extra={...}` become JSON keys; in text they are appended as
key=value. Personal data of clients (names, phones, notes, command arguments) is never put in
INFO lines: callers log ids, command names and outcomes only.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._patterns = [re.escape(s) for s in secrets if s]
        # A token-shaped string (id:secret) is masked even if it is not ours.
        self._patterns.append(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")
        self._regex = re.compile("|".join(self._patterns))

    def _clean(self, text: str) -> str:
        return self._regex.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self._clean(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self._clean(value))
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")
        pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return f"{head} [{pairs}]{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the traceback, if any, is one string field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(secrets: list[str], fmt: str = "text", stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    return handler


# Loggers that write what must never reach a log at any LOG_LEVEL, and the level below which they
# are silenced. The SQLite driver logs every call with its SQL parameters at DEBUG (client names,
# phones, notes); SQLAlchemy's engine logs statements at INFO and result rows at DEBUG.
PRIVATE_LOGGERS = {
    "aiosqlite": logging.INFO,
    "sqlalchemy.engine": logging.WARNING,
    "sqlalchemy.orm": logging.WARNING,
    "asyncpg": logging.INFO,
}
# Loggers that are only noise below WARNING.
_CHATTY_LOGGERS = (
    # Every request path of the Bot API holds the token; aiohttp's access log is off anyway,
    # and per-update lines come from bot.telegram.middlewares instead.
    "aiohttp.access",
    # aiogram's own "Update id=… is handled" line would repeat bot.updates' one.
    "aiogram.event",
    # Alembic announces each of its plugins at INFO on every start; the migrations stay visible.
    "alembic.runtime.plugins",
    # APScheduler reports every tick twice at INFO; failed ticks are logged by bot.runtime.
    "apscheduler.executors",
)


def setup_logging(level: str, secrets: list[str], fmt: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [make_handler(secrets, fmt)]
    root.setLevel(level.upper())
    # A logger's own level decides alone (a parent's is not consulted again on the way up), so
    # each is set to the higher of its floor and LOG_LEVEL: never more verbose than asked.
    for name, floor in PRIVATE_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
