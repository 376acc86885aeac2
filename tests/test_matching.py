"""Client lookup on a prepared candidate list: the batch scores are score()'s own, an exact full
name wins at once, and a base of hundreds answers like a base of five."""

from __future__ import annotations

import random

import pytest

from bot.services import matching
from bot.services.matching import MatchKind
from storage.dto import MatchCandidate

MIN_SCORE, LIMIT = 72.0, 6
SURNAMES = ["Иванов", "Иванова", "Петров", "Смирнов", "Кузнецова", "Соколов", "Попов", "Lebedev"]
FIRST = ["Пётр", "Анна", "Елена", "Сергей", "Ольга", "Dmitry", "Мария"]


def _client(cid: int, name: str, *others: str, phone: str = "") -> MatchCandidate:
    return MatchCandidate(cid, name, matching.search_text([name, *others]), phone, 1)


def _base(count: int, seed: int = 3) -> list[MatchCandidate]:
    rng = random.Random(seed)
    return [
        _client(
            n,
            f"{rng.choice(SURNAMES)} {rng.choice(FIRST)} {n}",
            f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}",
            phone=f"7999{n:07d}",
        )
        for n in range(1, count + 1)
    ]


QUERIES = [
    "Иванов",
    "иванова анна",
    "Ivanov",
    "Смирноа Елена",
    "petrov sergey",
    "Кузнецова",
    "sokolov p",
    "Попов Мария 17",
    "Лебедев",
    "Жмыхов",
    "ива",
    "Иванов Пётр просил",
]


@pytest.mark.parametrize("query", QUERIES)
def test_batch_scores_are_exactly_the_one_by_one_scores(query: str):
    base = _base(300)
    prepared = matching.prepare(base)
    q = matching.Query.of(query)
    batch = matching._batch_scores(q, prepared, MIN_SCORE)
    for candidate, fast in zip(base, batch, strict=True):
        slow = matching.score(q, candidate)
        if slow >= MIN_SCORE or fast >= MIN_SCORE:
            assert fast == slow, candidate.name


@pytest.mark.parametrize("query", QUERIES)
def test_ranking_is_score_order_over_the_whole_base(query: str):
    base = _base(300)
    expected = sorted(
        (c for c in base if matching.score(query, c) >= MIN_SCORE),
        key=lambda c: (-matching.score(query, c), c.name, c.id),
    )[:LIMIT]
    ranked = matching.rank(query, matching.prepare(base), min_score=MIN_SCORE, limit=LIMIT)
    assert [m.candidate for m in ranked] == expected


def test_an_exact_full_name_wins_among_a_hundred_near_ones():
    # Every "Иванов Пётр N" also holds the word "ivanov": a hundred near matches, one exact.
    base = [_client(n, f"Иванов Пётр {n}") for n in range(1, 101)]
    base.append(_client(101, "Иванов"))
    found = matching.resolve("иванов", base, min_score=MIN_SCORE, limit=LIMIT)
    assert found.kind is MatchKind.UNIQUE and found.best.id == 101


def test_a_typo_is_found_in_a_big_base_as_in_a_small_one():
    smirnov = _client(1, "Смирнов Елена Анновна", "Елена Смирнов")
    small = [smirnov, *_base(4, seed=9)]
    big = [smirnov, *_base(500, seed=9)]
    for base in (small, big):
        found = matching.rank("Смирноа Елена", base, min_score=MIN_SCORE, limit=50)
        assert smirnov in [m.candidate for m in found]


def test_a_phone_fragment_finds_its_client_among_many():
    base = _base(500)
    found = matching.resolve("999 0000123", base, min_score=MIN_SCORE, limit=LIMIT)
    assert found.kind is MatchKind.UNIQUE and found.best.id == 123
    assert (
        matching.resolve("8 999 000-01-23", base, min_score=MIN_SCORE, limit=LIMIT).best.id == 123
    )


def test_an_empty_base_matches_nothing():
    prepared = matching.prepare([])
    assert matching.resolve("Иванов", prepared, min_score=MIN_SCORE, limit=LIMIT).kind is (
        MatchKind.NONE
    )
