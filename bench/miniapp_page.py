"""The Mini App's page in a real browser on a base of 100,000 clients (issue 16).

    python -m bench.miniapp_page [--backend sqlite|postgres] [--scale 1.0] [--repeats 5]

The system's Chromium at 360×740 (tests/support/browser.py) opens the page of the running app
(bot/app.py `build` and the Mini App's routes on a loopback port, signed initData) as the owner
of bench.portfolio's base (100,000 clients, 80 % with a next contact, 300,000 activities,
100,000 deals), and times what a member waits for, from the tap to the drawn answer:
- open: the page loaded, started, and the base's first 50 rows drawn;
- filter: hot + overdue picked, its rows drawn;
- next page: the next 50 rows drawn;
- card: a row tapped, the card drawn;
- portfolio: the tab tapped, the team's month's numbers drawn (matrix, tables, health chart),
  then its two series charts (quality trend, weeks' activity) once GET portfolio/series answers.
Each beside its floor measured in the same run: the same API requests alone over HTTP (what
the server takes), and the ratio; what is left is the page's own work and the browser's.
Medians over `--repeats` runs. Numbers on a loaded machine are noisy: the load average is
printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bench.miniapp import add_followups, rebuild_rollups
from bench.portfolio import NOW, generate
from bench.scratch_db import scratch_engine
from bot.app import Overrides, build
from bot.clock import FrozenClock
from bot.config import Settings
from bot.miniapp.server import MiniAppServer
from bot.telegram.local_session import LocalSession
from storage.models import Member
from tests.support import browser
from tests.support.harness import Person
from tests.support.miniapp import TOKEN, init_data


async def median(step: Callable[[], Awaitable[Any]], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def line(backend: str, what: str, page: float, floor: float) -> str:
    return (
        f"[{backend}] {what:<34} page {page * 1000:7.0f} ms   API alone {floor * 1000:7.0f} ms"
        f"   ratio {page / floor:5.1f}"
    )


async def main(args: argparse.Namespace) -> None:
    problem = browser.browser_problem()
    if problem:
        raise SystemExit(problem)
    clients = max(int(100_000 * args.scale), 200)
    async with scratch_engine(args.backend, "miniapp_page") as engine:
        t0 = time.perf_counter()
        team_id, _managers, owner_id = await generate(
            engine,
            managers=20,
            clients=clients,
            activities=int(300_000 * args.scale),
            deals=int(100_000 * args.scale),
        )
        await add_followups(engine, team_id, 0.8)
        await rebuild_rollups(engine)
        async with engine.connect() as conn:
            telegram_id = (
                await conn.execute(select(Member.telegram_id).where(Member.id == owner_id))
            ).scalar_one()
        print(
            f"[{args.backend}] base: {clients} clients, filled in "
            f"{time.perf_counter() - t0:.1f} s; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        owner = Person(telegram_id, "Owner", "en")
        clock = FrozenClock(NOW)
        settings = Settings(_env_file=None, bot_token=TOKEN, database_url="sqlite://")
        app = build(settings, Overrides(clock=clock, session=LocalSession(), engine=engine))
        web_app = web.Application()
        MiniAppServer(app).add_routes(web_app.router)
        client = TestClient(TestServer(web_app, host="127.0.0.1"))
        await client.start_server()
        try:
            await measure(args, client, init_data(owner, clock.now()), owner)
        finally:
            await client.close()
            await app.close()


async def measure(args: argparse.Namespace, client: TestClient, init: str, owner: Person) -> None:
    backend, repeats = args.backend, args.repeats
    headers = {"Authorization": "tma " + init}

    async def api(method: str, path: str, body: Any = None) -> Any:
        response = await client.request(method, "/app/api/" + path, json=body, headers=headers)
        assert response.status == 200, await response.text()
        return await response.json()

    first = {"offset": 0, "limit": 50}
    hot = {"offset": 0, "limit": 50, "temperature": ["hot"], "overdue": True}
    url = str(client.make_url("/app/"))
    async with browser.phone_page() as page:
        await page.add_init_script(browser.telegram_stub(init, owner.id))
        rows = page.locator("#clients tbody tr")

        loads = iter(range(1_000_000))

        async def open_page() -> None:
            # A new address each time: the same one with a fragment would not reload the page.
            await page.goto(f"{url}?load={next(loads)}#/base")
            await rows.nth(49).wait_for()

        async def open_floor() -> None:
            await asyncio.gather(api("GET", "me"), api("GET", "texts"))
            await asyncio.gather(api("GET", "options"), api("GET", "fields"))
            await api("POST", "clients/query", first)

        print(
            line(
                backend,
                "open: first 50 rows",
                await median(open_page, repeats),
                await median(open_floor, repeats),
            )
        )

        async def filtered() -> None:
            await open_page()
            await page.click("#filters summary")
            started = time.perf_counter()
            await page.select_option("#filter-temperature", "hot")
            await page.check("#filter-overdue")
            # (Locators, not page functions: the page's CSP allows no eval.)
            await page.locator("#results:not([aria-busy])").wait_for()
            timings.append(time.perf_counter() - started)

        timings: list[float] = []
        for _ in range(repeats):
            await filtered()
        print(
            line(
                backend,
                "filter: hot + overdue",
                statistics.median(timings),
                await median(lambda: api("POST", "clients/query", hot), repeats),
            )
        )

        timings = []
        for _ in range(repeats):
            await open_page()
            before = await rows.first.get_attribute("data-id")
            started = time.perf_counter()
            await page.click("#next-page")
            await page.locator(
                f"#clients tbody tr:first-child:not([data-id='{before}'])"
            ).wait_for()
            timings.append(time.perf_counter() - started)
        second = {"offset": 50, "limit": 50}
        print(
            line(
                backend,
                "next page",
                statistics.median(timings),
                await median(lambda: api("POST", "clients/query", second), repeats),
            )
        )

        timings = []
        client_id = 0
        for _ in range(repeats):
            await open_page()
            client_id = int(await rows.first.get_attribute("data-id") or 0)
            started = time.perf_counter()
            await rows.first.locator("a").click()
            await page.locator("#card-form").wait_for()
            timings.append(time.perf_counter() - started)
        print(
            line(
                backend,
                "card",
                statistics.median(timings),
                await median(lambda: api("GET", f"clients/{client_id}"), repeats),
            )
        )

        timings = []
        numbers: list[float] = []
        for _ in range(repeats):
            await open_page()
            started = time.perf_counter()
            await page.click("a[data-tab=portfolio]")
            await page.locator("#health-chart").wait_for()
            numbers.append(time.perf_counter() - started)
            # The quality trend and the weeks' activity follow (GET portfolio/series).
            await page.locator("#activity-chart").wait_for()
            timings.append(time.perf_counter() - started)
        print(
            line(
                backend,
                "portfolio: the team's month, numbers",
                statistics.median(numbers),
                await median(lambda: api("GET", "portfolio?top=20"), repeats),
            )
        )

        async def portfolio_floor() -> None:
            await api("GET", "portfolio?top=20")
            await api("GET", "portfolio/series")

        print(
            line(
                backend,
                "portfolio: the team's month, charts",
                statistics.median(timings),
                await median(portfolio_floor, repeats),
            )
        )
        assert page.errors == [], page.errors


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
