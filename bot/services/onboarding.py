"""Joining: the first owner of a fresh install, invite links, and polite refusal of strangers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import time, timedelta
from enum import StrEnum

from bot.errors import ErrorCode
from bot.services.access import require_role
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from storage.dto import InviteDTO, MemberDTO, TeamDTO
from storage.enums import Role

INVITABLE_ROLES = (Role.MANAGER, Role.HEAD)


@dataclass(frozen=True, slots=True)
class NewcomerInfo:
    """What Telegram tells us about the person pressing /start."""

    telegram_id: int
    full_name: str
    username: str | None
    language: str | None


class StartKind(StrEnum):
    WELCOME_BACK = "welcome_back"
    OWNER_CREATED = "owner_created"
    JOINED = "joined"
    REFUSED = "refused"
    INVITE_INVALID = "invite_invalid"
    INVITE_EXPIRED = "invite_expired"
    INVITE_USED = "invite_used"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class StartOutcome:
    kind: StartKind
    member: MemberDTO | None = None
    team: TeamDTO | None = None
    inviter: MemberDTO | None = None


class OnboardingService:
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        default_timezone: str,
        default_currency: str,
        owner_telegram_id: int | None,
        open_registration: bool,
        work_hours: tuple,
        digest_time: time,
    ) -> None:
        self._ctx = ctx
        self._default_timezone = default_timezone
        self._default_currency = default_currency
        self._owner_telegram_id = owner_telegram_id
        self._open_registration = open_registration
        self._work_start, self._work_end = work_hours
        self._digest_time = digest_time

    async def start(self, person: NewcomerInfo, payload: str | None) -> StartOutcome:
        uow = self._ctx.uow
        existing = await uow.members.by_telegram_id(person.telegram_id)
        if existing is not None:
            if not existing.is_active:
                # A removed member comes back only through a new invite from the owner.
                if payload:
                    return await self._rejoin(existing, payload)
                return StartOutcome(StartKind.DEACTIVATED)
            return StartOutcome(
                StartKind.WELCOME_BACK, existing, await uow.teams.get(existing.team_id)
            )
        if payload:
            return await self._join_by_invite(person, payload)
        if await self._may_found_team(person):
            return await self._found_team(person)
        return StartOutcome(StartKind.REFUSED)

    async def _may_found_team(self, person: NewcomerInfo) -> bool:
        if self._owner_telegram_id is not None:
            return person.telegram_id == self._owner_telegram_id
        if self._open_registration:
            return True
        return await self._ctx.uow.teams.count() == 0

    async def _found_team(self, person: NewcomerInfo) -> StartOutcome:
        uow, now, rules = self._ctx.uow, self._ctx.now(), self._ctx.rules
        team = await uow.teams.create(
            name=person.full_name,
            timezone=self._default_timezone,
            currency=self._default_currency,
            now=now,
            **rules.model_dump(),
        )
        member = await self._create_member(team, person, Role.OWNER)
        await uow.audit.add(team_id=team.id, actor_id=member.id, action="team_created", now=now)
        return StartOutcome(StartKind.OWNER_CREATED, member, team)

    async def _usable_invite(self, token: str) -> InviteDTO | StartOutcome:
        invite = await self._ctx.uow.invites.by_token(token[:64])
        if invite is None:
            return StartOutcome(StartKind.INVITE_INVALID)
        if invite.used_by is not None:
            return StartOutcome(StartKind.INVITE_USED)
        if invite.expires_at <= self._ctx.now():
            return StartOutcome(StartKind.INVITE_EXPIRED)
        return invite

    async def _rejoin(self, member: MemberDTO, token: str) -> StartOutcome:
        uow, now = self._ctx.uow, self._ctx.now()
        invite = await self._usable_invite(token)
        if isinstance(invite, StartOutcome):
            return invite
        if invite.team_id != member.team_id:
            # One Telegram account belongs to one team; its history stays where it was made.
            return StartOutcome(StartKind.DEACTIVATED)
        await uow.members.update(
            member.team_id,
            member.id,
            is_active=True,
            removed_at=None,
            unreachable_at=None,
            role=invite.role,
        )
        if not await uow.invites.claim(invite.id, member.id, now):
            raise DomainError(ErrorCode.INVITE_USED)
        await uow.audit.add(
            team_id=member.team_id,
            actor_id=member.id,
            action="member_rejoined",
            now=now,
            details={"role": invite.role, "invite_id": invite.id},
        )
        back = replace(member, is_active=True, removed_at=None, role=invite.role)
        inviter = await uow.members.get(member.team_id, invite.created_by)
        return StartOutcome(StartKind.JOINED, back, await uow.teams.get(member.team_id), inviter)

    async def _join_by_invite(self, person: NewcomerInfo, token: str) -> StartOutcome:
        uow, now = self._ctx.uow, self._ctx.now()
        invite = await self._usable_invite(token)
        if isinstance(invite, StartOutcome):
            return invite
        team = await uow.teams.get(invite.team_id)
        member = await self._create_member(team, person, Role(invite.role))
        if not await uow.invites.claim(invite.id, member.id, now):
            raise DomainError(ErrorCode.INVITE_USED)
        await uow.audit.add(
            team_id=team.id,
            actor_id=member.id,
            action="member_joined",
            now=now,
            details={"role": invite.role, "invite_id": invite.id},
        )
        inviter = await uow.members.get(team.id, invite.created_by)
        return StartOutcome(StartKind.JOINED, member, team, inviter)

    async def _create_member(self, team: TeamDTO, person: NewcomerInfo, role: Role) -> MemberDTO:
        return await self._ctx.uow.members.create(
            team_id=team.id,
            telegram_id=person.telegram_id,
            role=role,
            full_name=person.full_name[:200],
            username=person.username,
            language=None,
            telegram_language=person.language,
            timezone=team.timezone,
            work_start=self._work_start,
            work_end=self._work_end,
            digest_time=self._digest_time,
            now=self._ctx.now(),
        )

    async def create_invite(self, actor: Actor, role: Role) -> InviteDTO:
        require_role(actor, Role.OWNER)
        if role not in INVITABLE_ROLES:
            raise DomainError(ErrorCode.INVITE_ROLE_UNKNOWN)
        uow, now = self._ctx.uow, self._ctx.now()
        invite = await uow.invites.create(
            team_id=actor.team.id,
            token=secrets.token_urlsafe(18),
            role=role,
            created_by=actor.member.id,
            now=now,
            expires_at=now + timedelta(hours=self._ctx.limits.invite_ttl_hours),
        )
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="invite_created",
            now=now,
            details={"role": role, "invite_id": invite.id},
        )
        return invite
