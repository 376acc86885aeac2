"""Logging what happened with a client and moving the next contact: the five-second loop."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from decimal import Decimal

from bot.errors import ErrorCode
from bot.parsing.amounts import Margin
from bot.parsing.commands import CallCommand, Outcome
from bot.parsing.dates import When
from bot.services.access import ensure_visible
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from bot.services.scheduling import default_when, due_from_when, retry_when
from storage.dto import ClientDTO, FollowupDTO, MemberDTO
from storage.enums import (
    OPEN_LEAD_STAGES,
    ActivityKind,
    ActivityOutcome,
    FollowupKind,
    FollowupState,
    Stage,
)


@dataclass(frozen=True, slots=True)
class DealInfo:
    amount: Decimal
    margin_percent: Decimal | None
    profit: Decimal | None
    currency: str


@dataclass(frozen=True, slots=True)
class Logged:
    """What was done and where the client's next contact now stands."""

    client: ClientDTO
    outcome: str | None
    next_followup: FollowupDTO | None
    next_is_default: bool = False
    deal: DealInfo | None = None
    archived: bool = False


_CLIENT_FIELDS = frozenset(field.name for field in fields(ClientDTO))
# How far ahead a follow-up may be planned: ten years (with their leap days) is beyond any sales
# plan and far from the calendar's end, which zone conversions and the feed would overflow.
FOLLOWUP_HORIZON = timedelta(days=3653)


class ActivityService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _client(self, actor: Actor, client_id: int) -> ClientDTO:
        return ensure_visible(actor, await self._ctx.uow.clients.get(actor.team.id, client_id))

    def _today(self, actor: Actor) -> date:
        return self._ctx.local_now(actor).date()

    def _check_future(self, actor: Actor, when: When) -> None:
        # The parsers refuse the past already; this guards button presses and stale FSM input.
        today = self._today(actor)
        if when.day < today:
            raise DomainError(ErrorCode.DATE_PAST)
        # Button presses and the Mini App's date picker skip the parsers' range: a date near
        # date.max overflows the zone conversion here and every calendar feed that shows it.
        if when.day > today + FOLLOWUP_HORIZON:
            raise DomainError(ErrorCode.DATE_INVALID)
        if when.at is not None and due_from_when(when, actor).at < self._ctx.now():
            raise DomainError(ErrorCode.DATE_PAST)

    def _comment(self, text: str | None) -> str | None:
        text = (text or "").strip()
        if not text:
            return None
        limit = self._ctx.limits.max_note_chars
        if len(text) > limit:
            raise DomainError(ErrorCode.NOTE_TOO_LONG, limit=limit, length=len(text))
        return text

    async def _log(
        self, actor: Actor, client: ClientDTO, kind: str, outcome: str | None, text: str | None
    ) -> int:
        return await self._ctx.uow.activities.add(
            team_id=actor.team.id,
            client_id=client.id,
            author_id=actor.member.id,
            kind=kind,
            outcome=outcome,
            text=text,
            occurred_at=self._ctx.now(),
        )

    async def _touch(
        self, actor: Actor, client: ClientDTO, *, contact: bool, **extra: object
    ) -> ClientDTO:
        """Record that something happened; returns the client as it now is."""
        now = self._ctx.now()
        values: dict[str, object] = {"last_activity_at": now, "updated_at": now, **extra}
        if contact:
            values["last_contact_at"] = now
            if client.stage == Stage.NEW and "stage" not in extra:
                values["stage"] = Stage.CONTACTED
        if "stage" in values and values["stage"] != client.stage:
            values["stage_changed_at"] = now
        await self._ctx.uow.clients.update(actor.team.id, client.id, **values)
        known = {key: value for key, value in values.items() if key in _CLIENT_FIELDS}
        return replace(client, **known)  # type: ignore[arg-type]

    async def _reschedule(
        self,
        actor: Actor,
        client: ClientDTO,
        when: When | None,
        *,
        kind: str = FollowupKind.CALL,
        reason: str | None = None,
        contact: bool = True,
    ) -> FollowupDTO | None:
        """Close the client's pending follow-up and, when `when` is given, open the next one.

        Without a contact (`contact=False`) the promise still stands, only later: the new
        follow-up keeps the old one's reason unless a new reason is given.
        """
        uow, now = self._ctx.uow, self._ctx.now()
        state = FollowupState.DONE if contact else FollowupState.RESCHEDULED
        # A contact also settles campaign follow-ups that have come due.
        previous = await uow.followups.close_pending(
            actor.team.id,
            client.id,
            state,
            now,
            campaigns_due_by=self._today(actor) if contact else None,
        )
        if when is None:
            return None
        if not contact and reason is None and previous is not None:
            reason = previous.reason
        self._check_future(actor, when)
        due = due_from_when(when, actor, await self._owner_of(actor, client))
        return await uow.followups.add(
            team_id=actor.team.id,
            client_id=client.id,
            manager_id=client.manager_id,
            created_by=actor.member.id,
            kind=kind,
            due_at=due.at,
            due_on=due.on,
            date_only=due.date_only,
            reason=reason,
            now=now,
        )

    # -- commands ---------------------------------------------------------------------------

    async def log_call(self, actor: Actor, client_id: int, command: CallCommand) -> Logged:
        if command.outcome is None:
            raise DomainError(ErrorCode.OUTCOME_MISSING)
        return await self._log_call(actor, await self._client(actor, client_id), command)

    async def _log_call(self, actor: Actor, client: ClientDTO, command: CallCommand) -> Logged:
        if command.outcome is None:
            raise DomainError(ErrorCode.OUTCOME_MISSING)
        comment = self._comment(command.comment)
        today = self._today(actor)
        outcome = Outcome(command.outcome)
        if command.when is not None:
            self._check_future(actor, command.when)

        if outcome is Outcome.NO_ANSWER:
            await self._log(actor, client, ActivityKind.CALL, ActivityOutcome.NO_ANSWER, comment)
            # An unanswered call is an attempt, not a contact: the quiet-client clock keeps running.
            client = await self._touch(actor, client, contact=False)
            when = command.when or retry_when(actor, today)
            followup = await self._reschedule(actor, client, when, reason=comment, contact=False)
            return Logged(client, outcome, followup, command.when is None)

        if outcome is Outcome.REFUSED:
            await self._log(actor, client, ActivityKind.CALL, ActivityOutcome.REFUSED, comment)
            is_lead = client.stage in OPEN_LEAD_STAGES
            extra: dict[str, object] = {}
            if is_lead:
                extra = {"stage": Stage.LOST, "archived_at": self._ctx.now()}
            client = await self._touch(actor, client, contact=True, **extra)
            await self._ctx.uow.followups.cancel_all(actor.team.id, client.id, self._ctx.now())
            return Logged(client, outcome, None, archived=is_lead)

        deal: DealInfo | None = None
        activity_id = await self._log(actor, client, ActivityKind.CALL, outcome.value, comment)
        extra = {}
        if outcome is Outcome.DEAL:
            if command.amount is None:
                raise DomainError(ErrorCode.AMOUNT_MISSING)
            deal = await self._record_deal(
                actor, client, command.amount, command.margin, activity_id
            )
            extra = self._won_fields(client, today)
        client = await self._touch(actor, client, contact=True, **extra)
        reason = comment if outcome is Outcome.CALLBACK else None
        if command.when is None and outcome is Outcome.CALLBACK:
            raise DomainError(ErrorCode.DATE_MISSING)
        when = command.when or default_when(actor, client.temperature, today)
        followup = await self._reschedule(actor, client, when, reason=reason)
        return Logged(
            client,
            outcome,
            followup,
            next_is_default=command.when is None,
            deal=deal,
        )

    async def add_note(self, actor: Actor, client_id: int, text: str) -> ClientDTO:
        client = await self._client(actor, client_id)
        comment = self._comment(text)
        if comment is None:
            raise DomainError(ErrorCode.NOTE_MISSING)
        await self._log(actor, client, ActivityKind.NOTE, None, comment)
        await self._touch(actor, client, contact=False)
        return client

    async def schedule(
        self, actor: Actor, client_id: int, when: When, *, kind: FollowupKind, reason: str | None
    ) -> Logged:
        """`/next` and `/meet`: plan the next contact without logging one."""
        client = await self._client(actor, client_id)
        followup = await self._reschedule(
            actor, client, when, kind=kind, reason=self._comment(reason), contact=False
        )
        return Logged(client, None, followup)

    async def postpone(
        self,
        actor: Actor,
        client_id: int,
        *,
        days: int = 0,
        hours: int = 0,
        expected_followup: int | None,
    ) -> Logged:
        """ "Tomorrow", "In a week", "+1 hour" buttons: the same promise, later. Hours give an
        exact time; days a date (due when the manager's day starts)."""
        client = await self._client(actor, client_id)
        previous = await self._expect(actor, client, expected_followup)
        return await self._postpone(actor, client, previous, days=days, hours=hours)

    async def postpone_pending(
        self, actor: Actor, followup: FollowupDTO, client: ClientDTO, *, days: int, hours: int
    ) -> Logged:
        """`postpone` from a push's button, for the follow-up and client `pending_target` has
        just read and checked (not read again)."""
        return await self._postpone(actor, client, followup, days=days, hours=hours)

    async def _postpone(
        self,
        actor: Actor,
        client: ClientDTO,
        previous: FollowupDTO | None,
        *,
        days: int,
        hours: int,
    ) -> Logged:
        if previous is not None and previous.kind == FollowupKind.CAMPAIGN:
            return await self._move_campaign_followup(
                actor, client, previous, days=days, hours=hours
            )
        kind = previous.kind if previous is not None else FollowupKind.CALL
        when = self._snooze_when(actor, days=days, hours=hours)
        followup = await self._reschedule(actor, client, when, kind=kind, contact=False)
        return Logged(client, None, followup)

    async def quick_call(
        self, actor: Actor, client_id: int, outcome: Outcome, *, expected_followup: int | None
    ) -> Logged:
        """A card's "Talked" / "No answer" button: `/call` with no date or comment."""
        client = await self._client(actor, client_id)
        await self._expect(actor, client, expected_followup)
        return await self._log_call(actor, client, _quick_command(outcome))

    async def quick_call_pending(
        self, actor: Actor, followup: FollowupDTO, client: ClientDTO, outcome: Outcome
    ) -> Logged:
        """`quick_call` from a push's button, for the follow-up and client `pending_target` has
        just read and checked (not read again)."""
        return await self._log_call(actor, client, _quick_command(outcome))

    def _snooze_when(self, actor: Actor, *, days: int, hours: int) -> When:
        """Hours give an exact time from now; days a date (due when the manager's day starts)."""
        if hours:
            moment = (self._ctx.local_now(actor) + timedelta(hours=hours)).replace(
                second=0, microsecond=0
            )
            return When(day=moment.date(), at=moment.time())
        return When(day=self._today(actor) + timedelta(days=days), at=None)

    async def _owner_of(self, actor: Actor, client: ClientDTO) -> MemberDTO:
        """The member a client's follow-ups belong to: its manager."""
        if client.manager_id == actor.member.id:
            return actor.member
        return await self._ctx.uow.members.get(actor.team.id, client.manager_id) or actor.member

    async def pending_target(self, actor: Actor, followup_id: int) -> tuple[FollowupDTO, ClientDTO]:
        """The follow-up a push was about and its client, if the actor may act on it and it
        still waits."""
        followup = await self._ctx.uow.followups.get(actor.team.id, followup_id)
        if followup is None:
            raise DomainError(ErrorCode.CLIENT_NOT_FOUND)
        client = await self._client(actor, followup.client_id)
        if followup.state != FollowupState.PENDING:
            raise DomainError(ErrorCode.ALREADY_HANDLED)
        return followup, client

    async def call_question(
        self, actor: Actor, client_id: int
    ) -> tuple[ClientDTO, FollowupDTO | None]:
        """The client a bare `/call` asks about and the next contact its answer buttons are made
        for: like a card's, they act only while that follow-up still waits."""
        client = await self._client(actor, client_id)
        return client, await self._ctx.uow.followups.pending_for_client(actor.team.id, client.id)

    async def _expect(
        self, actor: Actor, client: ClientDTO, expected_followup: int | None
    ) -> FollowupDTO | None:
        """The follow-up a button was made for, while it still waits; a second tap, or a button
        on a card or push that something else has since moved, is refused. Without an id: the
        client's next contact."""
        followups = self._ctx.uow.followups
        if expected_followup is None:
            return await followups.pending_for_client(actor.team.id, client.id)
        if expected_followup == 0:
            # The card showed no next contact; it must still have none.
            if await followups.pending_for_client(actor.team.id, client.id) is not None:
                raise DomainError(ErrorCode.ALREADY_HANDLED)
            return None
        target = await followups.get(actor.team.id, expected_followup)
        if target is None or target.client_id != client.id or target.state != "pending":
            raise DomainError(ErrorCode.ALREADY_HANDLED)
        return target

    async def _move_campaign_followup(
        self, actor: Actor, client: ClientDTO, followup: FollowupDTO, *, days: int, hours: int
    ) -> Logged:
        """A campaign follow-up moves on its own; the client's next contact stays."""
        uow, now = self._ctx.uow, self._ctx.now()
        when = self._snooze_when(actor, days=days, hours=hours)
        due = due_from_when(when, actor, await self._owner_of(actor, client))
        await uow.followups.close_one(actor.team.id, followup.id, FollowupState.RESCHEDULED, now)
        moved = await uow.followups.add(
            team_id=actor.team.id,
            client_id=client.id,
            manager_id=client.manager_id,
            created_by=actor.member.id,
            kind=FollowupKind.CAMPAIGN,
            due_at=due.at,
            due_on=due.on,
            date_only=due.date_only,
            reason=followup.reason,
            now=now,
            campaign_id=followup.campaign_id,
        )
        return Logged(client, None, moved)

    async def log_meeting(self, actor: Actor, client_id: int, comment: str | None) -> Logged:
        client = await self._client(actor, client_id)
        text = self._comment(comment)
        await self._log(actor, client, ActivityKind.MEETING, ActivityOutcome.DONE, text)
        client = await self._touch(actor, client, contact=True)
        when = default_when(actor, client.temperature, self._today(actor))
        followup = await self._reschedule(actor, client, when)
        return Logged(client, ActivityOutcome.DONE, followup, True)

    async def add_deal(
        self, actor: Actor, client_id: int, amount: Decimal, margin: Margin | None, comment: str
    ) -> Logged:
        """`/deal`: records the sale; the next contact stays as planned."""
        client = await self._client(actor, client_id)
        text = self._comment(comment)
        activity_id = await self._log(actor, client, ActivityKind.DEAL, ActivityOutcome.DEAL, text)
        deal = await self._record_deal(actor, client, amount, margin, activity_id)
        client = await self._touch(
            actor, client, contact=False, **self._won_fields(client, self._today(actor))
        )
        followup = await self._ctx.uow.followups.pending_for_client(actor.team.id, client.id)
        return Logged(client, ActivityOutcome.DEAL, followup, deal=deal)

    def _won_fields(self, client: ClientDTO, today: date) -> dict[str, object]:
        values: dict[str, object] = {"stage": Stage.WON, "archived_at": None}
        if client.first_deal_on is None:
            values["first_deal_on"] = today
        return values

    async def _record_deal(
        self,
        actor: Actor,
        client: ClientDTO,
        amount: Decimal,
        margin: Margin | None,
        activity_id: int | None,
    ) -> DealInfo:
        limits = self._ctx.limits
        if amount <= 0:
            raise DomainError(ErrorCode.AMOUNT_NEGATIVE)
        if amount > limits.max_amount:
            raise DomainError(ErrorCode.AMOUNT_TOO_LARGE, max=limits.max_amount)
        percent = margin.percent if margin else None
        profit: Decimal | None = None
        if margin is not None and margin.percent is not None:
            profit = (amount * margin.percent / 100).quantize(Decimal("0.01"))
        elif margin is not None and margin.amount is not None:
            if abs(margin.amount) > amount:
                raise DomainError(ErrorCode.MARGIN_INVALID)
            profit = margin.amount
            percent = (margin.amount * 100 / amount).quantize(Decimal("0.01"))
        await self._ctx.uow.activities.add_deal(
            team_id=actor.team.id,
            client_id=client.id,
            manager_id=client.manager_id,
            activity_id=activity_id,
            amount=amount,
            margin_percent=percent,
            profit=profit,
            currency=actor.team.currency,
            closed_on=self._today(actor),
            now=self._ctx.now(),
        )
        return DealInfo(amount, percent, profit, actor.team.currency)


def _quick_command(outcome: Outcome) -> CallCommand:
    """A "Talked" / "No answer" button: `/call` with no date or comment."""
    return CallCommand(name="", outcome=outcome, when=None, amount=None, margin=None, comment="")
