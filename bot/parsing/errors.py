"""The one error type of the parsers: a stable code the handler turns into a translated sentence."""

from __future__ import annotations

from bot.errors import ErrorCode


class ParseError(ValueError):
    """code names the translated message (bot/errors.py); params are values for the message."""

    code: ErrorCode
    params: dict[str, object]

    def __init__(self, code: ErrorCode, **params: object) -> None:
        # ErrorCode(...) also takes a code's string and refuses an unknown one here, at the raise.
        code = ErrorCode(code)
        super().__init__(code)
        self.code = code
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"ParseError({self.code.value!r}, **{self.params!r})"
