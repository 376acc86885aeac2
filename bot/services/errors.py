"""Errors that carry a stable code for the handler to translate, never a ready sentence."""

from __future__ import annotations

from bot.errors import ErrorCode


class DomainError(Exception):
    """`code` names the sentence (bot/errors.py); `params` fill its placeholders."""

    code: ErrorCode
    params: dict[str, object]

    def __init__(self, code: ErrorCode, **params: object) -> None:
        # ErrorCode(...) also takes a code's string and refuses an unknown one here, at the raise,
        # rather than when a handler looks for its text.
        code = ErrorCode(code)
        super().__init__(code)
        self.code = code
        self.params = params
