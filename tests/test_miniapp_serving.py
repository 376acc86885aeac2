"""How the Mini App is served and switched on: the page's files from the package (and nothing
outside them), the menu button when MINIAPP_URL is set (a failure logged, never fatal), the
routes on the bot's own HTTP server, and the console playground's one-time login link."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram.methods import SetChatMenuButton
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from bot.app import Application, Overrides, build
from bot.clock import FrozenClock
from bot.config import Settings
from bot.miniapp.playground import start_playground_app
from bot.miniapp.server import MiniAppServer, static_dir
from bot.runtime import Runtime
from bot.runtime.bot_api import set_menu_button
from bot.telegram.console import ConsolePrinter, miniapp_lines
from bot.telegram.local_session import LocalSession
from tests.conftest import REFERENCE_MOMENT
from tests.support.miniapp import TOKEN

URL = "https://bot.example.org/app/"


def _app(tmp_path: Path, **values: object) -> tuple[Application, LocalSession]:
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
        **values,  # type: ignore[arg-type]
    )
    session = LocalSession()
    app = build(settings, Overrides(clock=FrozenClock(REFERENCE_MOMENT), session=session))
    return app, session


@pytest.fixture
def page(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    (folder / "js").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>page</title>")
    (folder / "js" / "app.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not for the web")
    return folder


@pytest.fixture
async def served(tmp_path: Path, page: Path) -> AsyncIterator[TestClient]:
    app, _session = _app(tmp_path)
    web_app = aiohttp.web.Application()
    MiniAppServer(app, static=page).add_routes(web_app.router)
    client = TestClient(TestServer(web_app))
    await client.start_server()
    yield client
    await client.close()
    await app.close()


async def test_the_page_and_its_files_are_served_with_a_strict_policy(served: TestClient):
    response = await served.get("/app/")
    assert response.status == 200 and "<title>page</title>" in await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org;" in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    asset = await served.get("/app/static/js/app.js")
    assert asset.status == 200 and "console.log" in await asset.text()
    redirect = await served.get("/app", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/app/"


@pytest.mark.parametrize(
    "path",
    [
        "/app/static/../secret.txt",
        "/app/static/%2e%2e/secret.txt",
        "/app/static/js/../../secret.txt",
        "/app/static/nothing.js",
        "/app/static/js",
    ],
)
async def test_nothing_outside_the_page_folder_is_served(served: TestClient, path: str):
    response = await served.get(path)
    assert response.status == 404
    assert "not for the web" not in await response.text()


def test_the_page_folder_is_inside_the_package():
    assert static_dir().parent.name == "miniapp"
    assert static_dir().parent.joinpath("server.py").is_file()


async def test_the_runtime_serves_the_mini_app_beside_the_probes(tmp_path: Path):
    app, _session = _app(tmp_path)
    runtime = Runtime(app, scheduler=False)
    client = TestClient(TestServer(runtime.web_app()))
    await client.start_server()
    try:
        response = await client.get("/app/api/me")
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "auth_missing"
        assert (await client.get("/health")).status == 200
    finally:
        await client.close()
        await app.close()


async def test_the_menu_button_opens_the_mini_app_when_its_url_is_set(tmp_path: Path):
    app, session = _app(tmp_path, miniapp_url=URL)
    await set_menu_button(app)
    [call] = session.sent(SetChatMenuButton)
    assert call.menu_button.web_app.url == URL
    assert call.menu_button.text == "База продаж"  # DEFAULT_LANGUAGE ru
    await app.close()


async def test_no_menu_button_without_the_url(tmp_path: Path):
    app, session = _app(tmp_path)
    await set_menu_button(app)
    assert session.sent(SetChatMenuButton) == []
    await app.close()


async def test_a_failed_menu_button_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    app, session = _app(tmp_path, miniapp_url=URL)
    session.fail_next(400, "Bad Request: WEB_APP_URL_INVALID", method=SetChatMenuButton)
    with caplog.at_level(logging.WARNING):
        await set_menu_button(app)
    assert any("menu button not set" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    await app.close()


def test_the_mini_app_url_must_be_https():
    with pytest.raises(ValidationError, match="MINIAPP_URL"):
        Settings(_env_file=None, miniapp_url="http://bot.example.org/app/")
    assert Settings(_env_file=None, miniapp_url=URL).miniapp_url == URL


async def test_the_playground_prints_a_one_time_login_for_its_owner(tmp_path: Path):
    app, _session = _app(tmp_path)
    playground = await start_playground_app(app, 0)
    assert playground is not None
    try:
        link = playground.link()
        assert link.startswith(f"http://127.0.0.1:{playground.port}/app/#login=")
        code = link.split("#login=")[1]
        out = io.StringIO()
        print(miniapp_lines(link), file=ConsolePrinter(out).out)
        assert "!app" in out.getvalue()
        url = f"http://127.0.0.1:{playground.port}/app/api/login"
        async with aiohttp.ClientSession() as http:
            first = await http.post(url, json={"code": code})
            assert first.status == 200 and (await first.json())["session"]
            again = await http.post(url, json={"code": code})
            assert again.status == 401
    finally:
        await playground.close()
        await app.close()
