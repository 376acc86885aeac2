"""The owner's weekly report as one message in the recipient's language, with a button to the
full `/portfolio`. The numbers come from bot/services/weekly.py; nothing here decides anything."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from babel import dates as babel_dates

from bot.i18n import _, current_locale, fmt_date, fmt_money, fmt_number, fmt_time, ngettext
from bot.services.portfolio.compute import change_ratio
from bot.services.weekly import ManagerCount, Revenue, Weekly, total_of
from bot.telegram.callbacks import PortfolioOpen
from bot.telegram.paging import TEXT_LIMIT, fit_lines, visible_length
from bot.telegram.views.common import Viewer
from bot.telegram.views.portfolio import pct, period_label
from storage.dto import MemberDTO, TeamDTO

# (managers, names per list) tried in turn until the message fits Telegram's limit.
_CAPS = ((50, 10), (25, 5), (12, 3), (6, 1))


def weekly_text(w: Weekly, viewer: Viewer) -> str:
    text = ""
    for managers, names in _CAPS:
        text = "\n".join(_lines(w, viewer, managers, names))
        if visible_length(text) <= TEXT_LIMIT:
            return text
    return fit_lines(text.split("\n"))


def weekly_keyboard(w: Weekly) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=_("📊 Full portfolio"), callback_data=PortfolioOpen(p=w.classes.key).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def _money(w: Weekly, amount: object) -> str:
    return fmt_money(amount, w.team.currency)  # type: ignore[arg-type]


def _against(w: Weekly, now: object, before: object) -> str:
    if not before:
        return _("{now} (nothing before)").format(now=_money(w, now))
    return _("{now} against {before}: {ratio}").format(
        now=_money(w, now),
        before=_money(w, before),
        ratio=pct(change_ratio(now, before), 0),  # type: ignore[arg-type]
    )


def _more(lines: list[str], total: int, shown: int, kind: str) -> None:
    more = total - shown
    if more <= 0:
        return
    if kind == "manager":
        lines.append(
            ngettext("…and {count} more manager", "…and {count} more managers", more).format(
                count=fmt_number(more)
            )
        )
    else:
        lines.append(
            ngettext("…and {count} more client", "…and {count} more clients", more).format(
                count=fmt_number(more)
            )
        )


def _lines(w: Weekly, viewer: Viewer, managers: int, names: int) -> list[str]:
    lines = [_("📅 <b>Weekly report: {period}</b>").format(period=period_label(w.week))]
    if w.late:
        lines.append(
            _("⏰ Sent late: the bot was unavailable when it was due, on {date}.").format(
                date=fmt_date(w.day, viewer.today)
            )
        )
    lines.append("")
    lines.append(_("💰 <b>Revenue</b>"))
    no_sales = w.total.empty and all(line.empty for line in w.managers)
    if no_sales:
        lines.append(
            _("No deals in these two weeks, this month to date or the same days a month before.")
        )
    else:
        lines.append(
            _("Last week: {dynamics}").format(
                dynamics=_against(w, w.total.week, w.total.week_before)
            )
        )
        lines.append(
            _("Month to date ({period}): {dynamics}").format(
                period=period_label(w.month),
                dynamics=_against(w, w.total.month, w.total.month_before),
            )
        )
        lines.append(
            _(
                "<i>Against the week before and against the same days of the month before "
                "({period}).</i>"
            ).format(period=period_label(w.month_before))
        )
        if w.managers:
            lines.append(_("<b>By manager</b> (last week · month to date)"))
            lines += [_revenue_line(w, line) for line in w.managers[:managers]]
            _more(lines, len(w.managers), managers, "manager")
    if w.moves:
        lines.append("")
        lines.append(
            ngettext(
                "🔀 <b>{count} client moved between ABC-XYZ classes</b> ({period} against "
                "{previous})",
                "🔀 <b>{count} clients moved between ABC-XYZ classes</b> ({period} against "
                "{previous})",
                len(w.moves),
            ).format(
                count=fmt_number(len(w.moves)),
                period=period_label(w.classes),
                previous=period_label(w.classes_before),
            )
        )
        for move in w.moves[:names]:
            lines.append(
                _("{name}: {before} → {after}").format(
                    name=escape(move.name), before=move.before or "—", after=move.after or "—"
                )
            )
        _more(lines, len(w.moves), names, "client")
    if w.shrinking:
        lines.append("")
        lines.append(
            _("📉 <b>A share shrinking</b> ({period} against {previous})").format(
                period=period_label(w.classes), previous=period_label(w.classes_before)
            )
        )
        for drop in w.shrinking[:managers]:
            lines.append(
                _("{name}: from {before} to {after}").format(
                    name=escape(drop.name), before=pct(drop.before, 0), after=pct(drop.after, 0)
                )
            )
        _more(lines, len(w.shrinking), managers, "manager")
    if w.overdue:
        total = total_of(w.overdue)
        lines.append("")
        lines.append(
            ngettext(
                "⚠️ <b>{count} overdue follow-up</b>", "⚠️ <b>{count} overdue follow-ups</b>", total
            ).format(count=fmt_number(total))
        )
        lines += [_count_line(line, 0) for line in w.overdue[:managers]]
        _more(lines, len(w.overdue), managers, "manager")
    if w.stuck:
        total = total_of(w.stuck)
        lines.append("")
        lines.append(
            ngettext("⏳ <b>{count} stuck lead</b>", "⏳ <b>{count} stuck leads</b>", total).format(
                count=fmt_number(total)
            )
        )
        lines += [_count_line(line, names) for line in w.stuck[:managers]]
        _more(lines, len(w.stuck), managers, "manager")
        lines.append(
            ngettext(
                "<i>Stuck: no stage change and no activity for {days} day or longer.</i>",
                "<i>Stuck: no stage change and no activity for {days} days or longer.</i>",
                w.stuck_days,
            ).format(days=fmt_number(w.stuck_days))
        )
    if w.quiet:
        lines.append("")
        lines.append(
            _("No class moves, no shrinking A shares, nothing overdue and no stuck leads.")
        )
    return lines


def _revenue_line(w: Weekly, line: Revenue) -> str:
    return _("{name}: {week} against {week_before} · {month} against {month_before}").format(
        name=escape(line.name),
        week=_money(w, line.week),
        week_before=_money(w, line.week_before),
        month=_money(w, line.month),
        month_before=_money(w, line.month_before),
    )


def _count_line(line: ManagerCount, names: int) -> str:
    if not names or not line.clients:
        return _("{name}: {count}").format(name=escape(line.name), count=fmt_number(line.count))
    shown = line.clients[:names]
    listed = ", ".join(escape(client.name) for client in shown)
    more = line.count - len(shown)
    if more > 0:
        listed = ngettext(
            "{names} and {count} more client", "{names} and {count} more clients", more
        ).format(names=listed, count=fmt_number(more))
    return _("{name}: {count} ({clients})").format(
        name=escape(line.name), count=fmt_number(line.count), clients=listed
    )


def weekday_name(day: int) -> str:
    """The day's name on its own (nominative in Russian): "Monday", "понедельник"."""
    return str(babel_dates.get_day_names("wide", locale=current_locale())[day])


def weekly_settings_text(team: TeamDTO, member: MemberDTO) -> str:
    status = _("on") if team.weekly_enabled else _("off")
    if team.weekly_time is None:
        when = _("{day}, at each recipient's morning digest time (yours: {time})").format(
            day=weekday_name(team.weekly_day), time=fmt_time(member.digest_time)
        )
    else:
        when = _("{day}, {time}").format(
            day=weekday_name(team.weekly_day), time=fmt_time(team.weekly_time)
        )
    return _(
        "<b>Weekly report</b> to the owner: revenue of the week and of the month to date per "
        "manager, ABC-XYZ moves, shrinking A shares, overdue follow-ups, stuck leads\n"
        "Status: {status}\n"
        "When: {when} (each recipient's time zone)\n"
        "Heads of sales get it too: {heads}\n\n"
        "Change (owner):\n"
        "<code>/settings weekly monday 9:00</code>, <code>/settings weekly friday</code>, "
        "<code>/settings weekly 17:30</code>\n"
        "<code>/settings weekly digest</code> — at each one's morning digest time\n"
        "<code>/settings weekly heads on</code> · <code>/settings weekly heads off</code>\n"
        "<code>/settings weekly off</code> · <code>/settings weekly on</code>"
    ).format(status=status, when=when, heads=_("yes") if team.weekly_heads else _("no"))
