"""`/portfolio`'s report as JSON for the Mini App's portfolio page: every number as the service
computed it (money to the kopeck as a decimal string, shares and ratios unrounded), so the page
and the chat cannot disagree. The chart series are the very inputs of the chat's PNG charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.miniapp.shapes import day, decimal, money
from bot.services.portfolio.compute import ABC, XYZ, Ltv, Totals
from bot.services.portfolio.periods import (
    CUSTOM,
    MONTH,
    QUARTER,
    YEAR,
    Period,
    month_of,
    quarter_of,
    year_of,
)
from bot.services.portfolio.service import ClientLine, GroupLine, MemberChoice, Report
from bot.telegram.views.portfolio import period_label, short_period_label

CELLS = tuple(a + x for a in ABC for x in XYZ)


def period(p: Period, today: date) -> dict[str, Any]:
    following: Period | None = None
    if p.kind != CUSTOM:
        step = {MONTH: month_of, QUARTER: quarter_of, YEAR: year_of}[p.kind]
        candidate = step(p.end + timedelta(days=1))
        following = candidate if candidate.start <= today else None
    return {
        "key": p.key,
        "kind": p.kind,
        "label": period_label(p),
        "start": day(p.start),
        "end": day(p.end),
        "previous": p.previous().key,
        "next": following.key if following else None,
    }


def _who(member_id: int | None, names: Mapping[int, str]) -> dict[str, Any]:
    return {"id": member_id, "name": names.get(member_id, "?") if member_id is not None else None}


def _ltv(value: Ltv | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "value": money(value.value),
        "s": decimal(value.s),
        "c": decimal(value.c),
        "p": decimal(value.p),
        "t": decimal(value.t),
        "lifetime_unknown": value.lifetime_unknown,
    }


def _totals(t: Totals) -> dict[str, Any]:
    return {
        "revenue": money(t.revenue),
        "profit": money(t.profit),
        "profit_base": money(t.profit_base),
        "deals": t.deals,
        "clients": t.clients,
        "ros": decimal(t.ros),
    }


def group(g: GroupLine) -> dict[str, Any]:
    return {
        "key": g.key,
        "label": g.label,
        **_totals(g.now),
        "prev": _totals(g.prev),
        "prev_revenue": money(g.prev.revenue),
        "dynamics": decimal(g.dynamics),
        "ltv": _ltv(g.ltv),
    }


def client(line: ClientLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "name": line.name,
        "manager_id": line.manager_id,
        "segment": line.segment,
        "potential": money(line.potential),
        "revenue": money(line.now.revenue),
        "profit": money(line.now.profit),
        "deals": line.now.deals,
        "ros": decimal(line.now.ros),
        "prev_revenue": money(line.prev.revenue),
        "penetration": decimal(line.penetration),
        "abc": line.abc,
        "xyz": line.xyz.cls if line.xyz is not None else None,
        "cv": decimal(line.xyz.cv) if line.xyz is not None else None,
        "cell": line.cell,
        "prev_cell": line.prev_cell,
    }


def _shares(values: Mapping[str, Decimal | None]) -> dict[str, str | None]:
    return {key: decimal(value) for key, value in values.items()}


def report(
    r: Report,
    *,
    series: Mapping[int, Sequence[tuple[Period, Decimal | None]]],
    weeks: Sequence[date],
    per_kind: Mapping[str, Sequence[int]],
    choices: Sequence[MemberChoice],
) -> dict[str, Any]:
    names = dict(r.names)
    change = r.biggest_change
    a, b, x, y = r.thresholds
    return {
        "period": period(r.period, r.today),
        "manager": _who(r.manager_id, names) if r.manager_id is not None else None,
        "currency": r.currency,
        "today": day(r.today),
        "days": r.days,
        "thresholds": {"a": decimal(a), "b": decimal(b), "x": decimal(x), "y": decimal(y)},
        "total": group(r.total),
        "managers": [group(g) for g in r.managers],
        "segments": [group(g) for g in r.segments],
        "plan": [client(line) for line in r.planned],
        "matrix": {
            "counts": {cell: r.matrix_counts.get((cell[0], cell[1]), 0) for cell in CELLS},
            "revenue": {
                cell: money(r.matrix_revenue.get((cell[0], cell[1]), Decimal(0))) for cell in CELLS
            },
        },
        "moves": [client(line) for line in r.moves],
        "quality": [
            {
                "manager": _who(q.manager_id, names),
                "clients": q.clients,
                "now": _shares(q.now),
                "prev": _shares(q.prev),
            }
            for q in r.quality
        ],
        "quality_series": [
            {
                "manager": _who(member_id, names),
                "points": [
                    {"period": p.key, "label": short_period_label(p), "value": decimal(v)}
                    for p, v in points
                ],
            }
            for member_id, points in series.items()
        ],
        "activity": [
            {"manager": _who(a.manager_id, names), "days": a.days, "counts": dict(a.counts)}
            for a in r.activity
        ],
        "activity_weeks": {
            "weeks": [day(w) for w in weeks],
            "counts": {kind: list(counts) for kind, counts in per_kind.items()},
        },
        "angels": [client(line) for line in r.angels],
        "demons": [client(line) for line in r.demons],
        "gained": [client(line) for line in r.gained],
        "lost": [client(line) for line in r.lost],
        "health": dict(r.health),
        "health_by_manager": [
            {"manager": _who(member_id, names), "health": dict(health)}
            for member_id, health in r.health_by_manager.items()
        ],
        "biggest_change": (
            {
                "manager": _who(change.manager_id, names),
                "class": change.category,
                "before": decimal(change.before),
                "after": decimal(change.after),
            }
            if change is not None
            else None
        ),
        "choices": [{"id": c.id, "name": c.name} for c in choices],
    }


def cell_clients(r: Report, cell: str) -> list[dict[str, Any]]:
    lines = [line for line in r.clients if line.cell == cell]
    lines.sort(key=lambda line: (-line.now.revenue, line.name, line.id))
    return [client(line) for line in lines]
