"""Fuzzy client lookup: case, typos, Cyrillic/Latin, several names per client, phone digits.

Names are compared in one script: both sides go through anyascii ("Иванов" -> "ivanov"), so a
manager may type either alphabet. rapidfuzz does the string distance in C.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from anyascii import anyascii
from rapidfuzz import fuzz, process

from storage.dto import MatchCandidate

VARIANT_SEPARATOR = " | "
_NON_WORD = re.compile(r"[^0-9a-z]+")
_PREFILTER_LIMIT = 60
# Scores within this distance of the best are "as good": the member must pick.
_TIE_MARGIN = 6.0
_PHONE_MIN_DIGITS = 5
# Below this, a typed word is not a misspelling of any word of the name.
_WORD_FLOOR = 60.0


def normalize(text: str) -> str:
    folded = text.casefold().replace("ё", "е")
    return _NON_WORD.sub(" ", anyascii(folded).lower()).strip()


def search_text(names: Iterable[str | None]) -> str:
    variants = [normalize(name) for name in names if name and normalize(name)]
    return VARIANT_SEPARATOR.join(dict.fromkeys(variants))


def phone_digits(raw: str) -> str:
    """Digits of a phone; the Russian trunk prefix 8 becomes 7 so both spellings meet."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    if len(digits) == 10 and digits.startswith("9"):
        digits = "7" + digits
    return digits


class MatchKind(StrEnum):
    UNIQUE = "unique"
    SEVERAL = "several"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Match:
    candidate: MatchCandidate
    score: float


@dataclass(frozen=True, slots=True)
class Resolution:
    kind: MatchKind
    matches: tuple[Match, ...]

    @property
    def best(self) -> MatchCandidate:
        return self.matches[0].candidate


def _variant_score(query_tokens: Sequence[str], query: str, variant: str) -> float:
    if query == variant:
        return 100.0
    tokens = variant.split()
    if not tokens:
        return 0.0
    # Every word the member typed must appear in the name; words of the name they left out
    # cost nothing ("Ivanov" finds "Ivanov Petr Sergeevich").
    per_token = [max(fuzz.ratio(word, token) for token in tokens) for word in query_tokens]
    token_score = sum(per_token) / len(per_token)
    if min(per_token) < _WORD_FLOOR:
        # A word that matches nothing in the name ("Иванов Пётр просил") is not a typo of it.
        token_score = min(token_score, _WORD_FLOOR)
    return max(token_score - 0.5, fuzz.ratio(query, variant))


@dataclass(frozen=True, slots=True)
class Query:
    """What the member typed, prepared once per lookup rather than once per candidate."""

    text: str
    normalized: str
    tokens: tuple[str, ...]
    digits: str | None  # set when the query is a phone fragment

    @classmethod
    def of(cls, text: str) -> Query:
        normalized = normalize(text)
        digits = re.sub(r"\D", "", text)
        is_phone = (
            len(digits) >= _PHONE_MIN_DIGITS and len(digits) >= len(normalized.replace(" ", "")) - 1
        )
        return cls(text, normalized, tuple(normalized.split()), digits if is_phone else None)


def score(query: Query | str, candidate: MatchCandidate) -> float:
    q = query if isinstance(query, Query) else Query.of(query)
    if q.digits is not None:
        hit = q.digits in candidate.phone_digits or phone_digits(q.digits) in candidate.phone_digits
        return 100.0 if hit else 0.0
    if not q.tokens:
        return 0.0
    return max(
        (
            _variant_score(q.tokens, q.normalized, variant)
            for variant in candidate.search_text.split(VARIANT_SEPARATOR)
        ),
        default=0.0,
    )


def rank(
    query: str, candidates: Sequence[MatchCandidate], *, min_score: float, limit: int
) -> list[Match]:
    q = Query.of(query)
    if not q.normalized:
        return []
    pool: Sequence[MatchCandidate] = candidates
    if len(candidates) > _PREFILTER_LIMIT and q.digits is None:
        # Cheap C-level pass first; the word-by-word score runs only on the plausible few.
        hits = process.extract(
            q.normalized,
            [c.search_text for c in candidates],
            scorer=fuzz.token_set_ratio,
            limit=_PREFILTER_LIMIT,
            score_cutoff=min_score - 15,
        )
        pool = [candidates[index] for _, _, index in hits]
    scored = [Match(c, score(q, c)) for c in pool]
    good = [m for m in scored if m.score >= min_score]
    good.sort(key=lambda m: (-m.score, m.candidate.name, m.candidate.id))
    return good[:limit]


def resolve(
    query: str, candidates: Sequence[MatchCandidate], *, min_score: float, limit: int
) -> Resolution:
    matches = rank(query, candidates, min_score=min_score, limit=limit)
    if not matches:
        return Resolution(MatchKind.NONE, ())
    normalized = normalize(query)
    exact = tuple(
        m for m in matches if normalized in m.candidate.search_text.split(VARIANT_SEPARATOR)
    )
    # The full name typed exactly wins over near ones ("Иванов" over "Иванова").
    if len(exact) == 1:
        return Resolution(MatchKind.UNIQUE, exact)
    best = matches[0].score
    close = tuple(m for m in matches if best - m.score < _TIE_MARGIN)
    if len(close) == 1:
        return Resolution(MatchKind.UNIQUE, close)
    return Resolution(MatchKind.SEVERAL, close)


def resolve_prefix(
    words: Sequence[str],
    candidates: Sequence[MatchCandidate],
    *,
    min_score: float,
    limit: int,
    max_words: int = 4,
) -> tuple[Resolution, int]:
    """For commands whose name is followed by free text (`/note Ivanov wants a discount`):
    the longest leading run of words that names a client, and how many words it took."""
    best: tuple[Resolution, int] = (Resolution(MatchKind.NONE, ()), 0)
    best_score = -1.0
    for count in range(1, min(max_words, len(words)) + 1):
        resolution = resolve(" ".join(words[:count]), candidates, min_score=min_score, limit=limit)
        if resolution.kind is MatchKind.NONE:
            continue
        top = resolution.matches[0].score
        # The best-matching run of words is the name; on a tie the longer one ("Иванов Пётр"
        # over "Иванов"), so the note does not start with the rest of the name.
        if top >= best_score:
            best, best_score = (resolution, count), top
    return best
