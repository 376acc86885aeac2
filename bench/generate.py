"""A realistic base for benchmarks: teams of managers with clients, phones, activities, deals and
follow-ups, written with bulk inserts. Reusable: `await generate(engine, managers=..., ...)`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.matching import phone_digits, search_text
from storage.models import Activity, Client, ClientPhone, Deal, Followup, Member, Team

SURNAMES = [
    "Иванов",
    "Петров",
    "Сидоров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Федоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семенов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьев",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
]
FIRST = [
    "Петр",
    "Иван",
    "Сергей",
    "Анна",
    "Мария",
    "Олег",
    "Ольга",
    "Дмитрий",
    "Елена",
    "Никита",
    "Татьяна",
    "Андрей",
]
ORG_WORDS = [
    "Ромашка",
    "Альфа",
    "Вектор",
    "Стройсервис",
    "Техно",
    "Гранит",
    "Меридиан",
    "Лидер",
    "Сфера",
    "Прогресс",
]
CITIES = ["Москва", "Казань", "Тверь", "Самара", "Пермь", "Омск", "Уфа", "Сочи", "Тула", "Курск"]
TEMPERATURES = ("hot", "warm", "warm", "cold", "cold", "cold")
STAGES = ("new", "contacted", "proposal", "negotiation", "won", "won", "won", "lost")
OUTCOMES = ("done", "done", "no_answer", "callback", "refused")
BATCH = 5000


@dataclass(frozen=True)
class GeneratedBase:
    team_id: int
    owner_telegram_id: int
    manager_ids: list[int]
    manager_telegram_ids: list[int]
    clients_by_manager: dict[int, list[str]]  # member id -> client names


def client_name(rng: random.Random, n: int) -> str:
    if n % 3 == 0:
        return f"ООО {rng.choice(ORG_WORDS)} {n}"
    return f"{rng.choice(SURNAMES)} {rng.choice(FIRST)} {n}"


async def _bulk(engine: AsyncEngine, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), BATCH):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start : start + BATCH])


async def generate(
    engine: AsyncEngine,
    *,
    managers: int = 20,
    clients: int = 10_000,
    activities: int = 200_000,
    deals: int = 10_000,
    seed: int = 1,
    now: datetime | None = None,
    telegram_id_base: int = 10_000,
) -> GeneratedBase:
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    async with engine.begin() as conn:
        team_id = (
            await conn.execute(
                insert(Team).returning(Team.id),
                {
                    "name": "Bench Co",
                    "timezone": "Europe/Moscow",
                    "currency": "RUB",
                    "followup_hot_days": 3,
                    "followup_warm_days": 14,
                    "followup_cold_days": 30,
                    "no_answer_retry_days": 1,
                    "created_at": now,
                },
            )
        ).scalar_one()
        member_rows = [
            {
                "team_id": team_id,
                "telegram_id": telegram_id_base + n,
                "role": "owner" if n == 0 else "manager",
                "full_name": f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}",
                "username": None,
                "language": "ru",
                "telegram_language": "ru",
                "timezone": "Europe/Moscow",
                "work_start": time(9),
                "work_end": time(18),
                "is_active": True,
                "created_at": now,
            }
            for n in range(managers + 1)
        ]
        member_ids = list(
            (await conn.execute(insert(Member).returning(Member.id), member_rows)).scalars()
        )
    manager_ids = member_ids[1:]

    client_rows = []
    by_manager: dict[int, list[str]] = {m: [] for m in manager_ids}
    for n in range(clients):
        manager = manager_ids[n % len(manager_ids)]
        name = client_name(rng, n)
        by_manager[manager].append(name)
        created = now - timedelta(days=rng.randint(1, 900))
        client_rows.append(
            {
                "team_id": team_id,
                "manager_id": manager,
                "name": name,
                "city": rng.choice(CITIES),
                "temperature": rng.choice(TEMPERATURES),
                "stage": rng.choice(STAGES),
                "stage_changed_at": created,
                "consent": "unknown",
                "search_text": search_text([name]),
                "phone_digits": phone_digits(f"7999{n:07d}"),
                "last_contact_at": now - timedelta(days=rng.randint(0, 400)),
                "created_at": created,
                "updated_at": created,
            }
        )
    await _bulk(engine, Client, client_rows)
    async with engine.connect() as conn:
        from sqlalchemy import select

        rows = (
            await conn.execute(
                select(Client.id, Client.manager_id)
                .where(Client.team_id == team_id)
                .order_by(Client.id)
            )
        ).all()
    client_ids = [r.id for r in rows]
    client_manager = {r.id: r.manager_id for r in rows}

    await _bulk(
        engine,
        ClientPhone,
        [
            {
                "team_id": team_id,
                "client_id": cid,
                "raw": f"+7 999 {n:07d}",
                "digits": f"7999{n:07d}",
            }
            for n, cid in enumerate(client_ids)
        ],
    )
    activity_rows = []
    for _ in range(activities):
        cid = rng.choice(client_ids)
        kind = rng.choice(("call", "call", "call", "note", "meeting"))
        activity_rows.append(
            {
                "team_id": team_id,
                "client_id": cid,
                "author_id": client_manager[cid],
                "kind": kind,
                "outcome": rng.choice(OUTCOMES) if kind == "call" else None,
                "text": "Обсудили условия поставки" if kind != "call" else None,
                "occurred_at": now - timedelta(minutes=rng.randint(1, 730 * 24 * 60)),
            }
        )
    await _bulk(engine, Activity, activity_rows)
    deal_rows = []
    for _ in range(deals):
        cid = rng.choice(client_ids)
        amount = Decimal(rng.randint(5, 2000) * 1000)
        margin = Decimal(rng.randint(-10, 45))
        deal_rows.append(
            {
                "team_id": team_id,
                "client_id": cid,
                "manager_id": client_manager[cid],
                "amount": amount,
                "margin_percent": margin,
                "profit": amount * margin / 100,
                "currency": "RUB",
                "closed_on": (now - timedelta(days=rng.randint(0, 730))).date(),
                "created_at": now,
            }
        )
    await _bulk(engine, Deal, deal_rows)
    followup_rows = []
    for cid in client_ids:
        due = now + timedelta(days=rng.randint(-20, 40))
        followup_rows.append(
            {
                "team_id": team_id,
                "client_id": cid,
                "manager_id": client_manager[cid],
                "kind": "call",
                "due_at": due,
                "due_on": due.date(),
                "date_only": True,
                "state": "pending",
                "created_at": now,
            }
        )
    await _bulk(engine, Followup, followup_rows)
    return GeneratedBase(
        team_id=team_id,
        owner_telegram_id=telegram_id_base,
        manager_ids=manager_ids,
        manager_telegram_ids=[telegram_id_base + n for n in range(1, managers + 1)],
        clients_by_manager=by_manager,
    )
