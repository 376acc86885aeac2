"""The portfolio page's lists in a real headless Chromium, on SQLite and PostgreSQL: the main
answer carries each list's first 20 rows, "Show more" asks the server for the next ones (GET
portfolio/list, GET portfolio/cell) until the list is whole, in the report's order; the charts
fill in after the numbers (GET portfolio/series)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.miniapp.server import MiniAppServer
from bot.services.context import Actor
from bot.services.portfolio.periods import month_of
from tests.support import browser
from tests.support.builders import MANAGER, OWNER, TeamSpec
from tests.support.harness import BotHarness
from tests.support.miniapp import miniapp_settings, page_server
from tests.support.services import require

# 45 clients with a potential, every one buying a little this month: the plan holds 45 lines
# (20 in the main answer, then two "Show more" pages of 50 at most), and all of them sit in
# the matrix's Z column (one deal each: no regularity yet).
CLIENTS = 45
TEAM = TeamSpec(
    invited=(MANAGER,),
    commands=(
        *((MANAGER, f"/add Firm{n:02d}, potential: {n}00000") for n in range(1, CLIENTS + 1)),
        *((MANAGER, f"/deal Firm{n:02d} {1000 + n}") for n in range(1, CLIENTS + 1)),
    ),
    clear=True,
)


@pytest.fixture(autouse=True)
def chromium() -> None:
    require(browser.browser_problem())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return miniapp_settings(tmp_path)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TEAM


@pytest.fixture
async def served(team: BotHarness) -> AsyncIterator[tuple[MiniAppServer, str]]:
    async with page_server(team) as pair:
        yield pair


async def planned(team: BotHarness, served: tuple[MiniAppServer, str]) -> list[str]:
    async with team.uow_factory() as uow:
        member, found = await uow.members.with_team(OWNER.id)  # type: ignore[misc]
        report = (
            await served[0]
            .parts.services(uow)
            .portfolio.report(Actor(member, found), month_of(team.clock.now().date()), None)
        )
    return [line.name for line in report.planned]


async def test_show_more_reads_the_rest_of_a_list_from_the_server(
    team: BotHarness, served: tuple[MiniAppServer, str], backend: str
):
    from playwright.async_api import expect

    server, url = served
    asked: list[str] = []
    async with browser.phone_page() as page:
        page.on("request", lambda request: asked.append(request.url))
        code = server.logins.issue(OWNER.id, team.clock.now())
        await page.goto(url + "#login=" + code)
        await page.locator("#clients").wait_for()
        await page.click("a[data-tab=portfolio]")

        plan = page.locator("#plan-table tbody tr")
        await expect(plan).to_have_count(20)
        more = page.locator("#plan-table-more")
        await more.click()
        await expect(plan).to_have_count(CLIENTS)
        await expect(more).to_have_count(0)  # the list is whole: no more to ask for
        shown = [name.strip() for name in await plan.locator("td:first-child").all_inner_texts()]
        assert shown == await planned(team, served)

        # The charts came after the numbers, from their own request.
        await expect(page.locator("#activity-chart svg")).to_be_visible()

        # The fullest cell (A: 80 % of the revenue, over 20 clients): 20 at the tap, the
        # rest on "Show more".
        counts = await page.eval_on_selector_all(
            "button.cell",
            "cells => cells.map(c => [c.dataset.cell, Number(c.querySelector('.n').textContent)])",
        )
        key, counted = max(counts, key=lambda pair: pair[1])
        assert counted > 20, counts
        await page.click(f"button.cell[data-cell={key}]")
        rows = page.locator("#cell-table tbody tr")
        await expect(rows).to_have_count(20)
        await page.click("#cell-table-more")
        await expect(rows).to_have_count(counted)
        assert page.errors == [], page.errors

    paths = [a.split("/app/api/")[1].split("?")[0] for a in asked if "/app/api/" in a]
    assert "portfolio/series" in paths and "portfolio/list" in paths and "portfolio/cell" in paths
    main = next(a for a in asked if "/app/api/portfolio?" in a)
    assert "top=20" in main
