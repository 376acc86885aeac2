"""The Mini App's endpoints (docs/miniapp.md): parse the request, call the services, shape JSON.

Thin like handlers/: access rules, validation and audit live in the services, so the page and
the chat cannot disagree. Every endpoint runs in the request's unit of work (bot/miniapp/server.py).
"""

from __future__ import annotations

from typing import Any

from bot.miniapp import shapes, texts
from bot.miniapp.server import Call
from bot.services.access import sees_whole_team
from storage.enums import Role


async def me(call: Call) -> dict[str, Any]:
    actor = call.actor
    team_wide = sees_whole_team(actor)
    return {
        "member": shapes.member(actor.member),
        "team": shapes.team(actor.team),
        "language": texts.language(),
        "can": {
            "see_team": team_wide,
            "reassign": team_wide,
            "portfolio_team": team_wide,
            "export": actor.member.role == Role.OWNER or actor.member.can_export,
        },
    }


async def page_texts(call: Call) -> dict[str, Any]:
    return texts.translated()


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/me", me),
    ("GET", "/texts", page_texts),
]
