"""`/today`: what a member must do today, and what is already late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.services.context import Actor, ServiceContext
from storage.dto import DueItem


@dataclass(frozen=True, slots=True)
class Worklist:
    today: date
    overdue: list[DueItem]
    due_today: list[DueItem]


class WorklistService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def today(self, actor: Actor) -> Worklist:
        local_today = self._ctx.local_now(actor).date()
        end_of_today = datetime.combine(
            local_today + timedelta(days=1), datetime.min.time(), actor.zone
        )
        items = await self._ctx.uow.followups.due_for_manager(
            actor.team.id, actor.member.id, end_of_today
        )
        overdue = [i for i in items if i.followup.due_on < local_today]
        due_today = [i for i in items if i.followup.due_on >= local_today]
        return Worklist(local_today, overdue, due_today)
