"""Lookup candidates kept between updates, valid while the team's roster version stands.

Kept prepared (bot/services/matching.py `Candidates`: variants split, words indexed), so a
lookup does no per-client work in Python."""

from __future__ import annotations

from collections import OrderedDict

from bot.services.matching import Candidates

Key = tuple[int, int | None]  # team id, manager id (None: the whole team)


class CandidateCache:
    def __init__(self, max_entries: int = 512) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[Key, tuple[int, Candidates]] = OrderedDict()

    def get(self, key: Key, version: int) -> Candidates | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Key, version: int, candidates: Candidates) -> None:
        self._entries[key] = (version, candidates)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
