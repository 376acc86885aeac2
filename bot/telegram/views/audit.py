"""`/audit` pages: who viewed, searched, exported; built by measured length (see paging)."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.fields import FIELDS_BY_NAME
from bot.i18n import _, fmt_datetime, fmt_number, ngettext
from bot.parsing.data_rights import AuditQuery
from bot.services.audit import AuditPage
from bot.telegram.callbacks import AuditPage as AuditPageData
from bot.telegram.paging import budget_for, neighbours, part_of
from bot.telegram.views.common import Viewer, consent_label, snippet
from storage.repositories.audit import AuditLine

# Characters of a search query (or a member's name) an audit line shows.
QUERY_SHOWN = 40

_ACTION_LABELS = {
    "card_view": "👁",
    "search": "🔎",
    "export": "📤",
    "import": "📥",
    "transfer": "🔁",
    "erase": "🗑",
    "mass_view": "⚠️",
    "consent": "✅",
    "card_edit": "✏️",
    "grant_export": "🔑",
    "revoke_export": "🔒",
}


def _action_name(action: str) -> str:
    return {
        "card_view": _("opened the card"),
        "search": _("searched"),
        "export": _("exported"),
        "import": _("imported"),
        "transfer": _("transferred clients"),
        "erase": _("erased personal data"),
        "mass_view": _("mass viewing alert"),
        "consent": _("set consent"),
        "card_edit": _("edited the card"),
        "grant_export": _("granted export"),
        "revoke_export": _("revoked export"),
        "team_created": _("created the team"),
        "member_joined": _("joined the team"),
        "invite_created": _("created an invitation"),
        "member_rejoined": _("rejoined the team"),
        "role_change": _("changed a role"),
        "member_removed": _("removed a member"),
        "campaign_launched": _("launched a campaign"),
    }.get(action, escape(action))


def _details(action: str, details: dict[str, object]) -> str:
    if details.get("scrubbed"):
        return _("details erased")
    if action == "search" and "query" in details:
        # Cut what was typed, then escape it: a cut never falls inside `&amp;`.
        return "«" + snippet(" ".join(str(details["query"]).split()), QUERY_SHOWN) + "»"
    if action == "export":
        rows = int(str(details.get("rows", 0)))
        return ngettext("{rows} row, {format}", "{rows} rows, {format}", rows).format(
            rows=fmt_number(rows),
            format=escape(str(details.get("format", "")).upper()),
        )
    if action == "mass_view":
        return _("cards: {cards}, exports: {exports}, in {minutes} min").format(
            cards=details.get("cards", 0),
            exports=details.get("exports", 0),
            minutes=details.get("minutes", 0),
        )
    if action in ("grant_export", "revoke_export") and "member" in details:
        return snippet(str(details["member"]), QUERY_SHOWN)
    if action == "consent" and "consent" in details:
        return consent_label(str(details["consent"]))
    fields = details.get("fields")
    if action == "card_edit" and isinstance(fields, list):
        # Which fields, in the card's words; never their values (personal data).
        return ", ".join(
            _(FIELDS_BY_NAME[name].card_title) for name in fields if name in FIELDS_BY_NAME
        )
    return ""


def _row(line: AuditLine, viewer: Viewer) -> str:
    when = fmt_datetime(line.at.astimezone(viewer.zone), viewer.today)
    who = escape(line.actor_name or "—")
    parts = [f"{_ACTION_LABELS.get(line.action, '•')} {when}", who, _action_name(line.action)]
    if line.client_id is not None:
        if line.client_erased:
            parts.append(_("erased client"))
        elif line.client_name:
            parts.append("<b>" + escape(line.client_name[:60]) + "</b>")
    details = _details(line.action, line.details)
    if details:
        parts.append(details)
    return " · ".join(parts)


def _header(page: AuditPage, first: int, last: int) -> str:
    header = _("<b>Audit log</b>: {first}–{last} of {total}, newest first").format(
        first=first, last=last, total=fmt_number(page.total)
    )
    if page.member_name:
        header += " · " + escape(page.member_name)
    return header


def audit_view(
    page: AuditPage,
    query: AuditQuery,
    viewer: Viewer,
    *,
    part: int,
    chunk_size: int,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The entries from `page.offset` that fit one message (part `part` of them), with
    Newer/Older buttons leading to the neighbouring parts. The unfiltered log shows how to
    filter on every page: the same widths on every page keep a button's part the same rows."""
    tail = ""
    if not (query.member or query.member_id or query.group or query.since or query.until):
        tail = "\n\n" + _(
            "Filters: <code>/audit Petrov</code>, <code>/audit export</code> (views, search, "
            "export, import, transfer, roles, erase, alerts), <code>/audit week</code>, "
            "<code>/audit 01.11-23.11</code>."
        )
    if not page.lines:
        return _("No audit entries match.") + tail, None
    budget = budget_for(_header(page, page.total, page.total), tail, joints=1)
    shown = part_of([_row(line, viewer) for line in page.lines], part, budget)
    first = page.offset + shown.first + 1
    text = "\n".join([_header(page, first, first + len(shown.rows) - 1), *shown.rows]) + tail
    data = AuditPageData(
        mid=page.member_id or 0,
        grp=query.group or "",
        since=query.since.toordinal() if query.since else 0,
        until=query.until.toordinal() if query.until else 0,
    )
    newer, older = neighbours(page.offset, shown, len(page.lines), page.total, chunk_size)
    b = InlineKeyboardBuilder()
    if newer is not None:
        b.button(
            text=_("◀️ Newer"),
            callback_data=data.model_copy(update={"off": newer.offset, "pt": newer.part}),
        )
    if older is not None:
        b.button(
            text=_("Older ▶️"),
            callback_data=data.model_copy(update={"off": older.offset, "pt": older.part}),
        )
    return text, b.as_markup() if b.buttons else None
