"""`/portfolio` sections as pictures: the service's numbers labelled in the member's language and
drawn by bot.charts. Each returns the PNG and its file name."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from types import ModuleType

from bot.i18n import _, fmt_money, ngettext
from bot.services.portfolio.compute import ABC, XYZ
from bot.services.portfolio.periods import Period
from bot.services.portfolio.service import Report
from bot.services.weekly import distinct_names
from bot.telegram.views.portfolio import kind_label, period_label, short_period_label

Chart = tuple[bytes, str]


async def _charts() -> ModuleType:
    # Imported on first use (matplotlib takes seconds to load, and most runs draw no chart),
    # in a thread: on the event loop the import held every other update for seconds.
    return await asyncio.to_thread(importlib.import_module, "bot.charts")


async def abc_xyz(report: Report, period: Period) -> Chart:
    charts = await _charts()

    def money(amount: Decimal) -> str:
        return fmt_money(amount.quantize(Decimal(1)), report.currency)

    title = _("ABC-XYZ: {period}").format(period=period_label(period))
    png = await asyncio.to_thread(
        charts.abc_xyz_heatmap,
        report.matrix_counts,
        report.matrix_revenue,
        title=title,
        format_money=money,
    )
    return png, "abc-xyz.png"


async def quality(
    series: Mapping[int, Sequence[tuple[Period, Mapping[str, Decimal | None]]]],
    names: Mapping[int, str],
) -> Chart:
    """Each member's class shares per period, a panel per member (`names` by member id): two
    members of one name stay two panels, the second marked (2)."""
    charts = await _charts()
    labels = distinct_names({member: names.get(member, "?") for member in series})
    ordered = sorted(series, key=lambda member: (labels[member].casefold(), member))
    panels = [
        (labels[member], [(short_period_label(p), dict(v)) for p, v in series[member]])
        for member in ordered
    ]
    caption = _(
        "Share of each class among the clients with a class, %: left bar A/B/C (revenue), "
        "right bar X/Y/Z (regularity). An empty outline: no class in that period."
    )
    if len(panels) > charts.MAX_PANELS:
        caption += " " + ngettext(
            "{count} more member is not shown: pick them in /portfolio.",
            "{count} more members are not shown: pick them in /portfolio.",
            len(panels) - charts.MAX_PANELS,
        ).format(count=len(panels) - charts.MAX_PANELS)
    png = await asyncio.to_thread(
        charts.class_shares,
        panels,
        groups=(ABC, XYZ),
        title=_("Portfolio quality: class shares by period"),
        caption=caption,
    )
    return png, "quality.png"


async def activity(
    weeks: Sequence[date], per_kind: Mapping[str, Sequence[int]], period: Period
) -> Chart:
    charts = await _charts()
    png = await asyncio.to_thread(
        charts.activity_per_week,
        [f"{week:%d.%m}" for week in weeks],
        {kind_label(kind): counts for kind, counts in per_kind.items()},
        title=_("Activity per week: {period}").format(period=period_label(period)),
    )
    return png, "activity.png"
