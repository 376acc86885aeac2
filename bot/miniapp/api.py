"""The Mini App's endpoints (docs/miniapp.md): parse the request, call the services, shape JSON.

Thin like handlers/: access rules, validation and audit live in the services, so the page and
the chat cannot disagree. Every endpoint runs in the request's unit of work (bot/miniapp/server.py).
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from bot.errors import ErrorCode
from bot.fields import CLIENT_FIELDS
from bot.i18n import _
from bot.miniapp import portfolio_shapes, shapes, texts
from bot.miniapp.errors import BAD_REQUEST, ApiError
from bot.miniapp.server import Call
from bot.parsing.card_fields import MULTIPLE, FormError, editable, read_changes
from bot.parsing.dates import When
from bot.parsing.errors import ParseError
from bot.services.access import sees_whole_team
from bot.services.base_table import ABC, DEFAULT_PAGE, MAX_PAGE, XYZ, TableQuery
from bot.services.portfolio.periods import Period, current, period_from_key
from storage.enums import FollowupKind, Role, Stage, Temperature
from storage.repositories.base_table import SORTS

# Characters of a search query: longer is not a name, a contact or a phone.
MAX_QUERY_CHARS = 200
TEXT_CHARS = 200


# -- parsing helpers: a value no page sends is a bad request naming its field -----------------


def _int(value: object, field: str, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError(BAD_REQUEST, field=field)
    try:
        number = int(value)
    except ValueError:
        raise ApiError(BAD_REQUEST, field=field) from None
    if not minimum <= number <= maximum:
        raise ApiError(BAD_REQUEST, field=field)
    return number


def _path_id(call: Call, name: str = "id") -> int:
    return _int(call.match(name), name, minimum=1)


def _choices(body: dict[str, Any], field: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    value = body.get(field)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(v in allowed for v in value):
        raise ApiError(BAD_REQUEST, field=field)
    return tuple(dict.fromkeys(value))


def _text(body: dict[str, Any], field: str, limit: int = TEXT_CHARS) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(BAD_REQUEST, field=field)
    return value


def _flag(body: dict[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise ApiError(BAD_REQUEST, field=field)
    return value


# -- who and which words ------------------------------------------------------------------


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


async def options(call: Call) -> dict[str, Any]:
    found = await call.services.base_table.options(call.actor)
    return {
        "managers": [{"id": i, "name": name} for i, name in found.managers],
        "temperatures": [t.value for t in Temperature],
        "stages": [s.value for s in Stage],
        "tags": found.tags,
        "segments": found.segments,
        "abc": list(ABC),
        "xyz": list(XYZ),
        "sorts": list(SORTS),
    }


async def fields(call: Call) -> dict[str, Any]:
    team_wide = sees_whole_team(call.actor)
    choices = {
        "temperature": [t.value for t in Temperature],
        "stage": [s.value for s in Stage],
        "consent": ["yes", "no", "unknown"],
    }
    return {
        "fields": [
            {
                "name": f.name,
                "kind": f.kind.value,
                "label": _(f.card_title),
                "max_length": f.max_length,
                "editable": editable(f) and (f.name != "manager" or team_wide),
                "multiple": f.kind in MULTIPLE,
                "choices": choices.get(f.name),
            }
            for f in CLIENT_FIELDS
        ]
    }


# -- the base table ---------------------------------------------------------------------------


async def query_clients(call: Call) -> dict[str, Any]:
    body = call.body
    manager = body.get("manager")
    sort = body.get("sort")
    if sort is not None and sort not in SORTS:
        raise ApiError(BAD_REQUEST, field="sort")
    query = TableQuery(
        q=_text(body, "q", MAX_QUERY_CHARS),
        manager_id=_int(manager, "manager", minimum=1) if manager is not None else None,
        temperatures=_choices(body, "temperature", tuple(t.value for t in Temperature)),
        stages=_choices(body, "stage", tuple(s.value for s in Stage)),
        tag=_text(body, "tag"),
        segment=_text(body, "segment"),
        overdue=_flag(body, "overdue"),
        no_next=_flag(body, "no_next"),
        abc=_choices(body, "abc", ABC),
        xyz=_choices(body, "xyz", XYZ),
        archived=_flag(body, "archived"),
        sort=sort,
        offset=_int(body.get("offset", 0), "offset", maximum=10**7),
        limit=_int(body.get("limit", DEFAULT_PAGE), "limit", minimum=1, maximum=MAX_PAGE),
    )
    page = await call.services.base_table.page(call.actor, query)
    zone = call.actor.zone
    return {
        "items": [
            shapes.table_row(row, page.names, page.classes.of, zone, page.today)
            for row in page.rows
        ],
        "total": page.total,
        "total_exact": page.exact,
        "offset": page.offset,
        "limit": page.limit,
        "classes_period": portfolio_shapes.period(page.classes.period, page.today),
        # False right after a start, until the first computation of the classes is done.
        "classes_ready": page.classes.ready,
    }


# -- the card ---------------------------------------------------------------------------------


async def client_card(call: Call) -> dict[str, Any]:
    data = await call.services.card.view(call.actor, _path_id(call))
    return shapes.card(data, call.actor.zone)


async def client_history(call: Call) -> dict[str, Any]:
    before = call.query("before")
    rows, more = await call.services.card.history(
        call.actor,
        _path_id(call),
        _int(before, "before", minimum=1) if before is not None else None,
    )
    return {"items": [shapes.history_item(row, call.actor.zone) for row in rows], "more": more}


async def save_client(call: Call) -> dict[str, Any]:
    client_id = _path_id(call)
    limits = call.services.limits
    try:
        changes = read_changes(
            call.body.get("values"),
            max_amount=limits.max_amount,
            max_tag_chars=limits.max_tag_chars,
        )
    except FormError as exc:
        raise ApiError(BAD_REQUEST, field=exc.field) from None
    await call.services.card.save(call.actor, client_id, changes)
    return shapes.card(await call.services.card.read(call.actor, client_id), call.actor.zone)


async def next_contact(call: Call) -> dict[str, Any]:
    client_id = _path_id(call)
    body = call.body
    raw_day, raw_time = _text(body, "date", 10), _text(body, "time", 5)
    if raw_day is None:
        raise ParseError(ErrorCode.DATE_MISSING)
    try:
        day = date.fromisoformat(raw_day)
        at = time.fromisoformat(raw_time) if raw_time is not None else None
    except ValueError:
        raise ParseError(ErrorCode.DATE_INVALID) from None
    reason = _text(body, "reason", call.services.limits.max_note_chars + 1)
    await call.services.activities.schedule(
        call.actor, client_id, When(day=day, at=at), kind=FollowupKind.CALL, reason=reason
    )
    data = await call.services.card.read(call.actor, client_id)
    return {"next_contact": shapes.card(data, call.actor.zone)["next_contact"]}


async def add_note(call: Call) -> dict[str, Any]:
    client_id = _path_id(call)
    text = call.body.get("text")
    if text is not None and not isinstance(text, str):
        raise ApiError(BAD_REQUEST, field="text")
    await call.services.activities.add_note(call.actor, client_id, text or "")
    rows, _more = await call.services.card.history(call.actor, client_id, None)
    return shapes.history_item(rows[0], call.actor.zone)


# -- the portfolio ------------------------------------------------------------------------------


def _period(call: Call) -> Period:
    key = call.query("period")
    if key is None:
        return current("M", call.services.portfolio.today(call.actor))
    found = period_from_key(key) if len(key) <= 20 else None
    if found is None:
        raise ApiError(BAD_REQUEST, field="period")
    return found


def _manager(call: Call) -> int | None:
    raw = call.query("manager")
    return _int(raw, "manager", minimum=1) if raw else None


async def portfolio(call: Call) -> dict[str, Any]:
    service, actor = call.services.portfolio, call.actor
    period, manager_id = _period(call), _manager(call)
    report = await service.report(actor, period, manager_id)
    series = await service.quality_series(actor, period, manager_id)
    weeks, per_kind = await service.activity_weeks(actor, period, manager_id)
    top = call.query("top")
    return portfolio_shapes.report(
        report,
        series=series,
        weeks=weeks,
        per_kind=per_kind,
        choices=await service.choices(actor),
        top=_int(top, "top", minimum=1, maximum=10_000) if top is not None else None,
    )


async def portfolio_list(call: Call) -> dict[str, Any]:
    """One client list of the report, a page at a time (with `top` on /portfolio)."""
    section = call.query("section") or ""
    if section not in portfolio_shapes.LISTS:
        raise ApiError(BAD_REQUEST, field="section")
    offset = _int(call.query("offset") or 0, "offset", maximum=10**7)
    limit = _int(call.query("limit") or 100, "limit", minimum=1, maximum=1000)
    report = await call.services.portfolio.report(call.actor, _period(call), _manager(call))
    lines = portfolio_shapes.client_list(report, section)
    return {
        "section": section,
        "items": [portfolio_shapes.client(line, report) for line in lines[offset : offset + limit]],
        "total": len(lines),
        "offset": offset,
        "limit": limit,
    }


async def portfolio_cell(call: Call) -> dict[str, Any]:
    cell = call.query("cell") or ""
    if cell not in portfolio_shapes.CELLS:
        raise ApiError(BAD_REQUEST, field="cell")
    report = await call.services.portfolio.report(call.actor, _period(call), _manager(call))
    return {"cell": cell, "items": portfolio_shapes.cell_clients(report, cell)}


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/me", me),
    ("GET", "/texts", page_texts),
    ("GET", "/options", options),
    ("GET", "/fields", fields),
    ("POST", "/clients/query", query_clients),
    ("GET", "/clients/{id}", client_card),
    ("GET", "/clients/{id}/history", client_history),
    ("PATCH", "/clients/{id}", save_client),
    ("POST", "/clients/{id}/next-contact", next_contact),
    ("POST", "/clients/{id}/notes", add_note),
    ("GET", "/portfolio", portfolio),
    ("GET", "/portfolio/cell", portfolio_cell),
    ("GET", "/portfolio/list", portfolio_list),
]
