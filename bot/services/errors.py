"""Errors that carry a stable code for the handler to translate, never a ready sentence."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
