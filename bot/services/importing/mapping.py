"""Which column of the owner's table goes to which field of the client card.

Guessed from the header text, Russian or English, forgiving case, spacing, punctuation, numbering
("Телефон 2") and small typos; the owner fixes the guess with buttons before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz, process

from bot.errors import ErrorCode
from bot.fields import IMPORTED, Kind

# Target fields in the order the owner sees them on the buttons, with the header words that
# name each: bot/fields.py.
FIELDS = tuple(field.name for field in IMPORTED)
# Several columns may hold phones ("Телефон", "Телефон 2", "Мобильный"); every other field
# takes one column, the first that names it.
MULTI_COLUMN_FIELDS = frozenset(field.name for field in IMPORTED if field.kind is Kind.PHONES)
SKIP = ""

_CHOICES: list[tuple[str, str]] = [
    (synonym, field.name) for field in IMPORTED for synonym in field.headers or ()
]
_CHOICE_TEXTS = [synonym for synonym, _ in _CHOICES]
_BRACKETS = re.compile(r"\(.*?\)|\[.*?\]")
_NON_WORD = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\d+")
_FUZZY_CUTOFF = 85.0


def normalize_header(text: str) -> str:
    """ "Телефон (моб.) 2" and "ТЕЛЕФОН" both become "телефон"."""
    folded = text.casefold().replace("ё", "е")
    folded = _BRACKETS.sub(" ", folded)
    folded = _NON_WORD.sub(" ", folded)
    folded = _DIGITS.sub(" ", folded).replace("_", " ")
    return " ".join(folded.split())


def guess_field(header: str) -> str | None:
    key = normalize_header(header)
    if not key:
        return None
    for synonym, field in _CHOICES:
        if key == synonym:
            return field
    found = process.extractOne(key, _CHOICE_TEXTS, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
    if found is not None:
        return _CHOICES[found[2]][1]
    # "Телефон мобильный", "Email клиента": a known word leads the header.
    first = key.split()[0]
    for synonym, field in _CHOICES:
        if first == synonym and len(synonym) >= 3:
            return field
    return None


def guess_mapping(headers: Sequence[str]) -> list[str]:
    """One target field per column (SKIP for none); single-column fields go to the first
    column that names them."""
    taken: set[str] = set()
    mapping: list[str] = []
    for header in headers:
        field = guess_field(header)
        if field is None or (field in taken and field not in MULTI_COLUMN_FIELDS):
            mapping.append(SKIP)
            continue
        taken.add(field)
        mapping.append(field)
    return mapping


def header_score(cells: list[str]) -> int:
    """How much a row looks like the header: the number of distinct fields its cells name."""
    return len({field for field in (guess_field(c) for c in cells if c) if field is not None})


def mapping_problem(mapping: Sequence[str]) -> ErrorCode | None:
    """Why this mapping cannot be imported (a DomainError code), or None."""
    if any(field not in FIELDS and field != SKIP for field in mapping):
        return ErrorCode.IMPORT_EXPIRED
    if "name" not in mapping:
        return ErrorCode.IMPORT_NAME_UNMAPPED
    for field in set(mapping) - MULTI_COLUMN_FIELDS - {SKIP}:
        if list(mapping).count(field) > 1:
            return ErrorCode.IMPORT_FIELD_TWICE
    return None
