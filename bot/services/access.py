"""Who may see and change what.

Enforced here, so a forged button or a guessed id changes nothing.
"""

from __future__ import annotations

from bot.errors import ErrorCode
from bot.services.context import Actor
from bot.services.errors import DomainError
from storage.dto import ClientDTO
from storage.enums import Role

TEAM_WIDE_ROLES = frozenset({Role.OWNER, Role.HEAD})


def sees_whole_team(actor: Actor) -> bool:
    return actor.member.role in TEAM_WIDE_ROLES


def manager_scope(actor: Actor) -> int | None:
    """The manager id to filter by, or None when the actor sees the whole team."""
    return None if sees_whole_team(actor) else actor.member.id


def ensure_visible(actor: Actor, client: ClientDTO | None) -> ClientDTO:
    # Another manager's client and a missing one get the same answer: existence is not leaked.
    if client is None or client.team_id != actor.team.id:
        raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
    if not sees_whole_team(actor) and client.manager_id != actor.member.id:
        raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
    if client.erased_at is not None:
        # An old card or button of a client erased by /forget: nothing about them is left.
        raise DomainError(ErrorCode.CLIENT_ERASED)
    return client


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.member.role not in roles:
        raise DomainError(ErrorCode.NOT_ALLOWED)
