"""Splitting a command's argument text into words, and the normal form words are compared in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Punctuation that only ever decorates a word from outside ("завтра,", "(friday)", "done!").
# Inner characters stay: "15.12", "10:00", "1,5", "30%" carry meaning. A leading dot is kept
# because ".5" is a number, not "5".
_TRAILING_PUNCT = ",.;:!?()[]{}\"'«»“”„…"
_LEADING_PUNCT = _TRAILING_PUNCT.replace(".", "")
# Stripped from the raw token itself only at the end, and only these: a trailing comma or
# semicolon never belongs to a name, while a trailing dot may ("р.", "ул.", "Jr.").
_TRAILING_SEPARATORS = ",;"
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as typed, minus a trailing comma or semicolon
    start: int  # offset of the token in the source text, so the tail can be cut out verbatim
    end: int


def scan(text: str) -> list[Token]:
    """Tokens with their positions in `text`; one token per whitespace-separated word.

    The count always equals `len(text.split())`: callers count name words that way.
    """
    tokens: list[Token] = []
    for match in _WORD.finditer(text):
        word = match.group()
        stripped = word.rstrip(_TRAILING_SEPARATORS)
        tokens.append(Token(stripped or word, match.start(), match.end()))
    return tokens


def tokenize(text: str) -> list[str]:
    """Whitespace split keeping the original case; a trailing comma or semicolon is dropped."""
    return [token.text for token in scan(text)]


def norm(token: str) -> str:
    """Casefolded comparison form: ё is е, surrounding punctuation gone ("Завтра," -> "завтра")."""
    return token.casefold().replace("ё", "е").lstrip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)


def tail(text: str, tokens: list[Token], index: int) -> str:
    """The source text from token `index` on, untouched (line breaks and spacing survive)."""
    if index >= len(tokens):
        return ""
    return text[tokens[index].start :].strip()


def longest_phrase_at(
    words: Sequence[str], i: int, phrases: Iterable[tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The longest of `phrases` that `words` spell from position i."""
    best: tuple[str, ...] | None = None
    for phrase in phrases:
        longer = best is None or len(phrase) > len(best)
        if longer and tuple(words[i : i + len(phrase)]) == phrase:
            best = phrase
    return best
