"""`/portfolio`'s report as JSON for the Mini App's portfolio page: every number as the service
computed it (money to the kopeck as a decimal string, shares and ratios unrounded), so the page
and the chat cannot disagree. The chart series are the very inputs of the chat's PNG charts."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


def client(line: ClientLine, r: Report) -> dict[str, Any]:
    plan = r.plan(line)
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
        # The yearly potential scaled to the report's period, and the sales against it.
        "plan": money(plan) if plan is not None else None,
        "penetration": decimal(r.penetration(line)),
        "abc": line.abc,
        "xyz": line.xyz.cls if line.xyz is not None else None,
        "cv": decimal(line.xyz.cv) if line.xyz is not None else None,
        "cell": line.cell,
        "prev_cell": line.prev_cell,
    }


def _shares(values: Mapping[str, Decimal | None]) -> dict[str, str | None]:
    return {key: decimal(value) for key, value in values.items()}


# The report's client lists, by the key the JSON gives each.
LISTS = ("plan", "moves", "angels", "demons", "gained", "lost")
# Lines of each list in the portfolio's answer when the page does not say (`top`): a phone
# shows a screenful, and a team's plan can hold tens of thousands of clients.
DEFAULT_TOP = 20


def _cell_order(line: ClientLine) -> tuple[Decimal, str, int]:
    return (-line.now.revenue, line.name, line.id)


def _plan_order(keyed: tuple[Decimal, str, ClientLine]) -> tuple[Decimal, str]:
    return keyed[0], keyed[1]


@dataclass
class Snapshot:
    """A report with what the page pages through worked out once: the portfolio's answer takes
    the first lines of each list, `/portfolio/list` and `/portfolio/cell` page through the same
    snapshot for a while (bot/miniapp/api.py), so a page of 50 lines neither builds the report
    again nor sorts a team's plan again. Its methods are CPU over the whole report: call them
    in a worker thread."""

    report: Report
    # The plan's lines with their penetration, in the report's client order (`Report.planned`
    # sorts them by (penetration, name), stably): each penetration computed once.
    _plan: list[tuple[Decimal, str, ClientLine]]
    _lists: dict[str, list[ClientLine]] = field(default_factory=dict, repr=False)
    _cells: dict[str, list[ClientLine]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, r: Report) -> Snapshot:
        keyed = []
        for line in r.clients:
            penetration = r.penetration(line)
            if penetration is not None:
                keyed.append((penetration, line.name, line))
        return cls(r, keyed)

    def total(self, section: str) -> int:
        if section == "plan":
            return len(self._plan)
        return len(getattr(self.report, section))

    def first(self, section: str, n: int) -> list[ClientLine]:
        """The first `n` lines, as `lines(section)[:n]`; the plan without sorting it whole
        (heapq.nsmallest is sorted()[:n], ties kept in order)."""
        if section == "plan" and section not in self._lists:
            return [keyed[2] for keyed in heapq.nsmallest(n, self._plan, key=_plan_order)]
        return self.lines(section)[:n]

    def lines(self, section: str) -> list[ClientLine]:
        """A whole list in the report's order (the plan as `Report.planned`), sorted on first
        use."""
        found = self._lists.get(section)
        if found is None:
            if section == "plan":
                found = [keyed[2] for keyed in sorted(self._plan, key=_plan_order)]
            else:
                found = list(getattr(self.report, section))
            # Two threads may sort at once: each gets the same answer, the last one is kept.
            self._lists[section] = found
        return found

    def cell(self, cell: str) -> list[ClientLine]:
        """The clients of a matrix cell, revenue descending (grouped on the first tap)."""
        cells = self._cells
        if cells is None:
            grouped: dict[str, list[ClientLine]] = defaultdict(list)
            for line in self.report.clients:
                key = line.cell
                if key is not None:
                    grouped[key].append(line)
            for lines in grouped.values():
                lines.sort(key=_cell_order)
            cells = self._cells = dict(grouped)
        return cells.get(cell, [])


def page(lines: Sequence[ClientLine], r: Report, offset: int, limit: int) -> list[dict[str, Any]]:
    return [client(line, r) for line in lines[offset : offset + limit]]


def report(snapshot: Snapshot, *, choices: Sequence[MemberChoice], top: int) -> dict[str, Any]:
    """The portfolio's main numbers: every list cut to its first `top` lines (`<list>_total`
    says how many there are); the chart series come from `series` (GET portfolio/series)."""
    r = snapshot.report
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
        **{
            section: [client(line, r) for line in snapshot.first(section, top)] for section in LISTS
        },
        **{f"{section}_total": snapshot.total(section) for section in LISTS},
        "top": top,
        "matrix": {
            "counts": {cell: r.matrix_counts.get((cell[0], cell[1]), 0) for cell in CELLS},
            "revenue": {
                cell: money(r.matrix_revenue.get((cell[0], cell[1]), Decimal(0))) for cell in CELLS
            },
        },
        "quality": [
            {
                "manager": _who(q.manager_id, names),
                "clients": q.clients,
                "now": _shares(q.now),
                "prev": _shares(q.prev),
            }
            for q in r.quality
        ],
        "activity": [
            {"manager": _who(a.manager_id, names), "days": a.days, "counts": dict(a.counts)}
            for a in r.activity
        ],
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


def series(
    p: Period,
    manager_id: int | None,
    *,
    quality: Mapping[int, Sequence[tuple[Period, Mapping[str, Decimal | None]]]],
    weeks: Sequence[date],
    per_kind: Mapping[str, Sequence[int]],
    names: Mapping[int, str],
) -> dict[str, Any]:
    """The charts' series (GET portfolio/series): the very inputs of the chat's PNG charts."""
    return {
        "period": p.key,
        "manager": _who(manager_id, names) if manager_id is not None else None,
        "quality_series": [
            {
                "manager": _who(member_id, names),
                "points": [
                    {
                        "period": each.key,
                        "label": short_period_label(each),
                        # The A share (the trend line); all six shares for the stacked bars.
                        "value": decimal(shares.get("A")),
                        "shares": _shares(shares),
                    }
                    for each, shares in points
                ],
            }
            for member_id, points in quality.items()
        ],
        "activity_weeks": {
            "weeks": [day(w) for w in weeks],
            "counts": {kind: list(counts) for kind, counts in per_kind.items()},
        },
    }
