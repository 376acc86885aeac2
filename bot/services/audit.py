"""`/audit`: the owner reads who did what to which client, filtered by member, action, period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.parsing.data_rights import AuditQuery
from bot.services.access import require_role
from bot.services.context import Actor, ServiceContext
from bot.services.team import find_member
from storage.enums import Role
from storage.repositories.audit import AuditLine

# What the owner types -> the actions it covers. Other features write their own action names;
# the groups take the likely ones so the filter keeps working when they land.
ACTION_GROUPS: dict[str, tuple[str, ...]] = {
    "views": ("card_view",),
    "search": ("search",),
    "export": ("export",),
    "import": ("import",),
    # The names the services really write (team.py, onboarding.py, export.py): a handover
    # of ownership is two "role_change" rows, a removal is "member_removed".
    "transfer": ("transfer",),
    "roles": (
        "member_joined",
        "member_rejoined",
        "invite_created",
        "role_change",
        "member_removed",
        "grant_export",
        "revoke_export",
    ),
    "erase": ("erase",),
    "alerts": ("mass_view",),
    "consent": ("consent",),
    # The Mini App's card form (bot/services/card_edit.py).
    "edits": ("card_edit",),
}


@dataclass(frozen=True, slots=True)
class AuditPage:
    lines: list[AuditLine]
    total: int
    offset: int
    member_id: int | None
    member_name: str | None


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def page(self, actor: Actor, query: AuditQuery, offset: int) -> AuditPage:
        require_role(actor, Role.OWNER)
        uow, limits = self._ctx.uow, self._ctx.limits
        member_id, member_name = query.member_id, None
        if query.member:
            member = await find_member(self._ctx, actor.team.id, query.member)
            member_id, member_name = member.id, member.full_name
        elif member_id is not None:
            found = await uow.members.get(actor.team.id, member_id)
            member_name = found.full_name if found else None
            if found is None:
                member_id = None
        zone = actor.zone

        def start_of(day: date) -> datetime:
            return datetime.combine(day, time(0), zone)

        since = start_of(query.since) if query.since else None
        until = start_of(query.until + timedelta(days=1)) if query.until else None
        lines, total = await uow.audit.page(
            actor.team.id,
            actor_id=member_id,
            actions=ACTION_GROUPS.get(query.group or "", ()),
            since=since,
            until=until,
            offset=max(offset, 0),
            limit=limits.audit_page_size,
        )
        return AuditPage(lines, total, max(offset, 0), member_id, member_name)
