"""Client name lookup: the cost of one resolve over a manager's ~500 clients.

    python -m bench.matching [--clients 500] [--repeats 2000] [--against REV]

Times `matching.resolve` (one name, as in `/call Ivanov done`) and `matching.resolve_prefix`
(`/note Ivanov wants a discount`: up to four leading runs of words) for an exact full name, a
surname only, a typo, a phone fragment and a name nobody has, on candidates prepared once (as the
candidate cache keeps them between updates). Prints µs per lookup. With `--against REV` the
same lookups also run on bot/services/matching.py as of git revision REV, interleaved with the
current code so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.generate import FIRST, SURNAMES
from bot.services import matching
from storage.dto import MatchCandidate

MIN_SCORE, LIMIT = 72.0, 6


def candidates(count: int, seed: int = 7) -> list[MatchCandidate]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        name = f"{rng.choice(SURNAMES)} {rng.choice(FIRST)} {rng.choice(FIRST)}ович"
        if n % 4 == 0:
            name = f"ООО {rng.choice(SURNAMES)} и партнёры"
        contact = f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}"
        phone = f"7999{rng.randrange(10**7):07d}"
        out.append(MatchCandidate(n + 1, name, matching.search_text([name, contact]), phone, 1))
    return out


def timed(call: Callable[[], Any], repeats: int) -> float:
    call()
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - started) / repeats * 1e6


def module_at(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:bot/services/matching.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "matching_reference.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("matching_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def lookups(module: ModuleType, pool: list[MatchCandidate], repeats: int) -> dict[str, tuple]:
    prepare = getattr(module, "prepare", None)
    prepared: Any = prepare(pool) if prepare else pool
    unique = next(c for c in pool if sum(x.name == c.name for x in pool) == 1)
    surname, first = unique.name.split()[:2]
    queries = {
        "exact full name": unique.name,
        "surname only": surname,
        "typo": surname[:-1] + "а" + " " + first,
        "phone fragment": unique.phone_digits[-7:],
        "nobody": "Жмыхов",
    }
    out: dict[str, tuple] = {}
    for label, query in queries.items():
        one = timed(
            lambda q=query: module.resolve(q, prepared, min_score=MIN_SCORE, limit=LIMIT),
            repeats,
        )
        words = (query + " хочет скидку к празднику").split()
        lead = timed(
            lambda w=words: module.resolve_prefix(w, prepared, min_score=MIN_SCORE, limit=LIMIT),
            repeats // 4 or 1,
        )
        found = module.resolve(query, prepared, min_score=MIN_SCORE, limit=LIMIT)
        out[label] = (one, lead, found.kind, len(found.matches))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--against", help="git revision of matching.py to compare with")
    args = parser.parse_args()
    pool = candidates(args.clients)
    modules = {"now": matching}
    if args.against:
        modules = {args.against: module_at(args.against), "now": matching}
    results: dict[str, dict[str, list[tuple]]] = {name: {} for name in modules}
    for _round in range(3):  # interleaved: both versions see the same load
        for name, module in modules.items():
            for label, row in lookups(module, pool, args.repeats // 3 or 1).items():
                results[name].setdefault(label, []).append(row)
    print(f"{args.clients} candidates, µs per lookup (best of 3 rounds)")
    for name, rows in results.items():
        print(f"[{name}]")
        for label, runs in rows.items():
            one = min(r[0] for r in runs)
            lead = min(r[1] for r in runs)
            kind, count = runs[0][2], runs[0][3]
            print(f"  {label:16} resolve {one:8.1f}   resolve_prefix {lead:8.1f}   {kind} {count}")
    prepare = getattr(matching, "prepare", None)
    if prepare:
        print(f"prepare (once per roster version): {timed(lambda: prepare(pool), 20):.0f} µs")


if __name__ == "__main__":
    main()
