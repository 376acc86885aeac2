"""Turning service results into HTML messages and keyboards in the member's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.fields import ON_CARD, ClientField, Kind
from bot.i18n import (
    _,
    fmt_date,
    fmt_date_full,
    fmt_datetime,
    fmt_money,
    fmt_number,
    fmt_time,
    ngettext,
)
from bot.services.activities import Logged
from bot.services.clients import ClientCard
from bot.services.digest import Digest, Notice, Nudge
from bot.services.matching import Resolution
from bot.services.reminders import Reminder
from bot.services.worklist import Worklist
from bot.telegram.callbacks import CardAct, CardAction, PickClient, Remind, RemindAct
from storage.dto import ActivityDTO, ClientDTO, FollowupDTO
from storage.repositories.digest import Birthday, NamedClient

_SNIPPET = 300


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose screen a message is for: their zone and their today (dates in other years show
    the year)."""

    zone: ZoneInfo
    today: date


TEMPERATURE_ICONS = {"hot": "🔥", "warm": "🌤", "cold": "❄️"}


def temperature_label(value: str) -> str:
    return {"hot": _("🔥 hot"), "warm": _("🌤 warm"), "cold": _("❄️ cold")}.get(value, value)


def stage_label(value: str) -> str:
    return {
        "new": _("new lead"),
        "contacted": _("contacted"),
        "proposal": _("proposal sent"),
        "negotiation": _("negotiation"),
        "won": _("client (won)"),
        "lost": _("lost (archived)"),
    }.get(value, value)


def consent_label(value: str) -> str:
    return {"yes": _("yes"), "no": _("no"), "unknown": _("unknown")}.get(value, value)


def outcome_label(kind: str, outcome: str | None) -> str:
    if kind == "note":
        return _("note")
    if kind == "meeting":
        return _("meeting")
    if kind == "deal":
        return _("deal")
    return {
        "done": _("call: talked"),
        "no_answer": _("call: no answer"),
        "callback": _("call: asked to call back"),
        "refused": _("call: refused"),
        "deal": _("call: deal"),
    }.get(outcome or "", _("call"))


def when_text(followup: FollowupDTO, viewer: Viewer) -> str:
    if followup.date_only:
        return fmt_date(followup.due_on, viewer.today)
    return fmt_datetime(followup.due_at.astimezone(viewer.zone), viewer.today)


ECHO_LIMIT = 60


def echo(text: str) -> str:
    """User input quoted back in a reply: escaped and short, whatever was typed."""
    return snippet(" ".join(text.split()), ECHO_LIMIT)


def snippet(text: str | None, limit: int = _SNIPPET) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return escape(text)


def logged_text(result: Logged, viewer: Viewer) -> str:
    name = f"<b>{escape(result.client.name)}</b>"
    planned = result.next_followup
    if result.outcome is None and planned is not None:
        # /meet and /next: the plan is the news; said once, with its date.
        when = when_text(planned, viewer)
        if planned.kind == "meeting":
            return _("📅 Meeting with {name} planned: {when}.").format(name=name, when=when)
        return _("📅 Next contact with {name}: {when}.").format(name=name, when=when)
    headline = {
        "done": _("✅ Call with {name} logged."),
        "no_answer": _("📵 No answer from {name} logged."),
        "callback": _("🔁 {name} asked to call back."),
        "refused": _("🚫 Refusal from {name} logged."),
        "deal": _("💰 Deal with {name} logged."),
        None: _("📅 Next contact with {name} planned."),
    }.get(result.outcome, _("✅ Logged for {name}.")).format(name=name)
    lines = [headline]
    if result.deal is not None:
        deal_line = _("Amount: {amount}").format(
            amount=fmt_money(result.deal.amount, result.deal.currency)
        )
        if result.deal.margin_percent is not None and result.deal.profit is not None:
            deal_line += _(", margin {percent}% ({profit})").format(
                percent=fmt_number(result.deal.margin_percent),
                profit=fmt_money(result.deal.profit, result.deal.currency),
            )
        lines.append(deal_line)
    if result.archived:
        lines.append(_("The lead is marked as lost and archived."))
    if result.next_followup is not None:
        # Every date comes with its true reason: an unanswered call is retried, a talk is
        # followed up by the client's temperature, a date the member typed is just that.
        if not result.next_is_default:
            key = _("Next contact: {when}.")
        elif result.outcome == "no_answer":
            key = _("Next try: {when}, the team's retry after no answer.")
        else:
            key = _("Next contact: {when}, the team's period for a {temperature} client.")
        lines.append(
            key.format(
                when=when_text(result.next_followup, viewer),
                temperature=temperature_label(result.client.temperature),
            )
        )
    elif result.outcome == "refused" or result.outcome == "deal":
        lines.append(_("No next contact is planned. Use /next to plan one."))
    return "\n".join(lines)


def card_text(card: ClientCard, viewer: Viewer, currency: str) -> str:
    c = card.client
    lines = [f"<b>{escape(c.name)}</b>"]
    lines.append(f"{temperature_label(c.temperature)} · {stage_label(c.stage)}")
    for field in ON_CARD:
        lines.extend(
            _("{label}: {value}").format(label=_(field.card_title), value=value)
            for value in _card_values(field, card, currency)
        )
    if card.next_followup is not None:
        reason = card.next_followup.reason
        line = _("Next contact: {when}.").format(when=when_text(card.next_followup, viewer))
        if reason:
            line += " " + snippet(reason, 200)
        lines.append("📅 " + line)
    else:
        lines.append("⚠️ " + _("No next contact is planned. Use /next to plan one."))
    if card.contacts_log:
        lines.append("")
        lines.append(_("<b>Last contacts</b>"))
        lines.extend(_activity_line(a, viewer) for a in card.contacts_log)
    if card.notes:
        lines.append("")
        lines.append(_("<b>Last notes</b>"))
        lines.extend(_activity_line(a, viewer) for a in card.notes)
    return "\n".join(lines)


def _card_values(field: ClientField, card: ClientCard, currency: str) -> list[str]:
    """The field's value on the card, shown as its kind is shown; none when empty (consent is
    always shown: "unknown" is worth asking about)."""
    c = card.client
    if field.kind is Kind.PHONES:
        return [", ".join(escape(p) for p in card.phones)] if card.phones else []
    if field.kind is Kind.TAGS:
        return [" ".join("#" + escape(t) for t in card.tags)] if card.tags else []
    if field.kind is Kind.MANAGER:
        return [escape(card.manager_name)]
    value = getattr(c, field.name)
    if field.kind is Kind.CONSENT:
        return [consent_label(value)]
    if field.name == "contact_person":
        # The position belongs to the first contact; every other contact has its own.
        people = [(value, c.position)] if value else []
        return [
            escape(name) + (f", {escape(pos)}" if pos else "")
            for name, pos in people + card.contacts
        ]
    if value is None or value == "":
        return []
    if field.kind is Kind.DATE:
        return [fmt_date_full(value)]
    if field.kind is Kind.MONEY:
        return [fmt_money(value, currency)]
    return [escape(str(value))]


def _activity_line(activity: ActivityDTO, viewer: Viewer) -> str:
    when = fmt_datetime(activity.occurred_at.astimezone(viewer.zone), viewer.today)
    text = snippet(activity.text)
    label = outcome_label(activity.kind, activity.outcome)
    return f"• {when}, {label}" + (f": {text}" if text else "")


def card_keyboard(client_id: int, followup: FollowupDTO | None) -> InlineKeyboardMarkup:
    fid = followup.id if followup is not None else 0
    b = InlineKeyboardBuilder()
    b.button(
        text=_("✅ Talked"), callback_data=CardAction(act=CardAct.DONE, cid=client_id, fid=fid)
    )
    b.button(
        text=_("📵 No answer"),
        callback_data=CardAction(act=CardAct.NO_ANSWER, cid=client_id, fid=fid),
    )
    b.button(
        text=_("📅 Tomorrow"),
        callback_data=CardAction(act=CardAct.TOMORROW, cid=client_id, fid=fid),
    )
    b.button(
        text=_("📅 In a week"), callback_data=CardAction(act=CardAct.WEEK, cid=client_id, fid=fid)
    )
    for temperature, icon in TEMPERATURE_ICONS.items():
        b.button(text=icon, callback_data=CardAction(act=CardAct(temperature), cid=client_id))
    b.adjust(2, 2, 3)
    return b.as_markup()


def pick_keyboard(cmd: str, pick_id: str, resolution: Resolution) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for match in resolution.matches:
        b.button(
            text=match.candidate.name[:60],
            callback_data=PickClient(cmd=cmd, cid=match.candidate.id, pid=pick_id),
        )
    b.adjust(1)
    return b.as_markup()


def client_buttons(clients: list[ClientDTO]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for client in clients:
        b.button(text=client.name[:60], callback_data=CardAction(act=CardAct.OPEN, cid=client.id))
    b.adjust(1)
    return b.as_markup()


def worklist_text(work: Worklist, viewer: Viewer) -> str:
    if not work.overdue and not work.due_today:
        return _("Nothing is due today. 🎉 Plan contacts with /next or see /list.")
    lines: list[str] = []
    if work.overdue:
        lines.append(_("<b>Overdue ({count})</b>").format(count=len(work.overdue)))
        for item in work.overdue:
            lines.append(_due_line(item.client_name, item.followup, item.temperature, viewer, True))
    if work.due_today:
        if lines:
            lines.append("")
        lines.append(_("<b>Today ({count})</b>").format(count=len(work.due_today)))
        for item in work.due_today:
            lines.append(
                _due_line(item.client_name, item.followup, item.temperature, viewer, False)
            )
    lines.append("")
    lines.append(_("Log a result: <code>/call Name done</code> or open the card: /client Name"))
    return "\n".join(lines)


def _due_line(name: str, f: FollowupDTO, temperature: str, viewer: Viewer, overdue: bool) -> str:
    icon = TEMPERATURE_ICONS.get(temperature, "•")
    if overdue:
        when = fmt_date(f.due_on, viewer.today)
    else:
        when = _("any time") if f.date_only else fmt_time(f.due_at.astimezone(viewer.zone).time())
    kind = _("meeting") if f.kind == "meeting" else _("call")
    reason = f" — {snippet(f.reason, 80)}" if f.reason else ""
    return f"{icon} {when} · {kind}: <b>{escape(name)}</b>{reason}"


def role_label(role: str) -> str:
    return {"owner": _("owner"), "head": _("head of sales"), "manager": _("manager")}.get(
        role, role
    )


def reminder_text(reminder: Reminder, viewer: Viewer) -> str:
    f, client = reminder.followup, reminder.client
    name = f"<b>{escape(client.name)}</b>"
    if f.kind == "meeting":
        head = _("🔔 Meeting with {name}: {when}").format(name=name, when=when_text(f, viewer))
    else:
        head = _("🔔 Time to contact {name}").format(name=name)
    lines = [head]
    if f.reason:
        lines.append(_("What for: {reason}").format(reason=snippet(f.reason, 300)))
    if reminder.late:
        lines.append(
            _("⏰ Late: this was due {when}; the bot could not deliver it then.").format(
                when=when_text(f, viewer)
            )
        )
    if reminder.last_contact is not None:
        lines.append(
            _("Last contact: {line}").format(line=_activity_line(reminder.last_contact, viewer)[2:])
        )
    if reminder.last_note is not None:
        lines.append(
            _("Last note: {line}").format(line=_activity_line(reminder.last_note, viewer)[2:])
        )
    return "\n".join(lines)


def reminder_keyboard(followup_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for act, label in (
        (RemindAct.DONE, _("✅ Talked")),
        (RemindAct.NO_ANSWER, _("📵 No answer")),
        (RemindAct.HOUR, _("⏱ +1 hour")),
        (RemindAct.TOMORROW, _("📅 Tomorrow")),
        (RemindAct.TWOWEEKS, _("📅 In 2 weeks")),
        (RemindAct.OTHER, _("📆 Other date")),
        (RemindAct.OPEN, _("📇 Open card")),
    ):
        b.button(text=label, callback_data=Remind(act=act, fid=followup_id))
    b.adjust(2, 3, 2)
    return b.as_markup()


def _names(items: list[NamedClient], total: int | None = None) -> str:
    shown = ", ".join(escape(item.name) for item in items)
    more = (total or len(items)) - len(items)
    if more <= 0:
        return shown
    return ngettext(
        "{names} and {count} more client", "{names} and {count} more clients", more
    ).format(names=shown, count=more)


def digest_text(d: Digest, viewer: Viewer) -> str:
    if d.empty:
        text = _("☀️ Good morning! Nothing is due today and nothing needs attention.")
        if d.catch_up_since is not None:
            text += " " + _("(The bot was unavailable since {date}; nothing was missed.)").format(
                date=fmt_date(d.catch_up_since, viewer.today)
            )
        return text
    lines = [
        _("☀️ <b>Good morning! Your day, {date}</b>").format(date=fmt_date(d.day, viewer.today))
    ]
    if d.catch_up_since is not None:
        lines.append(
            _("The bot was unavailable; this covers everything since {date}.").format(
                date=fmt_date(d.catch_up_since, viewer.today)
            )
        )
    if d.due_today:
        lines.append(
            _("📞 Today ({count}): {names}").format(
                count=len(d.due_today), names=_names(d.due_today[:10], len(d.due_today))
            )
        )
    if d.overdue:
        lines.append(
            _("⚠️ Overdue ({count}): {names}").format(
                count=len(d.overdue), names=_names(d.overdue[:10], len(d.overdue))
            )
        )
    if d.quiet:
        lines.append(
            _("🤫 Hot clients going quiet ({count}): {names}").format(
                count=d.quiet_total, names=_names(d.quiet, d.quiet_total)
            )
        )
    if d.stuck:
        lines.append(
            _("⏳ Stuck leads ({count}): {names}").format(
                count=d.stuck_total, names=_names(d.stuck, d.stuck_total)
            )
        )
    today = [b for b in d.birthdays if b.day == d.day]
    later = [b for b in d.birthdays if b.day != d.day]
    if today:
        lines.append(
            _("🎂 Birthdays today: {names}").format(names=", ".join(_birthday(b) for b in today))
        )
    if later:
        lines.append(
            _("🎈 Birthdays this week: {names}").format(
                names=", ".join(f"{_birthday(b)} ({fmt_date(b.day, viewer.today)})" for b in later)
            )
        )
    y = d.yesterday
    lines.append(
        _("Yesterday — calls: {calls}, meetings: {meetings}, deals: {deals} for {sum}.").format(
            calls=y.calls,
            meetings=y.meetings,
            deals=y.deals,
            sum=fmt_money(y.deal_sum, d.team.currency),
        )
    )
    if d.team_lines:
        lines.append("")
        lines.append(_("<b>Team yesterday</b>"))
        for line in d.team_lines:
            lines.append(
                _("{name} — calls: {calls}, overdue: {overdue}, deals: {deals} ({sum})").format(
                    name=escape(line.name),
                    calls=line.calls,
                    overdue=line.overdue,
                    deals=line.deals,
                    sum=fmt_money(line.deal_sum, d.team.currency),
                )
            )
    lines.append("")
    lines.append(_("Details: /today"))
    return "\n".join(lines)


def _birthday(b: Birthday) -> str:
    if b.person:
        return f"{escape(b.person)} ({escape(b.client_name)})"
    return escape(b.client_name)


def nudge_text(n: Nudge) -> str:
    name = f"<b>{escape(n.client.name)}</b>"
    short = escape(n.client.name.split()[0])
    if n.step == "quiet":
        return ngettext(
            "🤫 {name} is going quiet: a hot client with no contact for {days} day.\n"
            "Call now: <code>/call {short} done</code>",
            "🤫 {name} is going quiet: a hot client with no contact for {days} days.\n"
            "Call now: <code>/call {short} done</code>",
            n.days,
        ).format(name=name, days=n.days, short=short)
    if n.step == "cooled":
        return ngettext(
            "❄️ {name} (manager: {manager}) had no activity for {days} day and is now warm.",
            "❄️ {name} (manager: {manager}) had no activity for {days} days and is now warm.",
            n.days,
        ).format(name=name, manager=escape(n.manager_name), days=n.days)
    stage = stage_label(n.client.stage)
    if n.step == "stuck1":
        return ngettext(
            "⏳ Lead {name} has been at «{stage}» for {days} day. Log a contact or move it "
            "on: <code>/call {short} done</code>",
            "⏳ Lead {name} has been at «{stage}» for {days} days. Log a contact or move it "
            "on: <code>/call {short} done</code>",
            n.days,
        ).format(name=name, stage=stage, days=n.days, short=short)
    if n.step == "stuck2":
        return ngettext(
            "⏳ {manager}'s lead {name} has been at «{stage}» for {days} day, and the reminder "
            "got no reaction.",
            "⏳ {manager}'s lead {name} has been at «{stage}» for {days} days, and the reminder "
            "got no reaction.",
            n.days,
        ).format(manager=escape(n.manager_name), name=name, stage=stage, days=n.days)
    return ngettext(
        "🗄 Lead {name} (manager: {manager}) was archived after {days} day without movement.",
        "🗄 Lead {name} (manager: {manager}) was archived after {days} days without movement.",
        n.days,
    ).format(name=name, manager=escape(n.manager_name), days=n.days)


def notice_text(notice: Notice) -> str:
    return _(
        "⚠️ {name} has blocked the bot: reminders to them are paused until they write to the "
        "bot again. Their clients' follow-ups are kept."
    ).format(name=escape(notice.subject))
