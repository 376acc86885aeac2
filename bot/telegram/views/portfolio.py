"""`/portfolio` reports as messages, keyboards, chart inputs and export sheets, in the member's
language. Numbers come from bot/services/portfolio; nothing here decides anything."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from babel import dates as babel_dates

from bot.i18n import _, current_locale, fmt_date_full, fmt_money, fmt_number, ngettext
from bot.parsing.dates import within_range
from bot.services.portfolio.compute import ABC, XYZ, shown
from bot.services.portfolio.periods import (
    CUSTOM,
    MONTH,
    QUARTER,
    YEAR,
    Period,
    current,
    month_of,
    quarter_of,
    year_of,
)
from bot.services.portfolio.service import (
    HEALTH_BUCKETS,
    ClientLine,
    GroupLine,
    MemberChoice,
    Report,
)
from bot.telegram.callbacks import PortfolioAct, PortfolioOutput, PortfolioView
from bot.telegram.paging import fit_lines

SUMMARY = "0"
SECTIONS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
CHART_SECTIONS = ("2", "3", "4")
KINDS = ("call", "meeting", "proposal", "deal")


def section_label(section: str) -> str:
    return {
        "0": _("Σ Summary"),
        "1": _("1 Plan"),
        "2": _("2 ABC-XYZ"),
        "3": _("3 Quality"),
        "4": _("4 Activity"),
        "5": _("5 ROS"),
        "6": _("6 Turnover"),
        "7": _("7 LTV"),
        "8": _("± Clients"),
        "9": _("♥ Health"),
    }[section]


def section_title(section: str) -> str:
    return {
        "0": _("Summary"),
        "1": _("1. Sales plan and penetration per client"),
        "2": _("2. ABC-XYZ matrix"),
        "3": _("3. Portfolio quality"),
        "4": _("4. Sales regularity"),
        "5": _("5. Return on sales (ROS)"),
        "6": _("6. Turnover dynamics"),
        "7": _("7. Customer lifetime value (LTV)"),
        "8": _("Clients gained and lost"),
        "9": _("Base health by last contact"),
    }[section]


def export_caption(section: str, period: Period) -> str:
    return _("{title}: {period}").format(title=section_title(section), period=period_label(period))


def kind_label(kind: str) -> str:
    return {
        "call": _("calls"),
        "meeting": _("meetings"),
        "proposal": _("proposals"),
        "deal": _("deals"),
    }[kind]


def health_label(bucket: str) -> str:
    return {
        "month": _("within a month"),
        "half_year": _("1–6 months ago"),
        "year": _("6–12 months ago"),
        "older": _("over a year ago"),
        "never": _("never contacted"),
    }[bucket]


def period_label(period: Period) -> str:
    locale = current_locale()
    if period.kind == MONTH:
        return babel_dates.format_date(period.start, format="LLLL y", locale=locale)
    if period.kind == QUARTER:
        return _("Q{number} {year}").format(
            number=(period.start.month - 1) // 3 + 1, year=period.start.year
        )
    if period.kind == YEAR:
        return str(period.start.year)
    return f"{fmt_date_full(period.start)} – {fmt_date_full(period.end)}"


def short_period_label(period: Period) -> str:
    """For chart axes: "11.2026", "Q4 2026", "2026", "01.09–30.11"."""
    if period.kind == MONTH:
        return f"{period.start:%m.%Y}"
    if period.kind == QUARTER:
        return period_label(period)
    if period.kind == YEAR:
        return str(period.start.year)
    return f"{period.start:%d.%m}–{period.end:%d.%m}"


def pct(value: Decimal | None, places: int = 1) -> str:
    if value is None:
        return "—"
    rounded = shown(value, places)
    assert rounded is not None
    return fmt_number(rounded.normalize() if rounded == rounded.to_integral() else rounded) + "%"


def num(value: Decimal, places: int = 1) -> str:
    rounded = shown(value, places)
    assert rounded is not None
    return fmt_number(rounded.normalize() if rounded == rounded.to_integral() else rounded)


class Formatter:
    def __init__(self, report: Report) -> None:
        self.report = report

    def money(self, amount: Decimal) -> str:
        whole = amount.quantize(Decimal(1))
        if whole < 0:
            # A loss reads "−RUB 5", not Babel's "-RUB5" with the code glued to the digits.
            return "−" + fmt_money(-whole, self.report.currency)
        return fmt_money(whole, self.report.currency)

    def name(self, member_id: int) -> str:
        return escape(self.report.names.get(member_id, "?"))


def _more(lines: list[str], total: int, shown_count: int) -> list[str]:
    if total > shown_count:
        lines.append(_("…and {count} more").format(count=total - shown_count))
    return lines


def _fit(text: str) -> str:
    """Never over Telegram's limit, measured as Telegram counts: whole lines are dropped from
    the end (lists are already trimmed to the top ones, so this only guards against very long
    names), a line too long on its own is cut."""
    return fit_lines(text.split("\n"))


def header(report: Report) -> str:
    scope = escape(report.manager_name or "?") if report.manager_id is not None else _("whole team")
    return _("📊 <b>Portfolio: {scope}</b>\n{period} (compared with {previous})").format(
        scope=scope,
        period=period_label(report.period),
        previous=period_label(report.previous),
    )


def report_text(report: Report, section: str, top: int) -> str:
    body = {
        "0": _summary,
        "1": _plan,
        "2": _matrix,
        "3": _quality,
        "4": _activity,
        "5": _ros,
        "6": _turnover,
        "7": _ltv,
        "8": _gained_lost,
        "9": _health,
    }[section](report, Formatter(report), top)
    return _fit(f"{header(report)}\n\n<b>{section_title(section)}</b>\n{body}")


def change_sentence(report: Report) -> str | None:
    change = report.biggest_change
    if change is None:
        return None
    template = (
        _("{name}: {category} share up from {before} to {after}")
        if change.after > change.before
        else _("{name}: {category} share down from {before} to {after}")
    )
    return template.format(
        name=escape(report.names.get(change.manager_id, "?")),
        category=change.category,
        before=pct(change.before, 0),
        after=pct(change.after, 0),
    )


def _dynamics(group: GroupLine, f: Formatter) -> str:
    if not group.prev.revenue:
        return _("{now} (nothing before)").format(now=f.money(group.now.revenue))
    return _("{now} against {before}: {ratio}").format(
        now=f.money(group.now.revenue),
        before=f.money(group.prev.revenue),
        ratio=pct(group.dynamics, 0),
    )


def _summary(report: Report, f: Formatter, top: int) -> str:
    total = report.total
    classes = [line for line in report.clients if line.abc]
    abc = " · ".join(f"{c} {sum(1 for x in classes if x.abc == c)}" for c in ABC)
    xyz = " · ".join(f"{c} {sum(1 for x in classes if x.xyz and x.xyz.cls == c)}" for c in XYZ)
    counts = {kind: sum(line.counts.get(kind, 0) for line in report.activity) for kind in KINDS}
    lines = [
        _("Revenue: {dynamics}").format(dynamics=_dynamics(total, f)),
        _("Profit: {profit}, ROS {ros}").format(
            profit=f.money(total.now.profit), ros=pct(total.now.ros)
        ),
        _("Deals: {deals}, clients who bought: {clients}").format(
            deals=fmt_number(total.now.deals),
            clients=fmt_number(sum(1 for line in report.clients if line.now.deals)),
        ),
        _("ABC: {abc}; XYZ: {xyz}").format(abc=abc, xyz=xyz),
        _("Activity — calls: {calls}, meetings: {meetings}, proposals: {proposals}").format(
            calls=fmt_number(counts["call"]),
            meetings=fmt_number(counts["meeting"]),
            proposals=fmt_number(counts["proposal"]),
        ),
        _("Clients gained: {gained}, lost: {lost}").format(
            gained=fmt_number(len(report.gained)), lost=fmt_number(len(report.lost))
        ),
        _("Contacted within a month: {fresh} of {total}").format(
            fresh=fmt_number(report.health["month"]),
            total=fmt_number(sum(report.health.values())),
        ),
    ]
    sentence = change_sentence(report)
    if sentence:
        lines.append(_("Biggest change: {sentence}").format(sentence=sentence))
    return "\n".join(lines)


def _plan(report: Report, f: Formatter, top: int) -> str:
    planned = report.planned
    lines: list[str] = []
    for line in planned[:top]:
        plan = report.plan(line) or Decimal(0)
        lines.append(
            _("{name}: {revenue} of {potential} ({share}), room to grow {room}").format(
                name=escape(line.name),
                revenue=f.money(line.now.revenue),
                potential=f.money(plan),
                share=pct(report.penetration(line)),
                room=f.money(max(plan - line.now.revenue, Decimal(0))),
            )
        )
    if not lines:
        lines.append(_("No client has a potential (their total purchases) set yet."))
    _more(lines, len(planned), top)
    lines.append(
        _(
            "<i>Penetration = our sales in the period / the client's potential for the period "
            "× 100%. Least penetrated first.</i>"
        )
    )
    lines.append(scale_note(report.period))
    return "\n".join(lines)


def scale_note(period: Period) -> str:
    """How the yearly potential was scaled to the period: said on the view, as promised."""
    if period.kind == MONTH:
        return _("<i>Potential is a yearly figure: a month's plan is a twelfth of it.</i>")
    if period.kind == QUARTER:
        return _("<i>Potential is a yearly figure: a quarter's plan is a quarter of it.</i>")
    if period.kind == YEAR:
        return _("<i>Potential is a yearly figure: it is the year's plan as it is.</i>")
    return ngettext(
        "<i>Potential is a yearly figure: the plan for this span of {days} day is {days}/365 "
        "of it.</i>",
        "<i>Potential is a yearly figure: the plan for this span of {days} days is {days}/365 "
        "of it.</i>",
        period.days,
    ).format(days=period.days)


def _matrix(report: Report, f: Formatter, top: int) -> str:
    lines: list[str] = []
    for a in ABC:
        cells = []
        for x in XYZ:
            n = report.matrix_counts[(a, x)]
            cells.append(
                f"{a}{x} {fmt_number(n)}"
                + (f" ({f.money(report.matrix_revenue[(a, x)])})" if n else "")
            )
        lines.append(" · ".join(cells))
    moves = report.moves
    if moves:
        lines.append("")
        lines.append(
            _("<b>Moved since {previous}:</b>").format(previous=period_label(report.previous))
        )
        for line in moves[:top]:
            lines.append(
                _("{name}: {before} → {after}").format(
                    name=escape(line.name), before=line.prev_cell or "—", after=line.cell or "—"
                )
            )
        _more(lines, len(moves), top)
    a, b, x, y = (pct(value, 0) for value in report.thresholds)
    lines.append(
        _(
            "<i>A/B/C: clients making up {a}/{b}/the rest of revenue; X/Y/Z: monthly revenue "
            "varies ≤{x}/≤{y}/more; one month of sales is Z. Goal: move clients to A and X.</i>"
        ).format(a=a, b=b, x=x, y=y)
    )
    return "\n".join(lines)


def _shares(shares: dict[str, Decimal | None], names: Sequence[str]) -> str:
    return " · ".join(f"{c} {pct(shares.get(c), 0)}" for c in names)


def _quality(report: Report, f: Formatter, top: int) -> str:
    lines: list[str] = []
    for q in report.quality:
        lines.append(
            _("<b>{name}</b> (clients: {clients}): {abc} | {xyz}").format(
                name=escape(q.name),
                clients=fmt_number(q.clients),
                abc=_shares(q.now, ABC),
                xyz=_shares(q.now, XYZ),
            )
        )
        lines.append(
            _("  before: {abc} | {xyz}").format(abc=_shares(q.prev, ABC), xyz=_shares(q.prev, XYZ))
        )
    if not lines:
        lines.append(_("No sales in this period or the previous one."))
    sentence = change_sentence(report)
    if sentence:
        lines.append(_("Biggest change: {sentence}").format(sentence=sentence))
    return "\n".join(lines)


def _activity(report: Report, f: Formatter, top: int) -> str:
    lines = [
        ngettext(
            "Per manager: 📞 calls · 🤝 meetings · 📄 proposals · 💰 deals; total, then per day, "
            "week and month ({days} day).",
            "Per manager: 📞 calls · 🤝 meetings · 📄 proposals · 💰 deals; total, then per day, "
            "week and month ({days} days).",
            report.days,
        ).format(days=fmt_number(report.days))
    ]
    for line in report.activity[: max(top * 2, 20)]:
        counts = " · ".join(fmt_number(line.counts.get(kind, 0)) for kind in KINDS)
        week = " · ".join(num(line.per(kind, 7)) for kind in KINDS)
        lines.append(
            _("<b>{name}</b>: {counts}\n  a day {day} | a week {week} | a month {month}").format(
                name=escape(line.name),
                counts=counts,
                day=" · ".join(num(line.per(kind, 1), 2) for kind in KINDS),
                week=week,
                month=" · ".join(num(line.per(kind, 30)) for kind in KINDS),
            )
        )
    if len(lines) == 1:
        lines.append(_("Nothing was logged in this period."))
    _more(lines, len(report.activity), max(top * 2, 20))
    return "\n".join(lines)


def _group_ros(group: GroupLine, f: Formatter) -> str:
    return _("{label}: ROS {ros} (profit {profit} on {revenue})").format(
        label=escape(group.label) if group.label else _("no segment"),
        ros=pct(group.now.ros),
        profit=f.money(group.now.profit),
        revenue=f.money(group.now.profit_base),
    )


def _client_ros(line: ClientLine, f: Formatter) -> str:
    return _("{name}: profit {profit}, ROS {ros}").format(
        name=escape(line.name), profit=f.money(line.now.profit), ros=pct(line.now.ros)
    )


def _ros(report: Report, f: Formatter, top: int) -> str:
    lines = [
        _("Team: ROS {ros}").format(ros=pct(report.total.now.ros))
        if report.manager_id is None
        else _("ROS {ros}").format(ros=pct(report.total.now.ros))
    ]
    lines.append(_("<b>By manager</b>"))
    lines += [_group_ros(g, f) for g in report.managers[:top]]
    lines.append(_("<b>By segment</b>"))
    lines += [_group_ros(g, f) for g in report.segments[:top]]
    lines.append(_("<b>😇 Angels</b> (most profit)"))
    lines += [_client_ros(line, f) for line in report.angels] or [_("none")]
    lines.append(_("<b>😈 Demons</b> (losing money, or the weakest return)"))
    lines += [_client_ros(line, f) for line in report.demons] or [_("none")]
    lines.append(_("<i>ROS = profit / revenue × 100%, over deals with a known margin.</i>"))
    return "\n".join(lines)


def _turnover(report: Report, f: Formatter, top: int) -> str:
    lines = [_("Total: {dynamics}").format(dynamics=_dynamics(report.total, f))]
    lines.append(_("<b>By manager</b>"))
    lines += [f"{escape(g.label)}: {_dynamics(g, f)}" for g in report.managers[:top]]
    _more(lines, len(report.managers), top)
    lines.append(_("<b>By segment</b>"))
    lines += [
        f"{escape(g.label) if g.label else _('no segment')}: {_dynamics(g, f)}"
        for g in report.segments[:top]
    ]
    _more(lines, len(report.segments), top)
    return "\n".join(lines)


def _ltv_line(label: str, group: GroupLine, f: Formatter) -> str:
    value = group.ltv
    if value is None:
        return _("{label}: no sales").format(label=label)
    if value.lifetime_unknown:
        return _("{label}: LTV 0 — single purchases only, lifetime not known yet").format(
            label=label
        )
    return _("{label}: LTV {ltv} (S {s} × C {c}/month × P {p} × T {t}, months)").format(
        label=label,
        ltv=f.money(value.value),
        s=f.money(value.s),
        c=num(value.c, 2),
        p=pct(value.p * 100),
        t=num(value.t),
    )


def _ltv(report: Report, f: Formatter, top: int) -> str:
    lines = [_ltv_line(_("Total"), report.total, f), _("<b>By manager</b>")]
    lines += [_ltv_line(escape(g.label), g, f) for g in report.managers[:top]]
    lines.append(_("<b>By segment</b>"))
    lines += [
        _ltv_line(escape(g.label) if g.label else _("no segment"), g, f)
        for g in report.segments[:top]
    ]
    lines.append(
        _(
            "<i>S average deal, C deals per client a month, P profit share, T average months "
            "from a client's first deal to their last one in the period.</i>"
        )
    )
    return "\n".join(lines)


def _gained_lost(report: Report, f: Formatter, top: int) -> str:
    lines = [_("<b>Gained</b> (first deal ever in the period): {n}").format(n=len(report.gained))]
    lines += [f"+ {escape(line.name)}: {f.money(line.now.revenue)}" for line in report.gained[:top]]
    _more(lines, len(report.gained), top)
    lines.append(
        _("<b>Lost</b> (bought in {previous}, not in this period): {n}").format(
            previous=period_label(report.previous), n=len(report.lost)
        )
    )
    lines += [f"− {escape(line.name)}: {f.money(line.prev.revenue)}" for line in report.lost[:top]]
    _more(lines, len(report.lost), top)
    return "\n".join(lines)


def _health(report: Report, f: Formatter, top: int) -> str:
    total = sum(report.health.values())
    lines = [
        _("{label}: {count} ({share})").format(
            label=health_label(bucket),
            count=fmt_number(report.health[bucket]),
            share=pct(Decimal(report.health[bucket]) * 100 / total if total else None, 0),
        )
        for bucket in HEALTH_BUCKETS
    ]
    if report.manager_id is None and report.health_by_manager:
        lines.append(_("<b>By manager</b> (≤1 month · ≤6 · ≤12 · older · never)"))
        ordered = sorted(report.health_by_manager.items(), key=lambda kv: f.name(kv[0]))
        for member_id, buckets in ordered[: max(top * 2, 20)]:
            counts = " · ".join(fmt_number(buckets[b]) for b in HEALTH_BUCKETS)
            lines.append(f"{f.name(member_id)}: {counts}")
    lines.append(
        _("<i>By the last logged contact, as of today; archived leads are not counted.</i>")
    )
    return "\n".join(lines)


# --- keyboard ----------------------------------------------------------------------------------


def keyboard(
    report: Report,
    section: str,
    choices: Sequence[MemberChoice],
    today: date,
    may_export: bool,
) -> InlineKeyboardMarkup:
    manager = report.manager_id or 0 if choices else 0
    key = report.period.key

    def view(label: str, period: str, member: int, sect: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=label, callback_data=PortfolioView(p=period, m=member, s=sect).pack()
        )

    rows: list[list[InlineKeyboardButton]] = []
    marks = [("• " if s == section else "") + section_label(s) for s in SECTIONS]
    buttons = [view(marks[i], key, manager, s) for i, s in enumerate(SECTIONS)]
    rows += [buttons[0:4], buttons[4:8], buttons[8:10]]
    kinds = [(MONTH, _("Month")), (QUARTER, _("Quarter")), (YEAR, _("Year"))]
    period_row = [
        view(
            ("• " if report.period.kind == kind else "") + label,
            current(kind, today).key,
            manager,
            section,
        )
        for kind, label in kinds
    ]
    previous = report.period.previous()
    if within_range(previous.start):  # the period before 01.1900 is not one the bot offers
        period_row.append(view(_("◀ Previous"), previous.key, manager, section))
    if report.period.kind != CUSTOM and report.period.end < today:
        following = _following(report.period)
        if following is not None:
            period_row.append(view(_("Next ▶"), following.key, manager, section))
    rows.append(period_row)
    if choices:
        people = [view(("• " if manager == 0 else "") + _("Team"), key, 0, section)]
        people += [
            view(("• " if manager == c.id else "") + c.name[:20], key, c.id, section)
            for c in choices[:23]
        ]
        rows += [people[i : i + 3] for i in range(0, len(people), 3)]
    actions: list[InlineKeyboardButton] = []
    member = report.manager_id or 0 if choices else 0
    if section in CHART_SECTIONS:
        actions.append(
            InlineKeyboardButton(
                text=_("📊 Chart"),
                callback_data=PortfolioAct(
                    a=PortfolioOutput.CHART, p=key, m=member, s=section
                ).pack(),
            )
        )
    if may_export:
        for fmt, label in ((PortfolioOutput.XLSX, _("⬇ XLSX")), (PortfolioOutput.CSV, _("⬇ CSV"))):
            actions.append(
                InlineKeyboardButton(
                    text=label,
                    callback_data=PortfolioAct(a=fmt, p=key, m=member, s=section).pack(),
                )
            )
    if actions:
        rows.append(actions)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _following(period: Period) -> Period | None:
    day = period.end + timedelta(days=1)
    return {MONTH: month_of, QUARTER: quarter_of, YEAR: year_of}[period.kind](day)
