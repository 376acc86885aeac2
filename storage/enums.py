"""Value sets shared by storage and services (plain strings in the database)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    HEAD = "head"
    MANAGER = "manager"


class Temperature(StrEnum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class Stage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


OPEN_LEAD_STAGES = (Stage.NEW, Stage.CONTACTED, Stage.PROPOSAL, Stage.NEGOTIATION)


class ActivityKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    NOTE = "note"
    PROPOSAL = "proposal"
    DEAL = "deal"


class ActivityOutcome(StrEnum):
    DONE = "done"
    NO_ANSWER = "no_answer"
    CALLBACK = "callback"
    REFUSED = "refused"
    DEAL = "deal"


class FollowupState(StrEnum):
    PENDING = "pending"
    DONE = "done"  # closed by a contact
    RESCHEDULED = "rescheduled"  # moved without a contact (/next, no answer, "tomorrow")
    CANCELLED = "cancelled"


class FollowupKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    CAMPAIGN = "campaign"


class Consent(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"
