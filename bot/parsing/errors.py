"""The one error type of the parsers: a stable code the handler turns into a translated sentence."""

from __future__ import annotations


class ParseError(ValueError):
    """code is a stable machine string that the handler maps to a translated message; params are
    values for the message."""

    code: str
    params: dict[str, object]

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"ParseError({self.code!r}, **{self.params!r})"
