"""docker-compose.yml and the Dockerfile match the code: every variable the bot services set is
a real setting, the values make a valid webhook configuration, and the health probes work."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import main
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runtime import Runtime
from tests.support.runtime_kit import GatedSession, runtime_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = (ROOT / "docker-compose.yml").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _block(text: str, header: str) -> list[str]:
    """The lines nested under the first line that is exactly `header` (indentation-aware; the
    venv has no YAML parser, and the compose file keeps to plain block mappings)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip() == header:
            indent = len(line) - len(line.lstrip())
            body: list[str] = []
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            return body
    raise AssertionError(f"{header!r} not found")


def _bot_environment() -> dict[str, str]:
    env_lines = _block("\n".join(_block(COMPOSE, "x-bot: &bot")), "  environment:")
    pairs: dict[str, str] = {}
    for line in env_lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        match = re.fullmatch(r"\s{4}([A-Z][A-Z0-9_]*): (.*)", line)
        assert match, f"unexpected line in environment: {line!r}"
        pairs[match.group(1)] = match.group(2).strip().strip('"')
    return pairs


def _is_setting(name: str) -> bool:
    model: type[BaseModel] = Settings
    parts = name.lower().split("__")
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if depth < len(parts) - 1:
            nested = field.annotation
            if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
                return False
            model = nested
    return True


def _substituted(value: str) -> str:
    """${VAR}, ${VAR:-default} and ${VAR:?message} as an operator's .env would fill them."""
    samples = {
        "BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-compose",
        "PUBLIC_HOST": "bot.example.org",
        "WEBHOOK_SECRET": "0123456789abcdef",
        "POSTGRES_PASSWORD": "compose-password",
    }

    def fill(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3) or ""
        if name in samples:
            return samples[name]
        return rest if op == ":-" else ""

    return re.sub(r"\$\{([A-Z_]+)(?:(:[-?])([^}]*))?\}", fill, value)


def test_every_variable_the_bot_services_set_is_a_real_setting():
    env = _bot_environment()
    assert len(env) >= 10
    unknown = [name for name in env if not _is_setting(name)]
    assert unknown == []
    assert _is_setting("DELIVERY__GLOBAL_PER_SECOND") and not _is_setting("DELIVERY__NOPE")
    assert not _is_setting("POSTGRES_PASSWORD")


def test_the_compose_values_make_a_valid_webhook_configuration(monkeypatch: pytest.MonkeyPatch):
    for name, value in _bot_environment().items():
        monkeypatch.setenv(name, _substituted(value))
    settings = Settings(_env_file=None)
    assert settings.bot_mode == "webhook" and settings.has_token
    assert settings.public_webhook_url == "https://bot.example.org/telegram/webhook"
    assert settings.database_url.startswith("postgresql+asyncpg://salesbot:")
    assert settings.redis_url is not None and settings.log_format == "json"
    assert settings.owner_telegram_id is None  # `${OWNER_TELEGRAM_ID:-}` means unset
    assert settings.migrate_on_start is False
    assert settings.listen_port == 8080


def test_two_replicas_postgres_redis_and_healthchecks():
    services = _block(COMPOSE, "services:")
    names = [m.group(1) for line in services if (m := re.fullmatch(r"  ([a-z0-9-]+):", line))]
    assert {"bot-1", "bot-2", "postgres", "redis", "migrate"} <= set(names)
    for replica in ("bot-1", "bot-2"):
        assert "    <<: *bot" in _block("\n".join(services), f"  {replica}:")
    bot = "\n".join(_block(COMPOSE, "x-bot: &bot"))
    assert '"probe", "--ready"' in bot  # readiness in compose
    assert "stop_grace_period: 30s" in bot
    assert "pg_isready" in COMPOSE and "redis-cli" in COMPOSE
    # The proxy forwards the bot's webhook path to the port the replicas listen on, and only
    # to replicas that are ready.
    caddyfile = "\n".join(_block(COMPOSE, "    content: |"))
    env = _bot_environment()
    assert f"handle {env['WEBHOOK_PATH']} {{" in caddyfile
    assert f"bot-1:{env['WEBHOOK_PORT']} bot-2:{env['WEBHOOK_PORT']}" in caddyfile
    assert "health_uri /ready" in caddyfile


def test_dockerfile_exposes_the_port_and_probes_liveness_as_pid_1():
    assert "EXPOSE 8080" in DOCKERFILE
    assert 'CMD ["python", "-m", "bot", "probe"]' in DOCKERFILE
    assert 'CMD ["python", "-m", "bot", "run"]' in DOCKERFILE  # exec form: SIGTERM reaches it
    assert "sh -c" not in DOCKERFILE


async def test_probe_command_checks_health_and_readiness(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, backend: str
):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the probe")
    runtime = Runtime.create(
        runtime_settings(), clock=clock, session=GatedSession(), engine=engine, scheduler=False
    )
    server = TestServer(runtime.web_app())
    await server.start_server()
    try:
        for name, value in {
            "BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-compose",
            "BOT_MODE": "webhook",
            "WEBHOOK_URL": "https://bot.example.org",
            "WEBHOOK_SECRET": "probe-secret-0123456789",
            "WEBHOOK_PORT": str(server.port),
        }.items():
            monkeypatch.setenv(name, value)
        assert await asyncio.to_thread(main, ["probe"]) == 0
        assert await asyncio.to_thread(main, ["probe", "--ready"]) == 0
        runtime._closing = True
        assert await asyncio.to_thread(main, ["probe", "--ready"]) == 1
        assert await asyncio.to_thread(main, ["probe"]) == 0  # alive while draining
    finally:
        await server.close()
        await runtime.close()
