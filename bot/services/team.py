"""Team management: the roster, role changes, removing a member, moving clients, ownership.

Every call re-checks who acts and on whom (buttons can be forged or outlive what they named),
and the team always keeps at least one active owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.errors import ErrorCode
from bot.parsing.names import clean_name
from bot.parsing.tokens import scan, tail
from bot.services import matching
from bot.services.access import TEAM_WIDE_ROLES, require_role
from bot.services.alerts import enqueue_alert
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.matching import MatchKind
from storage.dto import MatchCandidate, MemberDTO
from storage.enums import Role
from storage.repositories.roster import MemberLoad

ROSTER_PAGE_SIZE = 8
# The summary a receiving manager gets names this many clients, then "and K more".
SUMMARY_NAMES = 10
_ROLE_ORDER = {Role.OWNER: 0, Role.HEAD: 1, Role.MANAGER: 2}
# The reason recorded on outbox rows dropped because their member was removed.
MEMBER_REMOVED = "member removed"
_MAX_NAME_WORDS = 3


@dataclass(frozen=True, slots=True)
class RosterLine:
    member: MemberDTO
    load: MemberLoad


@dataclass(frozen=True, slots=True)
class Roster:
    lines: list[RosterLine]
    total: int
    offset: int
    page_size: int


@dataclass(frozen=True, slots=True)
class Removal:
    member: MemberDTO
    clients: int
    receivers: list[MemberDTO]


@dataclass(frozen=True, slots=True)
class TransferResult:
    source: MemberDTO
    target: MemberDTO
    client_ids: list[int]
    names: list[str]
    followups: int


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """`/transfer <from> <to> [clients...]` resolved: client_ids None means all of them."""

    source: MemberDTO
    target: MemberDTO
    client_ids: list[int] | None


def _candidate(member: MemberDTO) -> MatchCandidate:
    names = matching.search_text([member.full_name, member.username])
    return MatchCandidate(member.id, member.full_name, names, "", member.id)


async def find_member(ctx: ServiceContext, team_id: int, text: str) -> MemberDTO:
    """A member by @username, or by name fuzzily (typos, Latin or Cyrillic). Removed
    members are found too, so that the answer can say they left."""
    query = clean_name(text)
    if not query:
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=text)
    members = list((await ctx.uow.members.of_team(team_id)).values())
    if query.startswith("@"):
        wanted = query[1:].casefold()
        for member in members:
            if member.username and member.username.casefold() == wanted:
                return member
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=query)
    candidates = [_candidate(m) for m in members]
    limits = ctx.limits
    found = matching.resolve(
        query, candidates, min_score=limits.match_min_score, limit=limits.pick_candidates
    )
    if found.kind is MatchKind.NONE:
        raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=query)
    by_id = {m.id: m for m in members}
    if found.kind is MatchKind.SEVERAL:
        active = [m for m in found.matches if by_id[m.candidate.id].is_active]
        # A namesake who left does not make the choice ambiguous.
        if len(active) == 1:
            return by_id[active[0].candidate.id]
        names = ", ".join(m.candidate.name for m in found.matches)
        raise DomainError(ErrorCode.MEMBER_AMBIGUOUS, value=query, names=names)
    return by_id[found.best.id]


def require_team_wide(actor: Actor) -> None:
    if actor.member.role not in TEAM_WIDE_ROLES:
        raise DomainError(ErrorCode.NOT_ALLOWED_TEAM)


class TeamService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    # -- reading ----------------------------------------------------------------------------

    async def roster(self, actor: Actor, offset: int = 0) -> Roster:
        """Active members, then removed ones still holding clients (so nothing is orphaned)."""
        require_team_wide(actor)
        members = await self._ctx.uow.members.of_team(actor.team.id)
        today = self._ctx.local_now(actor).date()
        loads = await self._ctx.uow.roster.loads(actor.team.id, today)
        lines = [
            RosterLine(m, loads.get(m.id, MemberLoad()))
            for m in members.values()
            if m.is_active or loads.get(m.id, MemberLoad()).clients > 0
        ]
        lines.sort(
            key=lambda line: (
                not line.member.is_active,
                _ROLE_ORDER.get(Role(line.member.role), 3),
                line.member.full_name.casefold(),
                line.member.id,
            )
        )
        offset = max(0, min(offset, max(len(lines) - 1, 0)))
        offset -= offset % ROSTER_PAGE_SIZE
        return Roster(
            lines[offset : offset + ROSTER_PAGE_SIZE], len(lines), offset, ROSTER_PAGE_SIZE
        )

    async def line(self, actor: Actor, member_id: int) -> RosterLine:
        require_team_wide(actor)
        member = await self._member(actor, member_id)
        today = self._ctx.local_now(actor).date()
        loads = await self._ctx.uow.roster.loads(actor.team.id, today)
        return RosterLine(member, loads.get(member.id, MemberLoad()))

    async def receivers(self, actor: Actor, source_id: int) -> list[MemberDTO]:
        """Who may receive `source_id`'s clients: every other active member."""
        require_team_wide(actor)
        members = await self._ctx.uow.members.of_team(actor.team.id)
        found = [m for m in members.values() if m.is_active and m.id != source_id]
        return sorted(found, key=lambda m: (_ROLE_ORDER.get(Role(m.role), 3), m.full_name, m.id))

    async def holders(self, actor: Actor) -> list[MemberDTO]:
        """Members (removed ones too) who hold clients: whom clients may be moved from."""
        require_team_wide(actor)
        members = await self._ctx.uow.members.of_team(actor.team.id)
        today = self._ctx.local_now(actor).date()
        loads = await self._ctx.uow.roster.loads(actor.team.id, today)
        found = [m for m in members.values() if loads.get(m.id, MemberLoad()).clients > 0]
        return sorted(found, key=lambda m: (not m.is_active, m.full_name.casefold(), m.id))

    async def client_count(self, actor: Actor, member_id: int) -> int:
        require_team_wide(actor)
        return len(await self._ctx.uow.roster.client_ids(actor.team.id, member_id))

    # -- changes ----------------------------------------------------------------------------

    async def change_role(self, actor: Actor, member_id: int, role: Role) -> MemberDTO:
        """manager <-> head; the owner's role moves only with `hand_over`."""
        require_role(actor, Role.OWNER)
        if role not in (Role.MANAGER, Role.HEAD):
            raise DomainError(ErrorCode.ROLE_OWNER_BY_TRANSFER)
        member = await self._active_member(actor, member_id)
        if member.role == Role.OWNER:
            raise DomainError(ErrorCode.ROLE_OWNER_BY_TRANSFER)
        if member.role == role:
            raise DomainError(ErrorCode.ROLE_SAME)
        uow, now = self._ctx.uow, self._ctx.now()
        await uow.members.update(actor.team.id, member.id, role=role)
        await self._ensure_an_owner(actor)
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="role_change",
            now=now,
            details={"member_id": member.id, "from": member.role, "to": str(role)},
        )
        await enqueue_alert(
            uow,
            team_id=actor.team.id,
            member_id=member.id,
            step="role_changed",
            params={"role": str(role)},
            dedup_key=f"{member.id}:{role}:{int(now.timestamp())}",
            now=now,
        )
        return replace(member, role=str(role))

    async def remove(self, actor: Actor, member_id: int) -> Removal:
        """Access ends with this transaction; clients wait (visible to owner and head) until
        the owner says whom they go to."""
        require_role(actor, Role.OWNER)
        member = await self._member(actor, member_id)
        if member.id == actor.member.id:
            raise DomainError(ErrorCode.REMOVE_SELF)
        if not member.is_active:
            raise DomainError(ErrorCode.MEMBER_ALREADY_REMOVED, name=member.full_name)
        if member.role == Role.OWNER:
            raise DomainError(ErrorCode.REMOVE_OWNER)
        uow, now = self._ctx.uow, self._ctx.now()
        # Conditional: of two presses racing, only one removes; the other is told it is done.
        if not await uow.roster.deactivate(actor.team.id, member.id, now):
            raise DomainError(ErrorCode.MEMBER_ALREADY_REMOVED, name=member.full_name)
        await self._ensure_an_owner(actor)
        await uow.outbox.drop_pending_for_member(member.id, MEMBER_REMOVED)
        # Their calendar feed stops with their access, and stays dead if they are invited back.
        await uow.calendar.revoke(member.id, now)
        await uow.roster.bump_roster(actor.team.id)
        clients = len(await uow.roster.client_ids(actor.team.id, member.id))
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="member_removed",
            now=now,
            details={"member_id": member.id, "role": member.role, "clients": clients},
        )
        removed = replace(member, is_active=False, removed_at=now)
        return Removal(removed, clients, await self.receivers(actor, member.id))

    async def transfer(
        self,
        actor: Actor,
        source_id: int,
        target_id: int,
        client_ids: Sequence[int] | None = None,
    ) -> TransferResult:
        """Move all (None) or the given clients of `source_id` to `target_id`, with their
        pending follow-ups and open leads; one audit row, one summary to each side."""
        require_team_wide(actor)
        source = await self._member(actor, source_id)
        target = await self._member(actor, target_id)
        if not target.is_active:
            raise DomainError(ErrorCode.MEMBER_REMOVED, name=target.full_name)
        if source.id == target.id:
            raise DomainError(ErrorCode.TRANSFER_SAME, name=target.full_name)
        uow, now = self._ctx.uow, self._ctx.now()
        owned = await uow.roster.client_ids(actor.team.id, source.id)
        if client_ids is None:
            wanted = owned
        else:
            mine = set(owned)
            for client_id in client_ids:
                if client_id not in mine:
                    client = await uow.clients.get(actor.team.id, client_id)
                    raise DomainError(
                        ErrorCode.TRANSFER_NOT_THEIRS,
                        value=client.name if client else str(client_id),
                        name=source.full_name,
                    )
            wanted = list(dict.fromkeys(client_ids))
        if not wanted:
            raise DomainError(ErrorCode.TRANSFER_EMPTY, name=source.full_name)
        moved = await uow.roster.move_clients(actor.team.id, wanted, source.id, target.id, now)
        if not moved.client_ids:
            raise DomainError(ErrorCode.TRANSFER_EMPTY, name=source.full_name)
        await uow.audit.add(
            team_id=actor.team.id,
            actor_id=actor.member.id,
            action="transfer",
            now=now,
            details={
                "from": source.id,
                "to": target.id,
                "count": len(moved.client_ids),
                "client_ids": moved.client_ids,
            },
        )
        names = await uow.roster.client_names(actor.team.id, moved.client_ids)
        result = TransferResult(source, target, moved.client_ids, names, len(moved.followup_ids))
        await self._tell_both_sides(actor, result, now)
        return result

    async def heir(self, actor: Actor, member_id: int) -> MemberDTO:
        """The member ownership may go to (asked before the confirmation, and again on it)."""
        require_role(actor, Role.OWNER)
        member = await self._active_member(actor, member_id)
        if member.id == actor.member.id or member.role == Role.OWNER:
            raise DomainError(ErrorCode.OWNER_SELF)
        return member

    async def hand_over(self, actor: Actor, member_id: int) -> MemberDTO:
        """The member becomes the owner and the acting owner becomes head of sales."""
        member = await self.heir(actor, member_id)
        uow, now = self._ctx.uow, self._ctx.now()
        # The new owner first: at no point is the team without one.
        await uow.members.update(actor.team.id, member.id, role=Role.OWNER)
        await uow.members.update(actor.team.id, actor.member.id, role=Role.HEAD)
        await self._ensure_an_owner(actor)
        for who, before, after in (
            (member, member.role, Role.OWNER),
            (actor.member, Role.OWNER, Role.HEAD),
        ):
            await uow.audit.add(
                team_id=actor.team.id,
                actor_id=actor.member.id,
                action="role_change",
                now=now,
                details={"member_id": who.id, "from": str(before), "to": str(after)},
            )
        await enqueue_alert(
            uow,
            team_id=actor.team.id,
            member_id=member.id,
            step="ownership_in",
            params={"from": actor.member.full_name},
            dedup_key=f"{actor.member.id}:{int(now.timestamp())}",
            now=now,
        )
        return replace(member, role=str(Role.OWNER))

    # -- resolving what was typed -----------------------------------------------------------

    async def resolve_member(self, actor: Actor, text: str) -> MemberDTO:
        require_team_wide(actor)
        return await find_member(self._ctx, actor.team.id, text)

    async def parse_transfer(self, actor: Actor, args: str) -> TransferRequest:
        """`<from> <to> [client, client, ...]`: member names may have several words. The
        longest run of leading words naming a member is the source, provided a member follows
        (`/transfer Max Max` is Max to Max, not "Max Max" with nobody after)."""
        tokens = scan(args)
        words = [token.text for token in tokens]
        sources, source_error = await self._leading_members(actor, words, 0)
        target_error: DomainError | None = None
        for source, used in sources:
            if used >= len(words):
                # The whole text is exactly a member's name: only the receiver is missing.
                variants = _candidate(source).search_text.split(matching.VARIANT_SEPARATOR)
                if matching.normalize(" ".join(words)) in variants:
                    raise DomainError(ErrorCode.TRANSFER_TARGET_MISSING)
                continue
            targets, error = await self._leading_members(actor, words, used)
            if not targets:
                target_error = target_error or error
                continue
            target, used_target = targets[0]
            rest = tail(args, tokens, used + used_target)
            if not rest:
                return TransferRequest(source, target, None)
            client_ids = await self.resolve_clients_of(actor, source, rest)
            return TransferRequest(source, target, client_ids)
        if not sources:
            raise source_error or DomainError(ErrorCode.MEMBER_NOT_FOUND, value=args)
        if target_error is not None:
            raise target_error
        raise DomainError(ErrorCode.TRANSFER_TARGET_MISSING)

    async def resolve_clients_of(self, actor: Actor, source: MemberDTO, text: str) -> list[int]:
        """Client names separated by commas (or one name, or single words), among the clients
        of `source`."""
        require_team_wide(actor)
        parts = [part for part in (clean_name(p) for p in text.split(",")) if part]
        if not parts:
            raise DomainError(ErrorCode.TRANSFER_EMPTY, name=source.full_name)
        uow, limits = self._ctx.uow, self._ctx.limits
        theirs = await uow.clients.candidates(actor.team.id, source.id)
        if len(parts) == 1 and len(parts[0].split()) > 1:
            whole = matching.resolve(
                parts[0], theirs, min_score=limits.match_min_score, limit=limits.pick_candidates
            )
            if whole.kind is not MatchKind.UNIQUE:
                # `/transfer Max Nina Ivanov Petrov`: several one-word names.
                parts = parts[0].split()
        ids: list[int] = []
        everyone: list[MatchCandidate] | None = None
        for part in parts:
            found = matching.resolve(
                part, theirs, min_score=limits.match_min_score, limit=limits.pick_candidates
            )
            if found.kind is MatchKind.UNIQUE:
                ids.append(found.best.id)
                continue
            if found.kind is MatchKind.SEVERAL:
                names = ", ".join(m.candidate.name for m in found.matches)
                raise DomainError(
                    ErrorCode.TRANSFER_CLIENT_AMBIGUOUS,
                    value=part,
                    name=source.full_name,
                    names=names,
                )
            if everyone is None:
                everyone = await uow.clients.candidates(actor.team.id, None)
            elsewhere = matching.resolve(
                part, everyone, min_score=limits.match_min_score, limit=limits.pick_candidates
            )
            code = ErrorCode.TRANSFER_CLIENT_UNKNOWN
            if elsewhere.kind is not MatchKind.NONE:
                code = ErrorCode.TRANSFER_NOT_THEIRS
            raise DomainError(code, value=part, name=source.full_name)
        return list(dict.fromkeys(ids))

    # -- internals --------------------------------------------------------------------------

    async def _leading_members(
        self, actor: Actor, words: list[str], start: int
    ) -> tuple[list[tuple[MemberDTO, int]], DomainError | None]:
        """Members named by runs of words from `start`, the longest run first; the error of
        the shortest failed run for the answer when none is found."""
        found: list[tuple[MemberDTO, int]] = []
        last_error: DomainError | None = None
        floor = self._ctx.limits.match_min_score
        for count in range(min(_MAX_NAME_WORDS, len(words) - start), 0, -1):
            run = words[start : start + count]
            try:
                member = await self.resolve_member(actor, " ".join(run))
            except DomainError as exc:
                last_error = exc
                continue
            # Every word must belong to the name: "Max Petrov Nina" is Max Petrov, then Nina,
            # even though the whole string is close enough to "Max Petrov".
            if count > 1 and any(matching.score(w, _candidate(member)) < floor for w in run):
                continue
            found.append((member, count))
        return found, last_error

    async def _member(self, actor: Actor, member_id: int) -> MemberDTO:
        member = await self._ctx.uow.members.get(actor.team.id, member_id)
        if member is None:
            raise DomainError(ErrorCode.MEMBER_NOT_FOUND, value=str(member_id))
        return member

    async def _active_member(self, actor: Actor, member_id: int) -> MemberDTO:
        member = await self._member(actor, member_id)
        if not member.is_active:
            raise DomainError(ErrorCode.MEMBER_REMOVED, name=member.full_name)
        return member

    async def _ensure_an_owner(self, actor: Actor) -> None:
        # Checked after the change, inside the same transaction: the error rolls it back.
        if await self._ctx.uow.roster.active_owners(actor.team.id) < 1:
            raise DomainError(ErrorCode.LAST_OWNER)

    async def _tell_both_sides(self, actor: Actor, result: TransferResult, now: datetime) -> None:
        shown = result.names[:SUMMARY_NAMES]
        params = {
            "count": len(result.client_ids),
            "names": shown,
            "more": len(result.names) - len(shown),
            "by": actor.member.full_name,
        }
        key = f"{result.source.id}:{result.target.id}:{result.client_ids[0]}:{int(now.timestamp())}"
        uow = self._ctx.uow
        if result.target.id != actor.member.id:
            await enqueue_alert(
                uow,
                team_id=actor.team.id,
                member_id=result.target.id,
                step="transfer_in",
                params={**params, "from": result.source.full_name},
                dedup_key=key,
                now=now,
            )
        if result.source.is_active and result.source.id != actor.member.id:
            await enqueue_alert(
                uow,
                team_id=actor.team.id,
                member_id=result.source.id,
                step="transfer_out",
                params={**params, "to": result.target.full_name},
                dedup_key=key,
                now=now,
            )
