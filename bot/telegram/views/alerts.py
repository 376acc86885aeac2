"""Texts of the outbox alerts (`bot.services.alerts`), one function per step.

Made at send time, inside the recipient's locale. Params come from JSON, so every function
escapes what it puts into HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from bot.i18n import _, fmt_number, ngettext
from bot.services.alerts import Alert
from bot.telegram.views.team import TEAM_ALERTS

AlertText = Callable[[Mapping[str, Any]], str]


ALERT_TEXTS: dict[str, AlertText] = {}
ALERT_TEXTS.update(TEAM_ALERTS)


def alert_text(alert: Alert) -> str | None:
    """None for a step this version does not know (a newer instance wrote it): not sent."""
    render = ALERT_TEXTS.get(alert.step)
    return None if render is None else render(alert.params)


def _export_scope(params: Mapping[str, Any]) -> str:
    value = escape(str(params.get("value") or ""))
    return {
        "manager": _("clients of {value}").format(value=value),
        "segment": _("segment {value}").format(value=value),
        "tag": _("tag #{value}").format(value=value),
    }.get(str(params.get("scope")), _("all clients"))


def _export_text(params: Mapping[str, Any]) -> str:
    rows = int(params.get("rows", 0))
    text = ngettext(
        "📤 <b>{member}</b> exported {scope}: {rows} row, {format}.",
        "📤 <b>{member}</b> exported {scope}: {rows} rows, {format}.",
        rows,
    ).format(
        member=escape(str(params.get("member", "?"))),
        scope=_export_scope(params),
        rows=fmt_number(rows),
        format=escape(str(params.get("format", "")).upper()),
    )
    if int(params.get("activities", 0)):
        activities = int(params.get("activities", 0))
        text += " " + ngettext(
            "With {count} activity.", "With {count} activities.", activities
        ).format(count=fmt_number(activities))
    return text + "\n" + _("See /audit export. To take the right away: /revoke export.")


def _mass_view_text(params: Mapping[str, Any]) -> str:
    return _(
        "⚠️ <b>{member}</b>, within {minutes} min: different client cards opened: {cards}, "
        "exports: {exports}. This may be someone copying the base. "
        "Details: <code>/audit views</code>."
    ).format(
        member=escape(str(params.get("member", "?"))),
        cards=fmt_number(int(params.get("cards", 0))),
        exports=fmt_number(int(params.get("exports", 0))),
        minutes=fmt_number(int(params.get("minutes", 0))),
    )


ALERT_TEXTS["export"] = _export_text
ALERT_TEXTS["mass_view"] = _mass_view_text
