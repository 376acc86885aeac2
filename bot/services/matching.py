"""Fuzzy client lookup: case, typos, Cyrillic/Latin, several names per client, phone digits.

Names are compared in one script: both sides go through anyascii ("Иванов" -> "ivanov"), so a
manager may type either alphabet. rapidfuzz does the string distance in C.

A lookup runs on `Candidates`, a manager's client list prepared once per roster version and kept
in the candidate cache (bot/services/candidate_cache.py): the name variants split into words,
an index of whole variants, and every distinct word once. A name typed exactly as one client's
(and nobody else's) is answered from the index; anything else is scored in one batch
(`process.cdist` over the prepared words and variants, in C) and only the few candidates above
the threshold are scored again one by one, so the scores and their order are exactly those of
`score()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from anyascii import anyascii
from rapidfuzz import fuzz, process

from storage.dto import MatchCandidate

VARIANT_SEPARATOR = " | "
_NON_WORD = re.compile(r"[^0-9a-z]+")
# Scores within this distance of the best are "as good": the member must pick.
_TIE_MARGIN = 6.0
_PHONE_MIN_DIGITS = 5
# Four digits are how people name a phone: its last four ("the one ending in 4567").
_PHONE_ENDING_DIGITS = 4
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
            len(digits) >= _PHONE_ENDING_DIGITS
            and len(digits) >= len(normalized.replace(" ", "")) - 1
        )
        return cls(text, normalized, tuple(normalized.split()), digits if is_phone else None)


def phone_hit(digits: str, candidate: MatchCandidate) -> bool:
    """Whether typed digits name one of the candidate's phones: its last four, or any run of
    five or more (with the 8/7 trunk prefix either way)."""
    if len(digits) < _PHONE_MIN_DIGITS:
        return any(phone.endswith(digits) for phone in candidate.phone_digits.split())
    return digits in candidate.phone_digits or phone_digits(digits) in candidate.phone_digits


def score(query: Query | str, candidate: MatchCandidate) -> float:
    q = query if isinstance(query, Query) else Query.of(query)
    if q.digits is not None:
        return 100.0 if phone_hit(q.digits, candidate) else 0.0
    if not q.tokens:
        return 0.0
    return max(
        (
            _variant_score(q.tokens, q.normalized, variant)
            for variant in candidate.search_text.split(VARIANT_SEPARATOR)
        ),
        default=0.0,
    )


class Candidates:
    """A client list prepared for lookups (built once per roster version, then only read)."""

    def __init__(self, candidates: Sequence[MatchCandidate]) -> None:
        self.items: tuple[MatchCandidate, ...] = tuple(candidates)
        self.variants: list[str] = []
        self.exact: dict[str, list[int]] = {}
        starts: list[int] = []
        words: dict[str, int] = {}
        rows: list[list[int]] = []
        for index, candidate in enumerate(self.items):
            starts.append(len(self.variants))
            for variant in candidate.search_text.split(VARIANT_SEPARATOR):
                self.variants.append(variant)
                self.exact.setdefault(variant, []).append(index)
                rows.append([words.setdefault(w, len(words)) for w in variant.split()])
        # Every candidate has at least one variant (an empty search text is one empty variant),
        # so each one's variants are the slice from its start to the next one's.
        self.starts = np.array(starts, dtype=np.intp)
        self.words = list(words)
        # A variant is the row of its words' positions, padded with a position past the end
        # whose score is below any real one.
        width = max((len(row) for row in rows), default=0) or 1
        pad = len(words)
        padded = [row + [pad] * (width - len(row)) for row in rows]
        # Column k holds every variant's k-th word: the batch takes the best over `width`
        # whole-array steps rather than a short reduction per variant.
        self.word_columns = np.ascontiguousarray(np.array(padded, np.intp).reshape(-1, width).T)
        self.empty = np.array([not row for row in rows], dtype=bool)

    def __len__(self) -> int:
        return len(self.items)


def prepare(candidates: Sequence[MatchCandidate] | Candidates) -> Candidates:
    return candidates if isinstance(candidates, Candidates) else Candidates(candidates)


def _batch_scores(q: Query, prepared: Candidates, min_score: float) -> np.ndarray:
    """`score()` of every candidate at once: the same formula on arrays, in the same order of
        operations, so the same floats (tests/test_matching.py holds them equal). Below `min_score`
    a score may come out lower than score()'s: only who passes, and with what, is exact."""
    # Each typed word against each distinct word once, plus the padding position.
    per_word = process.cdist(
        q.tokens, prepared.words, scorer=fuzz.ratio, processor=None, dtype=np.float64
    )
    per_word = np.hstack([per_word, np.full((len(q.tokens), 1), -1.0)])
    total: np.ndarray | None = None
    lowest: np.ndarray | None = None
    for row in per_word:
        # How well this typed word matches the closest word of each variant.
        best = row.take(prepared.word_columns[0])
        for column in prepared.word_columns[1:]:
            np.maximum(best, row.take(column), out=best)
        total = best if total is None else total + best
        lowest = best if lowest is None else np.minimum(lowest, best)
    assert total is not None and lowest is not None
    token_score = total / len(q.tokens)
    token_score = np.where(lowest < _WORD_FLOOR, np.minimum(token_score, _WORD_FLOOR), token_score)
    # Under the cutoff rapidfuzz gives up early and says 0; above it, the exact ratio.
    whole = process.cdist(
        [q.normalized],
        prepared.variants,
        scorer=fuzz.ratio,
        processor=None,
        dtype=np.float64,
        score_cutoff=min_score,
    )[0]
    variant_score = np.where(prepared.empty, 0.0, np.maximum(token_score - 0.5, whole))
    return np.maximum.reduceat(variant_score, prepared.starts)


def _rank(q: Query, prepared: Candidates, *, min_score: float, limit: int) -> list[Match]:
    if not q.normalized or not len(prepared):
        return []
    items = prepared.items
    if q.digits is not None:
        good = [Match(c, 100.0) for c in items if phone_hit(q.digits, c)]
        good = good if min_score <= 100.0 else []
    elif q.tokens:
        scores = _batch_scores(q, prepared, min_score)
        good = [Match(items[i], float(scores[i])) for i in np.flatnonzero(scores >= min_score)]
    else:
        return []
    good.sort(key=lambda m: (-m.score, m.candidate.name, m.candidate.id))
    return good[:limit]


def rank(
    query: str,
    candidates: Sequence[MatchCandidate] | Candidates,
    *,
    min_score: float,
    limit: int,
) -> list[Match]:
    return _rank(Query.of(query), prepare(candidates), min_score=min_score, limit=limit)


def _spelling(name: str) -> str:
    return " ".join(name.casefold().replace("ё", "е").split())


def resolve(
    query: str,
    candidates: Sequence[MatchCandidate] | Candidates,
    *,
    min_score: float,
    limit: int,
) -> Resolution:
    prepared = prepare(candidates)
    q = Query.of(query)
    normalized = q.normalized
    only = prepared.exact.get(normalized, ()) if normalized and q.digits is None else ()
    if len(only) > 1:
        # "Ivanov Petr" and "Иванов Пётр" read the same across alphabets; the one spelled
        # exactly as typed is the one meant.
        only = [i for i in only if _spelling(prepared.items[i].name) == _spelling(query)] or only
    if len(only) == 1 and min_score <= 100.0:
        # The full name typed exactly, and nobody else's: it wins over near ones ("Иванов"
        # over "Иванова") without ranking the others.
        return Resolution(MatchKind.UNIQUE, (Match(prepared.items[only[0]], 100.0),))
    matches = _rank(q, prepared, min_score=min_score, limit=limit)
    if not matches:
        return Resolution(MatchKind.NONE, ())
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
    candidates: Sequence[MatchCandidate] | Candidates,
    *,
    min_score: float,
    limit: int,
    max_words: int = 4,
) -> tuple[Resolution, int]:
    """For commands whose name is followed by free text (`/note Ivanov wants a discount`):
    the longest leading run of words that names a client, and how many words it took."""
    candidates = prepare(candidates)
    counts = list(range(1, min(max_words, len(words)) + 1))
    # A run typed exactly as a client's name scores 100, and nothing else does but an identical
    # string or a phone: the longest such run wins over every shorter run (a tie goes to the
    # longer one) and over every longer run but a phone number. So only those are ranked (a
    # fuzzy ranking is most of a lookup's time), and the answer is the same.
    exact = [count for count in counts if _typed_exactly(" ".join(words[:count]), candidates)]
    if exact and min_score <= 100.0:
        longest = exact[-1]
        counts = [
            count
            for count in counts
            if count == longest
            or (count > longest and Query.of(" ".join(words[:count])).digits is not None)
        ]
    best: tuple[Resolution, int] = (Resolution(MatchKind.NONE, ()), 0)
    best_score = -1.0
    for count in counts:
        resolution = resolve(" ".join(words[:count]), candidates, min_score=min_score, limit=limit)
        if resolution.kind is MatchKind.NONE:
            continue
        top = resolution.matches[0].score
        # The best-matching run of words is the name; on a tie the longer one ("Иванов Пётр"
        # over "Иванов"), so the note does not start with the rest of the name.
        if top >= best_score:
            best, best_score = (resolution, count), top
    return best


def _typed_exactly(text: str, prepared: Candidates) -> bool:
    """Whether `text` is some client's name (a variant of it) as the index holds it."""
    q = Query.of(text)
    return bool(q.normalized) and q.digits is None and q.normalized in prepared.exact
