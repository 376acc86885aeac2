"""Texts and keyboards of team management: `/team`, a member's panel, transfers, alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import _, fmt_datetime, ngettext
from bot.services.team import Removal, Roster, RosterLine, TransferResult
from bot.telegram.callbacks import TeamAct, TeamStep
from bot.telegram.paging import budget_for, neighbours, part_of
from bot.telegram.views.common import Viewer, role_label
from storage.dto import MemberDTO
from storage.enums import Role


def member_label(member: MemberDTO) -> str:
    name = member.full_name
    return f"{name} (@{member.username})" if member.username else name


def _load_line(line: RosterLine, viewer: Viewer) -> str:
    load = line.load
    last = (
        fmt_datetime(load.last_activity_at.astimezone(viewer.zone), viewer.today)
        if load.last_activity_at is not None
        else _("none yet")
    )
    return _("clients: {clients} · overdue: {overdue} · last activity: {last}").format(
        clients=load.clients, overdue=load.overdue, last=last
    )


def _roster_row(index: int, line: RosterLine, viewer: Viewer) -> str:
    member = line.member
    status = role_label(member.role) if member.is_active else _("removed")
    return (
        f"\n{index}. <b>{escape(member_label(member))}</b> — {status}\n{_load_line(line, viewer)}"
    )


def roster_view(roster: Roster, viewer: Viewer, part: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    """A page of `/team`: the members from `roster.offset` that fit one message (part `part`
    of them), a button for each of them, and Back/More leading to the neighbouring parts."""
    header = _("👥 <b>Team</b> ({count})").format(count=roster.total)
    footer = "\n" + _("Press a member to change the role, remove or reassign clients.")
    rows = [
        _roster_row(index, line, viewer)
        for index, line in enumerate(roster.lines, start=roster.offset + 1)
    ]
    shown = part_of(rows, part, budget_for(header, footer, joints=2))
    text = "\n".join([header, *shown.rows, footer])
    b = InlineKeyboardBuilder()
    members = roster.lines[shown.first : shown.first + len(shown.rows)]
    for line in members:
        mark = "👤" if line.member.is_active else "🚫"
        b.button(
            text=f"{mark} {line.member.full_name[:40]}",
            callback_data=TeamAct(act=TeamStep.OPEN, mid=line.member.id),
        )
    sizes = [1] * len(members)
    back, more = neighbours(roster.offset, shown, len(roster.lines), roster.total, roster.page_size)
    if back is not None:
        b.button(
            text=_("◀️ Back"),
            callback_data=TeamAct(act=TeamStep.PAGE, off=back.offset, pt=back.part),
        )
    if more is not None:
        b.button(
            text=_("More ▶️"),
            callback_data=TeamAct(act=TeamStep.PAGE, off=more.offset, pt=more.part),
        )
    nav = (back is not None) + (more is not None)
    if nav:
        sizes.append(nav)
    b.adjust(*sizes)
    return text, b.as_markup()


def panel_text(line: RosterLine, viewer: Viewer) -> str:
    member = line.member
    status = role_label(member.role) if member.is_active else _("removed from the team")
    return f"<b>{escape(member_label(member))}</b> — {status}\n{_load_line(line, viewer)}"


def panel_keyboard(line: RosterLine, viewer_member: MemberDTO) -> InlineKeyboardMarkup:
    """Only the buttons the viewer may use; the service checks every press again anyway."""
    member, b = line.member, InlineKeyboardBuilder()
    is_owner = viewer_member.role == Role.OWNER
    editable = is_owner and member.is_active and member.id != viewer_member.id
    if editable and member.role != Role.OWNER:
        if member.role == Role.MANAGER:
            b.button(
                text=_("⬆️ Make head of sales"),
                callback_data=TeamAct(act=TeamStep.ROLE, mid=member.id, arg=Role.HEAD),
            )
        else:
            b.button(
                text=_("⬇️ Make manager"),
                callback_data=TeamAct(act=TeamStep.ROLE, mid=member.id, arg=Role.MANAGER),
            )
        b.button(
            text=_("👑 Hand over ownership"), callback_data=TeamAct(act=TeamStep.OWN, mid=member.id)
        )
        b.button(
            text=_("🗑 Remove from the team"), callback_data=TeamAct(act=TeamStep.RM, mid=member.id)
        )
    if line.load.clients:
        b.button(
            text=_("🔁 Reassign clients"), callback_data=TeamAct(act=TeamStep.GIVE, mid=member.id)
        )
    b.button(text=_("◀️ Team"), callback_data=TeamAct(act=TeamStep.PAGE, off=0))
    b.adjust(1)
    return b.as_markup()


def confirm_keyboard(act: TeamStep, member_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=_("✅ Yes"), callback_data=TeamAct(act=act, mid=member_id))
    b.button(text=_("✖️ Cancel"), callback_data=TeamAct(act=TeamStep.OPEN, mid=member_id))
    return b.as_markup()


def heirs_keyboard(heirs: Sequence[MemberDTO]) -> InlineKeyboardMarkup:
    """`/owner` without a name: one button per member who may take the ownership over."""
    b = InlineKeyboardBuilder()
    for member in heirs:
        b.button(
            text=f"👑 {member.full_name[:40]}",
            callback_data=TeamAct(act=TeamStep.OWN, mid=member.id),
        )
    b.adjust(1)
    return b.as_markup()


def ownership_question(name: str) -> str:
    return _(
        "Hand the team's ownership over to <b>{name}</b>? They become the owner with every "
        "right; you become head of sales."
    ).format(name=escape(name))


def new_owner_text(member: MemberDTO) -> str:
    return _("👑 <b>{name}</b> is now the owner of the team; you are head of sales.").format(
        name=escape(member.full_name)
    )


def role_changed_note(member: MemberDTO) -> str:
    """The toast after a role button: plain text, no markup."""
    return _("{name} is now {role}.").format(
        name=member.full_name[:60], role=role_label(member.role)
    )


def removal_question(member: MemberDTO) -> str:
    return _(
        "Remove <b>{name}</b> from the team? Their access ends at once. Then you choose "
        "whom their clients, follow-ups and open leads go to; their history stays theirs."
    ).format(name=escape(member.full_name))


def removed_view(removal: Removal) -> tuple[str, InlineKeyboardMarkup | None]:
    """Who was removed and, when they had clients and someone can take them, whom to give
    them to."""
    text = _("🚫 <b>{name}</b> is removed from the team; their access is closed.").format(
        name=escape(removal.member.full_name)
    )
    if removal.clients and removal.receivers:
        text += "\n\n" + whom_text(removal.member, removal.clients)
        return text, receivers_keyboard(removal.member.id, removal.receivers)
    return text, None


def receivers_keyboard(source_id: int, receivers: Sequence[MemberDTO]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for member in receivers:
        b.button(
            text=f"➡️ {member.full_name[:40]}",
            callback_data=TeamAct(act=TeamStep.TO, mid=source_id, arg=str(member.id)),
        )
    b.button(text=_("Later"), callback_data=TeamAct(act=TeamStep.PAGE, off=0))
    b.adjust(1)
    return b.as_markup()


def whom_text(member: MemberDTO, clients: int) -> str:
    return _(
        "Whom do the clients of <b>{name}</b> ({count}) go to, with their follow-ups and open "
        "leads? Until then the owner and the head of sales see them."
    ).format(count=clients, name=escape(member.full_name))


def _names_list(names: Sequence[str], more: int) -> str:
    text = ", ".join(escape(str(name)) for name in names)
    if more <= 0:
        return text
    return ngettext(
        "{names} and {count} more client", "{names} and {count} more clients", more
    ).format(names=text, count=more)


def transferred_text(result: TransferResult, shown: int) -> str:
    names = result.names[:shown]
    return _("🔁 Clients moved from <b>{source}</b> to <b>{target}</b>: {count}.\n{names}").format(
        count=len(result.client_ids),
        source=escape(result.source.full_name),
        target=escape(result.target.full_name),
        names=_names_list(names, len(result.names) - len(names)),
    )


# -- outbox alerts (params come from JSON: escape everything) -------------------------------


def transfer_in_text(params: Mapping[str, Any]) -> str:
    return _(
        "📥 {by} gave you clients of {source}, with their follow-ups: {count}.\n{names}\n"
        "See them: /list · today's work: /today"
    ).format(
        by=escape(str(params.get("by", ""))),
        count=int(params.get("count", 0)),
        source=escape(str(params.get("from", ""))),
        names=_names_list(list(params.get("names") or []), int(params.get("more", 0))),
    )


def transfer_out_text(params: Mapping[str, Any]) -> str:
    return _("📤 {by} moved your clients to {target}: {count}.\n{names}").format(
        by=escape(str(params.get("by", ""))),
        count=int(params.get("count", 0)),
        target=escape(str(params.get("to", ""))),
        names=_names_list(list(params.get("names") or []), int(params.get("more", 0))),
    )


def ownership_in_text(params: Mapping[str, Any]) -> str:
    return _(
        "👑 {name} handed the team's ownership over to you. You now manage the team: /team"
    ).format(name=escape(str(params.get("from", ""))))


def role_changed_text(params: Mapping[str, Any]) -> str:
    return _("Your role in the team is now: {role}.").format(
        role=escape(role_label(str(params.get("role", ""))))
    )


TEAM_ALERTS = {
    "transfer_in": transfer_in_text,
    "transfer_out": transfer_out_text,
    "ownership_in": ownership_in_text,
    "role_changed": role_changed_text,
}
