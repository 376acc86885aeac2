"""The Mini App's endpoints (docs/miniapp.md): parse the request, call the services, shape JSON.

Thin like handlers/: access rules, validation and audit live in the services, so the page and
the chat cannot disagree. Every endpoint runs in the request's unit of work (bot/miniapp/server.py).
"""

from __future__ import annotations

import asyncio
from datetime import date, time
from typing import Any

from bot.errors import ErrorCode
from bot.fields import CLIENT_FIELDS
from bot.i18n import _
from bot.miniapp import portfolio_shapes, shapes, texts
from bot.miniapp.errors import BAD_REQUEST, ApiError
from bot.miniapp.portfolio_shapes import Snapshot
from bot.miniapp.server import Call, Serialised, in_worker
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


def _top(call: Call) -> int:
    raw = call.query("top")
    if raw is None:
        return portfolio_shapes.DEFAULT_TOP
    return _int(raw, "top", minimum=1, maximum=10_000)


def _page(call: Call, default: int) -> tuple[int, int]:
    offset = _int(call.query("offset") or 0, "offset", maximum=10**7)
    limit = _int(call.query("limit") or default, "limit", minimum=1, maximum=1000)
    return offset, limit


async def _snapshot_key(call: Call, scope: int | None, period: Period) -> tuple[object, ...]:
    """Whose report of which period on which day, and the data's version: a deal, a contact
    or a client moved to another manager since makes a new key."""
    service = call.services.portfolio
    version = await service.data_version(call.actor)
    return (version, scope, period.key, service.today(call.actor))


async def _snapshot(call: Call, period: Period, manager_id: int | None) -> Snapshot:
    """The report the page was just shown (GET portfolio), for its list pages and cell taps;
    built afresh when it is gone (a few minutes) or the data changed since."""
    service, actor = call.services.portfolio, call.actor
    # The same access check as the report's: a manager asking for another's is refused here.
    scope = await service.scope(actor, manager_id)
    key = await _snapshot_key(call, scope, period)
    now = call.services.clock.now()
    found = call.kept.snapshots.get(key, now)
    if isinstance(found, Snapshot):
        return found
    report = await service.report(actor, period, scope)
    snapshot = await asyncio.to_thread(Snapshot.of, report)
    call.kept.snapshots.put(key, snapshot, now)
    return snapshot


async def portfolio(call: Call) -> Serialised:
    """The main numbers, each client list cut to `top` lines; the charts' series come from
    portfolio/series and the rest of a list from portfolio/list."""
    service, actor = call.services.portfolio, call.actor
    period, manager_id, top = _period(call), _manager(call), _top(call)
    scope = await service.scope(actor, manager_id)
    # The version before the report: data changing in between gives the snapshot an older key,
    # never newer numbers an older one.
    key = await _snapshot_key(call, scope, period)
    # Always the service's report (computed afresh for a current period, as /portfolio is):
    # the main numbers are the chat's, to the kopeck.
    report = await service.report(actor, period, scope)
    choices = await service.choices(actor)
    now = call.services.clock.now()
    found = call.kept.snapshots.get(key, now)
    if isinstance(found, Snapshot) and found.report is report:
        snapshot = found  # an ended period's report from the service's cache, sorted already
    else:
        snapshot = await asyncio.to_thread(Snapshot.of, report)
    call.kept.snapshots.put(key, snapshot, now)
    return await in_worker(lambda: portfolio_shapes.report(snapshot, choices=choices, top=top))


async def portfolio_series(call: Call) -> Serialised:
    """The quality trend and the activity per week: the charts' series, asked for by the page
    once the main numbers are on the screen."""
    service, actor = call.services.portfolio, call.actor
    period, manager_id = _period(call), _manager(call)
    scope = await service.scope(actor, manager_id)
    # Kept as sent under the data's version: they follow deals, contacts and clients' managers
    # only, so coming back to the page (from a card) does not compute four periods again.
    key = (*await _snapshot_key(call, scope, period), texts.language())
    now = call.services.clock.now()
    found = call.kept.series.get(key, now)
    if isinstance(found, Serialised):
        return found
    quality = await service.quality_series(actor, period, scope)
    weeks, per_kind = await service.activity_weeks(actor, period, scope)
    names = await service.member_names(actor)
    answer = await in_worker(
        lambda: portfolio_shapes.series(
            period, scope, quality=quality, weeks=weeks, per_kind=per_kind, names=names
        )
    )
    call.kept.series.put(key, answer, now)
    return answer


async def portfolio_list(call: Call) -> Serialised:
    """One client list of the report, a page at a time (the portfolio gives its first lines)."""
    section = call.query("section") or ""
    if section not in portfolio_shapes.LISTS:
        raise ApiError(BAD_REQUEST, field="section")
    period, manager_id = _period(call), _manager(call)
    offset, limit = _page(call, 100)
    snapshot = await _snapshot(call, period, manager_id)

    def shape() -> dict[str, Any]:
        lines = snapshot.lines(section)  # the plan sorted whole on its first page
        return {
            "section": section,
            "items": portfolio_shapes.page(lines, snapshot.report, offset, limit),
            "total": len(lines),
            "offset": offset,
            "limit": limit,
        }

    return await in_worker(shape)


async def portfolio_cell(call: Call) -> Serialised:
    """The clients of a matrix cell, revenue descending, a page at a time."""
    cell = call.query("cell") or ""
    if cell not in portfolio_shapes.CELLS:
        raise ApiError(BAD_REQUEST, field="cell")
    period, manager_id = _period(call), _manager(call)
    offset, limit = _page(call, 100)
    snapshot = await _snapshot(call, period, manager_id)
    report = snapshot.report

    def shape() -> dict[str, Any]:
        lines = snapshot.cell(cell)
        return {
            "cell": cell,
            "items": portfolio_shapes.page(lines, report, offset, limit),
            "total": len(lines),
            "offset": offset,
            "limit": limit,
        }

    return await in_worker(shape)


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
    ("GET", "/portfolio/series", portfolio_series),
]
