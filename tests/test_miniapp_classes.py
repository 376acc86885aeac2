"""The base table's ABC-XYZ classes (bot/services/class_cache.py): served at once and refreshed
in the background, one rebuild per team; the first page after a start answers without them and
a class filter says they are being computed; a failed rebuild is logged, tried again and never
breaks the page; time comes from the clock. And the rebuild's classes are `/portfolio`'s, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.config import AnalyticsSettings, Settings
from bot.errors import ErrorCode
from bot.i18n import use_locale
from bot.miniapp.errors import plain
from bot.services import base_table, class_cache
from bot.services.class_cache import ClassCache, Classes, compute_classes
from bot.services.portfolio.periods import Period, month_of
from bot.telegram.error_texts import error_text
from storage.db import create_session_factory
from storage.models import Client
from storage.uow import UnitOfWorkFactory
from tests.support import portfolio_data
from tests.support.builders import MANAGER, NOW, OWNER, TeamSpec
from tests.support.harness import BotHarness
from tests.support.miniapp import ApiClient, api_client, miniapp_settings
from tests.test_miniapp_api import IVANOV
from tests.test_portfolio_service import _actor, _service

NOVEMBER = month_of(date(2026, 11, 1))
DECEMBER = month_of(date(2026, 12, 1))
KEY = (1, "RUB")
START = datetime(2026, 12, 2, 7, 15, tzinfo=UTC)


class Rebuilds:
    """A loader that counts its calls, can be held until released and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    def __call__(self, period: Period, of: dict[int, tuple[str | None, str | None]]) -> Any:
        async def load() -> Classes:
            self.calls += 1
            await self.release.wait()
            if self.fail:
                raise RuntimeError("the database went away")
            return Classes(period, of)

        return load


# -- the cache on its own: a loader instead of the database ------------------------------------


async def test_the_first_ask_gets_nothing_and_starts_one_rebuild():
    cache, loads = ClassCache(300), Rebuilds()
    assert cache.get(KEY, NOVEMBER, START, loads(NOVEMBER, {1: ("A", "X")})) is None
    await cache.settled()
    found = cache.get(KEY, NOVEMBER, START, loads(NOVEMBER, {}))
    assert found is not None and found.of == {1: ("A", "X")}
    assert (loads.calls, cache.rebuilds) == (1, 1)


async def test_stale_classes_are_served_while_one_rebuild_runs_for_many_asks():
    clock = FrozenClock(START)
    cache, loads = ClassCache(300), Rebuilds()
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {1: ("A", "X")}))
    await cache.settled()
    clock.advance(timedelta(seconds=301))
    loads.release.clear()  # the rebuild is slow: every ask meanwhile gets the old classes
    served = [
        cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {1: ("C", "Z")})) for _ in range(20)
    ]
    await asyncio.sleep(0)
    assert all(found is not None and found.of == {1: ("A", "X")} for found in served)
    assert (cache.rebuilds, cache.running) == (2, 1)
    loads.release.set()
    await cache.settled()
    found = cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert found is not None and found.of == {1: ("C", "Z")}
    assert (loads.calls, cache.rebuilds) == (2, 2)


async def test_the_clock_decides_when_classes_are_stale():
    clock = FrozenClock(START)
    cache, loads = ClassCache(300), Rebuilds()
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    await cache.settled()
    clock.advance(timedelta(seconds=299))
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert cache.rebuilds == 1
    clock.advance(timedelta(seconds=1))
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert cache.rebuilds == 2
    await cache.settled()
    # A clock set back (tests, a corrected system clock) does not keep classes "fresh" forever.
    clock.advance(timedelta(hours=-1))
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert cache.rebuilds == 3
    await cache.settled()


async def test_a_new_month_serves_the_last_months_classes_until_its_own_are_done():
    cache, loads = ClassCache(300), Rebuilds()
    cache.get(KEY, NOVEMBER, START, loads(NOVEMBER, {1: ("A", "X")}))
    await cache.settled()
    found = cache.get(KEY, DECEMBER, START, loads(DECEMBER, {1: ("B", "Y")}))
    # Labelled with their own month: the page says which month the letters are of.
    assert found is not None and found.period == NOVEMBER
    await cache.settled()
    found = cache.get(KEY, DECEMBER, START, loads(DECEMBER, {}))
    assert found is not None and (found.period, found.of) == (DECEMBER, {1: ("B", "Y")})


async def test_a_failed_rebuild_is_logged_kept_apart_and_tried_again(
    caplog: pytest.LogCaptureFixture,
):
    clock = FrozenClock(START)
    cache, loads = ClassCache(300, retry_seconds=30), Rebuilds()
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {1: ("A", "X")}))
    await cache.settled()
    clock.advance(timedelta(seconds=301))
    loads.fail = True
    with caplog.at_level(logging.ERROR, logger="bot.services.class_cache"):
        found = cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
        await cache.settled()
    assert found is not None and found.of == {1: ("A", "X")}
    [record] = [r for r in caplog.records if r.name == "bot.services.class_cache"]
    assert "team 1" in record.getMessage() and "RuntimeError" in record.getMessage()
    assert record.exc_info is not None
    # The last classes are still served; no new try within `retry_seconds`...
    clock.advance(timedelta(seconds=29))
    found = cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert found is not None and found.of == {1: ("A", "X")}
    assert cache.rebuilds == 2
    # ...and one after it, which succeeds.
    loads.fail = False
    clock.advance(timedelta(seconds=1))
    cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {2: ("B", "Z")}))
    await cache.settled()
    assert cache.rebuilds == 3
    found = cache.get(KEY, NOVEMBER, clock.now(), loads(NOVEMBER, {}))
    assert found is not None and found.of == {2: ("B", "Z")}


async def test_closing_stops_a_rebuild_under_way():
    cache, loads = ClassCache(300), Rebuilds()
    loads.release.clear()
    cache.get(KEY, NOVEMBER, START, loads(NOVEMBER, {}))
    await asyncio.sleep(0)
    await cache.close()
    assert cache.running == 0
    assert cache.get(KEY, NOVEMBER, START, loads(NOVEMBER, {})) is None  # nothing was kept
    # and the ask after closing starts no rebuild on a database being closed
    assert (cache.running, cache.rebuilds) == (0, 1)
    loads.release.set()
    await cache.settled()
    assert loads.calls == 1


# -- through the API: the real application, SQLite and PostgreSQL ------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return miniapp_settings(tmp_path)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER,),
        commands=(
            (MANAGER, "/add Иванов Пётр, +7 999 123-45-67, hot"),
            (MANAGER, "/add Petrov Trade, segment: retail"),
            (MANAGER, "/deal Иванов 150000 margin 30%"),
        ),
        clear=True,
    )


@pytest.fixture
async def api(team: BotHarness) -> AsyncIterator[ApiClient]:
    async with api_client(team) as client:
        yield client


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Rebuilds read the database only once this is set (a slow computation, held)."""
    gate = asyncio.Event()
    real = base_table.compute_classes

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(base_table, "compute_classes", slow)
    return gate


def classes_of(api: ApiClient) -> ClassCache:
    parts = api.harness.app.parts
    assert parts is not None
    return parts.classes


async def test_the_first_page_after_a_start_does_not_wait_for_the_classes(
    api: ApiClient, held: asyncio.Event
):
    api.harness.clock.advance(timedelta(days=31))  # December (Ivanov's deal) is complete
    cache = classes_of(api)
    status, page = await api.post("/clients/query", OWNER, {"sort": "-revenue"})
    assert status == 200, page
    # The table, its revenue and the month they are of, without letters yet.
    assert page["classes_ready"] is False
    assert page["classes_period"]["key"] == "M202612"
    first = page["items"][0]
    assert (first["name"], first["revenue"], first["abc"], first["xyz"]) == (
        IVANOV,
        "150000.00",
        None,
        None,
    )
    # A class filter cannot be answered yet: said so, in the member's language.
    messages = set()
    for language in ("ru", "en"):
        await api.harness.send(OWNER, f"/settings lang {language}")
        with use_locale(language):
            expected = plain(error_text(ErrorCode.CLASSES_NOT_READY, {}))
        status, answer = await api.post("/clients/query", OWNER, {"abc": ["A"]})
        assert (status, answer["error"]["code"]) == (503, "classes_not_ready"), answer
        assert answer["error"]["message"] == expected
        messages.add(expected)
    assert len(messages) == 2  # translated, not the English sentence twice
    held.set()
    await cache.settled()
    status, page = await api.post("/clients/query", OWNER, {"abc": ["A"]})
    assert status == 200, page
    assert page["classes_ready"] is True
    assert [(i["name"], i["abc"], i["xyz"]) for i in page["items"]] == [(IVANOV, "A", "Z")]


async def test_concurrent_pages_start_one_rebuild(api: ApiClient):
    cache = classes_of(api)
    answers = await asyncio.gather(*(api.post("/clients/query", OWNER, {}) for _ in range(6)))
    assert all(status == 200 for status, _page in answers)
    assert cache.rebuilds == 1
    await cache.settled()
    await api.post("/clients/query", OWNER, {})
    assert cache.rebuilds == 1  # fresh: no rebuild
    api.harness.clock.advance(timedelta(seconds=300))
    answers = await asyncio.gather(*(api.post("/clients/query", OWNER, {}) for _ in range(6)))
    assert all(status == 200 and page["classes_ready"] for status, page in answers)
    assert cache.rebuilds == 2
    await cache.settled()


async def test_a_failing_rebuild_never_breaks_the_page(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    api.harness.clock.advance(timedelta(days=31))
    cache = classes_of(api)
    real = class_cache.load

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(class_cache, "load", broken)
    with caplog.at_level(logging.ERROR, logger="bot.services.class_cache"):
        status, page = await api.post("/clients/query", OWNER, {})
        await cache.settled()
        assert status == 200 and page["classes_ready"] is False
        status, page = await api.post("/clients/query", OWNER, {})
        assert status == 200 and page["items"]
    assert any("failed to compute" in r.getMessage() for r in caplog.records)
    assert cache.rebuilds == 1  # not again at once: after `retry_seconds`
    monkeypatch.setattr(class_cache, "load", real)
    api.harness.clock.advance(timedelta(seconds=30))
    await api.post("/clients/query", OWNER, {})
    await cache.settled()
    status, page = await api.post("/clients/query", OWNER, {"abc": ["A"]})
    assert status == 200 and page["classes_ready"] is True
    assert [i["name"] for i in page["items"]] == [IVANOV]


# -- the rebuild's classes are /portfolio's ---------------------------------------------------


async def _more_deals(uow: Any, team_id: int, managers: list[int], seed: int) -> None:
    """Forty clients buying at random over 2025-10..2026-11: regular, irregular, one-off,
    some in another currency, one month too large to square in SQL (the exact path)."""
    rng = random.Random(seed)
    for n in range(40):
        client = Client(
            team_id=team_id,
            manager_id=rng.choice(managers),
            name=f"Random {n}",
            temperature="warm",
            stage="won",
            stage_changed_at=NOW,
            consent="unknown",
            search_text=f"random {n}",
            phone_digits="",
            created_at=NOW - timedelta(days=800),
            updated_at=NOW,
        )
        uow.session.add(client)
        await uow.session.flush()
        steady = rng.random() < 0.3
        for month in range(14):
            if not steady and rng.random() < 0.6:
                continue
            year, index = divmod(2025 * 12 + 9 + month, 12)
            amount = Decimal(rng.choice([100, 1000, 1000, 1050, 5000, 20000]))
            if n == 7 and month == 13:
                amount = Decimal(3 * 10**12)  # 3·10¹⁴ kopecks: squared exactly, in Python
            await uow.activities.add_deal(
                team_id=team_id,
                client_id=client.id,
                manager_id=rng.choice(managers),
                activity_id=None,
                amount=amount,
                margin_percent=None,
                profit=None,
                currency="USD" if rng.random() < 0.05 else "RUB",
                closed_on=date(year, index + 1, rng.randint(1, 28)),
                now=NOW,
            )


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_rebuilds_classes_are_the_portfolios(engine: AsyncEngine, seed: int):
    uows = UnitOfWorkFactory(create_session_factory(engine))
    async with uows() as uow:
        team = await portfolio_data.build(uow)
        await _more_deals(uow, team.team_id, [team.ivanov, team.petrov], seed)
        await uow.commit()
    analytics = AnalyticsSettings()
    for first in (date(2026, 11, 1), date(2026, 10, 1), date(2026, 3, 1), date(2025, 10, 1)):
        period = month_of(first)
        found = await compute_classes(uows, team.team_id, "RUB", period, analytics)
        for viewer, scope in ((team.owner_id, None), (team.ivanov, team.ivanov)):
            async with uows() as uow:
                actor = await _actor(uow, viewer)
                report = await _service(uow).report(actor, period, scope)
            expected = {
                line.id: (line.abc, line.xyz.cls if line.xyz else None)
                for line in report.clients
                if line.abc is not None
            }
            # A manager's page takes their clients' letters from the team's classes.
            mine = {client: found.of[client] for client in expected}
            assert mine == expected, (period.key, viewer)
            if scope is None:
                assert found.of == expected, period.key
                assert len(expected) > 3
