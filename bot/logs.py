"""Logging set-up that keeps the bot token out of every line, tracebacks included."""

from __future__ import annotations

import logging
import re


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
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
