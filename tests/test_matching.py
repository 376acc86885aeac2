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


def _every_run(words: list[str], prepared: matching.Candidates) -> tuple[matching.Resolution, int]:
    """resolve_prefix as it is defined: every leading run ranked, the best score, longer on a
    tie (what the exact-name shortcut must agree with)."""
    best: tuple[matching.Resolution, int] = (matching.Resolution(MatchKind.NONE, ()), 0)
    best_score = -1.0
    for count in range(1, min(4, len(words)) + 1):
        resolution = matching.resolve(
            " ".join(words[:count]), prepared, min_score=MIN_SCORE, limit=LIMIT
        )
        if resolution.kind is not MatchKind.NONE and resolution.matches[0].score >= best_score:
            best, best_score = (resolution, count), resolution.matches[0].score
    return best


def test_a_leading_name_is_found_as_if_every_run_of_words_were_ranked():
    rng = random.Random(11)
    base = [
        *_base(300),
        _client(901, "Иванов"),
        _client(902, "Иванов Пётр"),
        _client(903, "Иванов Пётр Сергеевич"),
        _client(904, "Ivanov Petr"),
        _client(905, "Петров 79991234567"),
        _client(906, "Смирнов", phone="79990001122"),
        # A one-letter name followed by digits reads as a phone: that longer run can win.
        _client(907, "Q"),
    ]
    prepared = matching.prepare(base)
    names = [c.name for c in base] + [
        "Иванов Пётр",
        "Ivanov",
        "Жмыхов",
        "79990001122",
        "0001122",
        "Q",
    ]
    tails = [
        "",
        "просил скидку",
        "пётр",
        "Пётр Сергеевич ждёт",
        "79991234567 ok",
        "1122",
        "17",
        "79990001122",
    ]
    shortcuts = 0
    for _ in range(400):
        words = f"{rng.choice(names)} {rng.choice(tails)}".split()
        got = matching.resolve_prefix(words, prepared, min_score=MIN_SCORE, limit=LIMIT)
        assert got == _every_run(words, prepared), words
        shortcuts += got[0].kind is MatchKind.UNIQUE and got[0].matches[0].score == 100.0
    assert shortcuts > 100
