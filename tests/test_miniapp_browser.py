"""The Mini App in a real headless Chromium against the running app, one journey per database:
open the base, search, filter, open a card, edit a field and see the change in the chat's
/client; open the portfolio, check its total against /portfolio, tap a matrix cell and see its
clients. Screenshots of each page at 360×740 are saved (tests/support/browser.py says where).

On SQLite the page comes in through the playground's one-time login, in English and a light
theme; on PostgreSQL through Telegram's signed initData (a stand-in Telegram.WebApp with the test
bot's signature and a dark theme), for an owner who reads Russian: both doors, both colour
schemes and both languages are walked. At each page every tap target is at least 40 px high and
nothing is wider than the 360-px screen."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.miniapp.server import MiniAppServer
from tests.support import browser
from tests.support.builders import MANAGER, OWNER, TeamSpec
from tests.support.harness import BotHarness
from tests.support.miniapp import init_data, miniapp_settings, page_server
from tests.support.services import require

# Max's three clients and the owner's one; deals this month make the portfolio's matrix.
TEAM = TeamSpec(
    invited=(MANAGER,),
    commands=(
        (MANAGER, "/add Иванов Пётр, +7 999 123-45-67, Москва, #vip, горячий"),
        (MANAGER, "/add Petrova Anna, +7 912 555-01-02, warm"),
        (MANAGER, "/add Сидоров, cold"),
        (OWNER, "/add Orlov Trade, warm"),
        (MANAGER, "/deal Иванов 150000.50 margin 30%"),
        (MANAGER, "/deal Petrova 40000"),
        (OWNER, "/deal Orlov 9999.99"),
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


def digits(text: str) -> str:
    """An amount's digits and its decimal part, whatever the locale's separators."""
    return re.sub(r"\D", "", text)


async def shot(page: Any, name: str, backend: str) -> Path:
    """The page's screenshot, once it fits a phone: tap targets and width."""
    small, overflow = await browser.phone_fit(page)
    assert small == [], f"{name}: tap targets under 40 px: {small}"
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than the screen"
    path = browser.screenshot_dir() / f"miniapp-{backend}-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_base_card_and_portfolio_in_a_phone_browser(
    team: BotHarness, served: tuple[MiniAppServer, str], backend: str
):
    from playwright.async_api import expect

    server, url = served
    shots: list[Path] = []
    russian = backend == "postgres"
    if russian:
        await team.send(OWNER, "/settings lang ru")
    async with browser.phone_page(
        color_scheme="dark" if russian else "light", locale="ru-RU" if russian else "en-US"
    ) as page:
        if russian:
            await page.add_init_script(
                browser.telegram_stub(init_data(OWNER, team.clock.now()), OWNER.id)
            )
            await page.goto(url)
        else:
            code = server.logins.issue(OWNER.id, team.clock.now())
            await page.goto(url + "#login=" + code)

        # The base: every client the owner may see, Max's and the owner's own.
        rows = page.locator("#clients tbody tr")
        await expect(rows).to_have_count(4)
        await expect(page.locator("#count")).to_have_text("4 клиента" if russian else "4 clients")
        assert "login=" not in page.url  # the one-time code leaves the address bar at once
        assert await page.evaluate("document.documentElement.lang") == ("ru" if russian else "en")
        shots.append(await shot(page, "base", backend))

        # Search as in the chat: Latin letters find a Cyrillic name.
        await page.fill("#search", "ivanov")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Иванов Пётр")
        await page.fill("#search", "")
        await expect(rows).to_have_count(4)

        # Filter: the warm ones.
        await page.click("#filters summary")
        await page.select_option("#filter-temperature", "warm")
        await expect(rows).to_have_count(2)
        await expect(page.locator("#clients")).not_to_contain_text("Иванов")
        shots.append(await shot(page, "base-filtered", backend))
        await page.click("#reset")
        await expect(rows).to_have_count(4)
        # Sorting: by name, Latin before Cyrillic on both databases.
        await page.select_option("#filter-sort", "name")
        await expect(rows.first).to_contain_text("Orlov Trade")
        await expect(rows.last).to_contain_text("Сидоров")

        # The card: open, a bad email refused with the chat's sentence, then a city saved.
        await page.locator("#clients a", has_text="Иванов Пётр").click()
        await expect(page.locator("#client-name")).to_have_text("Иванов Пётр")
        await expect(page.locator("#f-city")).to_have_value("Москва")
        await page.fill("#f-email", "not an email")
        await page.click("#save")
        error = page.locator("#f-email-error")
        await expect(error).not_to_be_empty()
        refusal = await error.inner_text()
        chat = await team.send(OWNER, "/add Тестов, email: not an email")
        assert refusal in chat[-1].text, (refusal, chat[-1].text)
        await page.fill("#f-email", "")
        await page.fill("#f-city", "Казань")
        # Leaving with the edit unsaved asks first; staying keeps it.
        asked: list[str] = []

        async def stay(dialog: Any) -> None:
            asked.append(dialog.message)
            await dialog.dismiss()

        page.once("dialog", stay)
        await page.click("a[data-tab=portfolio]")
        await expect(page.locator("#f-city")).to_have_value("Казань")
        assert asked and asked[0], asked
        await page.click("#save")
        await expect(page.locator("#status")).not_to_be_empty()
        await expect(page.locator("#f-city")).to_have_value("Казань")
        await expect(page.locator("#f-email-error")).to_be_empty()
        # The next contact, with the date picker.
        await page.fill("#next-date", "2026-12-15")
        await page.fill("#next-time", "10:00")
        await page.click("#next-save")
        await expect(page.locator("#next-current")).to_contain_text("15")
        await expect(page.locator("#next-current")).to_contain_text("10:00")

        shots.append(await shot(page, "card", backend))
        if russian:
            # Inside Telegram: its colours, and its Back button instead of the page's own.
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(35, 46, 60)"  # themeParams.secondary_bg_color
            assert await page.evaluate("Telegram.WebApp.BackButton.shown")
            await expect(page.locator("#back")).to_have_count(0)
            await page.evaluate("Telegram.WebApp.BackButton.handlers.forEach((f) => f())")
            await expect(rows).to_have_count(4)
            assert not await page.evaluate("Telegram.WebApp.BackButton.shown")

        card = (await team.send(OWNER, "/client Иванов"))[-1].text
        assert "Казань" in card and "Москва" not in card, card
        assert ("15 декабря 10:00" if russian else "15 December 10:00") in card, card

        # The portfolio: the chat's numbers, then the matrix's cell of the biggest client.
        await page.click("a[data-tab=portfolio]")
        await expect(page.locator("#matrix")).to_be_visible()
        chat_report = (await team.send(OWNER, "/portfolio"))[-1].text
        # The exact sum rides with the figure (150 000,50 + 40 000 + 9 999,99), shown in whole
        # units as the chat shows it.
        total = page.locator("#total-revenue .amount")
        await expect(total).to_have_attribute("data-amount", "200000.49")
        shown = await total.inner_text()
        assert digits(shown) == "200000", shown
        assert f"{shown} " in chat_report.replace("\xa0", " ").replace("\u202f", " ") or (
            digits(shown) in digits(chat_report)
        ), (shown, chat_report)
        # The charts' series follow the main numbers (GET portfolio/series) into their slots.
        await expect(page.locator("#quality-chart svg")).to_be_visible()
        await expect(page.locator("#activity-chart svg")).to_be_visible()
        cell = page.locator("button.cell[data-cell=AZ]")
        await expect(cell.locator(".n")).to_have_text("1")
        await cell.click()
        await expect(page.locator("#cell-table")).to_contain_text("Иванов Пётр")
        shots.append(await shot(page, "portfolio", backend))

        # A client of the cell opens its card; Back returns to the portfolio, the cell open.
        await page.locator("#cell-table a", has_text="Иванов Пётр").click()
        await expect(page.locator("#f-city")).to_have_value("Казань")
        if russian:
            await page.evaluate("Telegram.WebApp.BackButton.handlers.forEach((f) => f())")
        else:
            await page.click("#back")
        await expect(page.locator("#cell-table")).to_contain_text("Иванов Пётр")

        assert page.errors == [], page.errors
    print("\nscreenshots:", *shots, sep="\n  ")
