"""The delivery sweep, ticked every few seconds by APScheduler on every running instance.

Each tick: plan what has come due (idempotent rows), claim a batch under a lease, send, mark.
Sending happens outside any transaction; a crash between send and mark may repeat that one
message when the lease expires; a crash anywhere else repeats and loses nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.config import DeliverySettings
from bot.locks import LocalLocks, Locks
from bot.services.alerts import ALERT, Alert, load_alert
from bot.services.digest import (
    DIGEST,
    NOTICE,
    NUDGE,
    Digest,
    DigestBatch,
    Notice,
    Nudge,
    load_digest,
    load_notice,
    load_nudge,
    plan_digests,
    plan_nudges,
    plan_unreachable_notices,
)
from bot.services.reminders import Reminder, load_reminder, plan_due_followups
from bot.services.reply_log import sent_rows, subject_of
from bot.services.weekly import WEEKLY, Weekly, WeeklyReports, plan_weekly
from storage.repositories.outbox import BLOCKED, OutboxRow
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# A row whose content cannot be built is tried again after the backoff, doubled per attempt
# up to this: a bug fixed by a deploy is picked up within hours, not hammered every lease.
UNBUILT_BACKOFF_CAP_SECONDS = 6 * 3600


class DeliveryResult(Protocol):
    """What a notifier reports (bot.telegram.sender.Delivery has this shape)."""

    @property
    def outcome(self) -> str: ...
    @property
    def message_id(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def message_ids(self) -> tuple[int, ...]: ...


Content = Reminder | Digest | Nudge | Notice | Alert | Weekly


class Notifier(Protocol):
    async def deliver(self, content: Content) -> DeliveryResult: ...


@dataclass
class SweepReport:
    planned: int = 0
    sent: int = 0
    dropped: int = 0
    retried: int = 0
    blocked: int = 0


def interleave_members(rows: list[OutboxRow]) -> list[OutboxRow]:
    """Round-robin over members, each member's rows in their own order.

    Telegram allows one message per second to a chat. Sent in claim order, a member owed ten
    rows would hold everyone after them for ten seconds; interleaved, that wait is spent sending
    to the others.
    """
    queues: dict[int, list[OutboxRow]] = {}
    for row in rows:
        queues.setdefault(row.member_id, []).append(row)
    ordered: list[OutboxRow] = []
    depth = 0
    while len(ordered) < len(rows):
        ordered.extend(q[depth] for q in queues.values() if depth < len(q))
        depth += 1
    return ordered


class DeliverySweep:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        notifier: Notifier,
        settings: DeliverySettings,
        *,
        owner: str | None = None,
        locks: Locks | None = None,
        weekly: WeeklyReports | None = None,
    ) -> None:
        self._uows = uow_factory
        self._clock = clock
        self._notifier = notifier
        self._settings = settings
        # Names this instance in leases: another copy of the bot never releases our rows.
        self.owner = owner or f"sweep-{uuid.uuid4().hex[:12]}"
        self._batch: DigestBatch | None = None
        self._last_nudge_scan: datetime | None = None
        # Planning on every instance at once is harmless but scans every client N times.
        self._locks: Locks = locks or LocalLocks()
        self._weekly = weekly or WeeklyReports(clock)

    async def run_once(self) -> SweepReport:
        report = SweepReport()
        settings = self._settings
        # Held until the plan is committed, so the next holder sees what this one planned.
        async with self._locks.try_hold("sweep-plan", settings.lease_seconds) as planner:
            if planner:
                report.planned = await self._plan()
        async with self._uows() as uow:
            rows = await uow.outbox.claim(
                self.owner,
                self._clock.now(),
                timedelta(seconds=settings.lease_seconds),
                settings.batch_size,
            )
            await uow.commit()
        blocked: set[int] = set()
        batch = self._digest_batch()
        for row in interleave_members(rows):
            if row.member_id in blocked:
                # Claimed before the 403 came; already dropped with the rest of theirs.
                continue
            try:
                content = await self._content(row, batch)
            except Exception as exc:  # the type only: an exception's text could hold anything
                # One row that cannot be built must not hold up the batch behind it, nor come
                # back every lease: it waits longer each time, as a failed send does.
                log.error("push %s not built: %s", row.id, type(exc).__name__)
                await self._retry_unbuilt(row, type(exc).__name__)
                report.retried += 1
                continue
            if content is None:
                async with self._uows() as uow:
                    await uow.outbox.drop(row.id, self.owner, "no longer owed")
                    await uow.commit()
                report.dropped += 1
                continue
            delivery = await self._notifier.deliver(content)
            await self._record(row.id, row.team_id, row.member_id, delivery, report, content)
            if delivery.outcome == "blocked":
                blocked.add(row.member_id)
        return report

    async def _content(self, row: OutboxRow, batch: DigestBatch) -> Content | None:
        if row.kind == WEEKLY:
            # Built from several /portfolio reports, each in a transaction of its own.
            return await self._weekly.load(self._uows, row)
        async with self._uows() as uow:
            return await self._load(uow, row, batch)

    async def _retry_unbuilt(self, row: OutboxRow, error: str) -> None:
        base = self._settings.retry_backoff_seconds
        wait = min(base * 2 ** min(row.attempts, 16), max(base, UNBUILT_BACKOFF_CAP_SECONDS))
        async with self._uows() as uow:
            await uow.outbox.retry_later(
                row.id, self.owner, self._clock.now() + timedelta(seconds=wait), error
            )
            await uow.commit()

    async def _plan(self) -> int:
        settings = self._settings
        async with self._uows() as uow:
            now = self._clock.now()
            late_after = timedelta(seconds=settings.late_after_seconds)
            planned = await plan_due_followups(
                uow, now, late_after=late_after, limit=settings.batch_size
            )
            planned += await plan_digests(uow, now, late_after=late_after)
            planned += await plan_weekly(
                uow,
                now,
                late_after=late_after,
                catch_up=timedelta(hours=settings.weekly_catch_up_hours),
            )
            if self._nudges_due(now):
                planned += await plan_nudges(uow, now)
            await uow.commit()
        return planned

    async def release_leases(self) -> int:
        """On shutdown: rows this instance claimed and did not finish are pending again now."""
        async with self._uows() as uow:
            released = await uow.outbox.release(self.owner)
            await uow.commit()
        return released

    def _nudges_due(self, now: datetime) -> bool:
        interval = timedelta(seconds=self._settings.nudge_scan_seconds)
        if self._last_nudge_scan is not None and now - self._last_nudge_scan < interval:
            return False
        self._last_nudge_scan = now
        return True

    def _digest_batch(self) -> DigestBatch:
        now = self._clock.now()
        age = timedelta(seconds=self._settings.digest_snapshot_seconds)
        if self._batch is None or now - self._batch.now > age:
            self._batch = DigestBatch(now)
        return self._batch

    async def _load(self, uow: UnitOfWork, row: OutboxRow, batch: DigestBatch) -> Content | None:
        if row.kind == DIGEST:
            return await load_digest(uow, row, self._clock.now(), batch)
        if row.kind == NUDGE:
            return await load_nudge(uow, row)
        if row.kind == NOTICE:
            return await load_notice(uow, row)
        if row.kind == ALERT:
            return await load_alert(uow, row)
        return await load_reminder(uow, row)

    async def _record(
        self,
        row_id: int,
        team_id: int,
        member_id: int,
        delivery: DeliveryResult,
        report: SweepReport,
        content: Content,
    ) -> None:
        now = self._clock.now()
        async with self._uows() as uow:
            if delivery.outcome == "sent":
                await uow.outbox.mark_sent(row_id, self.owner, now, delivery.message_id)
                # Which clients it is about, so that a reply to it logs for them (the message
                # is in the chat even if our lease ran out meanwhile).
                kind, client_ids = subject_of(content)
                message_ids = delivery.message_ids or (
                    (delivery.message_id,) if delivery.message_id is not None else ()
                )
                await uow.sent_messages.record(
                    sent_rows(
                        kind,
                        client_ids,
                        team_id=team_id,
                        member_id=member_id,
                        chat_id=content.member.telegram_id,
                        message_ids=message_ids,
                        now=now,
                    )
                )
                report.sent += 1
            elif delivery.outcome == "blocked":
                # The member blocked the bot: stop owing them anything until they come back.
                await uow.outbox.drop(row_id, self.owner, BLOCKED)
                await uow.members.update_by_id(member_id, unreachable_at=now)
                await uow.outbox.drop_pending_for_member(member_id, BLOCKED)
                await plan_unreachable_notices(uow, team_id, member_id, now)
                report.blocked += 1
            elif delivery.outcome == "rejected":
                await uow.outbox.drop(row_id, self.owner, delivery.error or "rejected")
                log.error("push %s rejected by Telegram: %s", row_id, delivery.error)
                report.dropped += 1
            else:
                wait = delivery.retry_after or self._settings.retry_backoff_seconds
                await uow.outbox.retry_later(
                    row_id, self.owner, now + timedelta(seconds=wait), delivery.error
                )
                report.retried += 1
            await uow.commit()
