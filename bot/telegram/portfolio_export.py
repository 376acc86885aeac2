"""`/portfolio` views as spreadsheets (XLSX, CSV). Separate from views.portfolio so that the
spreadsheet library is loaded only when someone exports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from bot.i18n import _
from bot.services.portfolio.compute import ABC, XYZ, shown
from bot.services.portfolio.service import HEALTH_BUCKETS, GroupLine, Report
from bot.services.tabular import Cell, Sheet
from bot.telegram.views.portfolio import KINDS, health_label, kind_label


def _money_cell(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _pct_cell(value: Decimal | None) -> Decimal | None:
    return shown(value, 2)


def client_sheet(report: Report) -> Sheet:
    headers = [
        _("Client"),
        _("Manager"),
        _("Segment"),
        _("Revenue"),
        _("Revenue before"),
        _("Profit"),
        _("ROS, %"),
        _("Deals"),
        _("Potential"),
        _("Plan for the period"),
        _("Penetration, %"),
        _("ABC"),
        _("XYZ"),
        _("Variation, %"),
        _("Class before"),
    ]
    rows: list[list[Cell]] = [
        [
            line.name,
            report.names.get(line.manager_id, ""),
            line.segment or "",
            _money_cell(line.now.revenue),
            _money_cell(line.prev.revenue),
            _money_cell(line.now.profit),
            _pct_cell(line.now.ros),
            line.now.deals,
            line.potential,
            _money_cell(plan) if (plan := report.plan(line)) is not None else None,
            _pct_cell(report.penetration(line)),
            line.abc or "",
            line.xyz.cls if line.xyz else "",
            _pct_cell(line.xyz.cv) if line.xyz else None,
            line.prev_cell or "",
        ]
        for line in report.clients
    ]
    return Sheet(_("Clients"), headers, rows)


def _group_sheet(title: str, first: str, groups: Sequence[GroupLine]) -> Sheet:
    headers = [
        first,
        _("Revenue"),
        _("Revenue before"),
        _("Dynamics, %"),
        _("Profit"),
        _("ROS, %"),
        _("Deals"),
        _("Clients"),
        _("S average deal"),
        _("C deals a month"),
        _("P profit share, %"),
        _("T months"),
        _("LTV"),
    ]
    rows: list[list[Cell]] = []
    for g in groups:
        ltv = g.ltv
        rows.append(
            [
                g.label,
                _money_cell(g.now.revenue),
                _money_cell(g.prev.revenue),
                _pct_cell(g.dynamics),
                _money_cell(g.now.profit),
                _pct_cell(g.now.ros),
                g.now.deals,
                g.now.clients,
                _money_cell(ltv.s) if ltv else None,
                shown(ltv.c, 3) if ltv else None,
                _pct_cell(ltv.p * 100) if ltv else None,
                shown(ltv.t, 2) if ltv else None,
                ltv.value if ltv else None,
            ]
        )
    return Sheet(title, headers, rows)


def quality_sheet(report: Report) -> Sheet:
    names = (*ABC, *XYZ)
    headers = [_("Manager"), _("Clients")]
    headers += [f"{c}, %" for c in names] + [
        _("{category} before, %").format(category=c) for c in names
    ]
    rows: list[list[Cell]] = [
        [
            q.name,
            q.clients,
            *(_pct_cell(q.now.get(c)) for c in names),
            *(_pct_cell(q.prev.get(c)) for c in names),
        ]
        for q in report.quality
    ]
    return Sheet(_("Quality"), headers, rows)


def activity_sheet(report: Report) -> Sheet:
    headers = [_("Manager"), _("Days")] + [kind_label(k) for k in KINDS]
    headers += [_("{kind} a week").format(kind=kind_label(k)) for k in KINDS]
    rows: list[list[Cell]] = [
        [
            line.name,
            line.days,
            *(line.counts.get(k, 0) for k in KINDS),
            *(shown(line.per(k, 7), 2) for k in KINDS),
        ]
        for line in report.activity
    ]
    return Sheet(_("Activity"), headers, rows)


def health_sheet(report: Report) -> Sheet:
    headers = [_("Manager")] + [health_label(b) for b in HEALTH_BUCKETS]
    rows: list[list[Cell]] = [
        [report.names.get(member_id, "")] + [buckets[b] for b in HEALTH_BUCKETS]
        for member_id, buckets in sorted(report.health_by_manager.items())
    ]
    return Sheet(_("Health"), headers, rows)


def sheets(report: Report, section: str) -> list[Sheet]:
    """Every table of the view; the shown section's first (a CSV takes only that one)."""
    segments = [
        GroupLine(g.key, g.label or _("no segment"), g.now, g.prev, g.ltv) for g in report.segments
    ]
    all_sheets: dict[str, Callable[[], Sheet]] = {
        "clients": lambda: client_sheet(report),
        "managers": lambda: _group_sheet(_("Managers"), _("Manager"), report.managers),
        "segments": lambda: _group_sheet(_("Segments"), _("Segment"), segments),
        "quality": lambda: quality_sheet(report),
        "activity": lambda: activity_sheet(report),
        "health": lambda: health_sheet(report),
    }
    first = {"3": "quality", "4": "activity", "6": "managers", "7": "managers", "9": "health"}.get(
        section, "clients"
    )
    order = [first] + [name for name in all_sheets if name != first]
    return [all_sheets[name]() for name in order]


def file_name(report: Report, section: str, extension: str) -> str:
    scope = "team" if report.manager_id is None else f"m{report.manager_id}"
    return f"portfolio-{report.period.key}-{scope}-s{section}.{extension}"
