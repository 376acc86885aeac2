"""A real headless Chromium for the Mini App's tests: the system's browser (Debian's
/usr/bin/chromium, or CHROMIUM_PATH) driven by Playwright's Python package, which is never
allowed to download a browser of its own. Absent: the tests skip, or fail when CI=true (as
PostgreSQL and Redis do, tests/support/services.py).

Screenshots go to build/screenshots/ (gitignored) or SCREENSHOT_DIR; the test prints where."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
# A phone: the width the issue asks the page to work at.
PHONE = {"width": 360, "height": 740}
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def chromium_path() -> str | None:
    wanted = os.environ.get("CHROMIUM_PATH")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    return found


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def phone_page(*, locale: str = "en-US", color_scheme: str = "light") -> AsyncIterator[Any]:
    """A fresh browser and a 360×740 page. Requests to telegram.org are refused at once: the
    page must work without Telegram's script, and the tests never reach the network."""
    from playwright.async_api import async_playwright

    path = chromium_path()
    assert path is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=path,
            # Containers run as root without user namespaces: Chromium's sandbox cannot start.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            context = await browser.new_context(
                viewport=PHONE,
                device_scale_factor=1,
                is_mobile=True,
                has_touch=True,
                locale=locale,
                color_scheme=color_scheme,  # type: ignore[arg-type]
            )
            await context.route("https://telegram.org/**", lambda route: route.abort())
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def console(message: Any) -> None:
                # A refused request is the browser's note, not the page's error: the API's
                # 400s are part of the journeys, and telegram.org is refused on purpose.
                if message.type == "error" and not message.text.startswith(
                    "Failed to load resource"
                ):
                    errors.append(message.text)

            page.on("console", console)
            page.errors = errors  # read by the tests: an uncaught error fails them
            yield page
        finally:
            await browser.close()


# Everything a finger may tap that is smaller than 40 px (a checkbox counts through its label),
# and how far the page is wider than the screen (a table scrolls inside its own box, never the
# page).
_PHONE_FIT = """() => {
  const small = [];
  const targets = document.querySelectorAll(
    "a, button, select, textarea, summary, label.check, input:not([type=checkbox])");
  for (const el of targets) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    const name = el.id || el.textContent.trim().slice(0, 30);
    if (box.height < 40 - 0.5) small.push(`${el.tagName} ${name}: ${box.height}`);
  }
  return {small, overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


async def phone_fit(page: Any) -> tuple[list[str], int]:
    """(targets under 40 px high, pixels the page overflows the screen's width)."""
    found = await page.evaluate(_PHONE_FIT)
    return list(found["small"]), int(found["overflow"])


def telegram_stub(init: str, user_id: int, *, language: str = "en") -> str:
    """A script that sets up Telegram.WebApp as a phone's Telegram does, dark theme, with the
    signed `init` data: Telegram's own script is refused in the tests, and this stands in for it.
    Its BackButton records its handlers (`handlers`) and whether it is `shown`."""
    web_app = {
        "initData": init,
        "initDataUnsafe": {"user": {"id": user_id, "language_code": language}},
        "colorScheme": "dark",
        "themeParams": {
            "bg_color": "#17212b",
            "text_color": "#f5f5f5",
            "hint_color": "#708499",
            "link_color": "#6ab3f3",
            "button_color": "#5288c1",
            "button_text_color": "#ffffff",
            "secondary_bg_color": "#232e3c",
            "section_bg_color": "#17212b",
        },
    }
    return (
        "window.Telegram = {WebApp: Object.assign(" + json.dumps(web_app) + ", {"
        "ready() {}, expand() {}, onEvent() {}, "
        "BackButton: {shown: false, handlers: [], show() { this.shown = true; }, "
        "hide() { this.shown = false; }, onClick(f) { this.handlers.push(f); }, "
        "offClick(f) { this.handlers = this.handlers.filter((g) => g !== f); }}, "
        "HapticFeedback: {notificationOccurred() {}}})};"
    )
