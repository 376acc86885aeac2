"""Texts of the outbox alerts (`bot.services.alerts`), one function per step.

Made at send time, inside the recipient's locale. Params come from JSON, so every function
escapes what it puts into HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.services.alerts import Alert
from bot.telegram.team_render import TEAM_ALERTS

AlertText = Callable[[Mapping[str, Any]], str]

ALERT_TEXTS: dict[str, AlertText] = {}
ALERT_TEXTS.update(TEAM_ALERTS)


def alert_text(alert: Alert) -> str | None:
    """None for a step this version does not know (a newer instance wrote it): not sent."""
    render = ALERT_TEXTS.get(alert.step)
    return None if render is None else render(alert.params)
