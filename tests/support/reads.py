"""What the database holds, read back for assertions."""

from __future__ import annotations

from typing import Any

from aiogram.methods import SendMessage
from sqlalchemy import func, select

from storage.models import AuditEntry, Client
from tests.support.harness import BotHarness, Person


async def count(h: BotHarness, model: Any) -> int:
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def member_id(h: BotHarness, person: Person) -> int:
    async with h.uow_factory() as uow:
        found = await uow.members.by_telegram_id(person.id)
    assert found is not None
    return found.id


async def audit_rows(h: BotHarness, action: str) -> list[AuditEntry]:
    async with h.uow_factory() as uow:
        return list(
            await uow.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


async def managers_of(h: BotHarness) -> dict[str, int]:
    async with h.uow_factory() as uow:
        rows = await uow.session.execute(select(Client.name, Client.manager_id))
        return {name: manager for name, manager in rows}


def texts_to(h: BotHarness, person: Person) -> list[str]:
    return [m.text for m in h.session.sent(SendMessage) if m.chat_id == person.id]
