"""The Mini App's API in tests: the real application (bot/app.py `build`, as the harness makes
it) behind aiohttp's test client, and initData signed as Telegram signs it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.miniapp import auth
from bot.miniapp.server import MiniAppServer
from tests.support.harness import BotHarness, Person

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-miniapp"


def miniapp_settings(tmp_path: Path) -> Settings:
    """The Mini App tests' settings: the token initData is signed with, SQLite in memory (the
    harness swaps in PostgreSQL for its backend)."""
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_url="sqlite+aiosqlite:///:memory:",
        import_files={"parsed_dir": tmp_path / "imports"},
    )


def init_data(person: Person, signed_at: datetime, *, token: str = TOKEN) -> str:
    """initData as Telegram.WebApp.initData carries it for `person`, signed at `signed_at`."""
    user = {"id": person.id, "first_name": person.first_name, "language_code": person.language}
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(signed_at.timestamp())),
    }
    fields["hash"] = auth.sign(fields, token)
    return urlencode(fields)


class ApiClient:
    """Calls as `person`, signed at the harness clock's now (or with a header given)."""

    def __init__(self, client: TestClient, harness: BotHarness, server: MiniAppServer) -> None:
        self.client = client
        self.harness = harness
        self.server = server

    def headers(self, person: Person | None) -> dict[str, str]:
        if person is None:
            return {}
        return {"Authorization": "tma " + init_data(person, self.harness.clock.now())}

    async def call(
        self,
        method: str,
        path: str,
        person: Person | None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        response = await self.client.request(
            method,
            "/app/api" + path,
            json=body,
            headers=headers if headers is not None else self.headers(person),
            params=params,
        )
        return response.status, await response.json()

    async def get(self, path: str, person: Person | None, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, person, **kw)

    async def post(self, path: str, person: Person | None, body: Any, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, person, body, **kw)

    async def patch(
        self, path: str, person: Person | None, body: Any, **kw: Any
    ) -> tuple[int, Any]:
        return await self.call("PATCH", path, person, body, **kw)


@asynccontextmanager
async def api_client(harness: BotHarness, **server_args: Any) -> AsyncIterator[ApiClient]:
    server = MiniAppServer(harness.app, **server_args)
    app = web.Application()
    server.add_routes(app.router)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield ApiClient(client, harness, server)
    finally:
        await client.close()


@asynccontextmanager
async def page_server(team: BotHarness) -> AsyncIterator[tuple[MiniAppServer, str]]:
    """The Mini App's routes of the real application on a loopback port, for a browser:
    (server, page URL)."""
    server = MiniAppServer(team.app)
    app = web.Application()
    server.add_routes(app.router)
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()
    try:
        yield server, str(http.make_url("/app/"))
    finally:
        await http.close()
