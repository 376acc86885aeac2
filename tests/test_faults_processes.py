"""Proof under faults with real bot processes (`python -m bot run`, webhook mode) on one
PostgreSQL schema and Redis, talking HTTP to a fake Bot API that records every sendMessage:

- two instances, hundreds of reminders due: each sent exactly once, by one of them;
- an instance SIGKILLed in the middle of a digest run and a new one started: no digest lost,
  at most one sent twice (the one in flight at the kill);
- the webhook end to end: wrong or missing secret 401, malformed body 400 and logged, the same
  update delivered to both instances (and twice to one) handled once.

Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import OutboxMessage
from tests.support.processes import BotProcess, message_update, running, wait_for
from tests.support.seed import seed_team
from tests.support.services import (
    Schema,
    create_schema,
    drop_schema,
    require_redis,
    run_sync,
    unique,
    wipe_redis,
)
from tests.support.telegram_api import ThreadedFakeBotApi

MEMBERS = 200
FOLLOWUPS_EACH = 1

pytestmark = pytest.mark.usefixtures("pg_url")  # PostgreSQL present, or skip (fail in CI)


def _fake_api() -> Iterator[ThreadedFakeBotApi]:
    api = ThreadedFakeBotApi(enforce_limits=True)
    api.start()
    yield api
    api.stop()


def _schema(pg_url: str) -> Iterator[Schema]:
    """A schema of its own in the tests' database (tests/conftest.py `pg_url`)."""
    name = run_sync(lambda: create_schema(pg_url))
    yield Schema(pg_url, name)
    run_sync(lambda: drop_schema(pg_url, name))


def _redis_prefix() -> Iterator[str]:
    require_redis()
    prefix = unique("faults")
    yield prefix
    run_sync(lambda: wipe_redis(prefix))


fake_api = pytest.fixture(_fake_api)
schema = pytest.fixture(_schema)
redis_prefix = pytest.fixture(_redis_prefix)
# Starting a bot process costs seconds (aiogram's pydantic models): the two-instance tests
# share one pair of processes, one schema and one fake API.
shared_api = pytest.fixture(_fake_api, scope="module")
shared_schema = pytest.fixture(_schema, scope="module")
shared_prefix = pytest.fixture(_redis_prefix, scope="module")


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
    shared_api: ThreadedFakeBotApi,
    shared_schema: Schema,
    shared_prefix: str,
) -> Iterator[tuple[BotProcess, BotProcess]]:
    # Two replicas share Telegram's 30/s: each is configured for 14/s. Small batches make the
    # two claim turn about, so the lease and SKIP LOCKED are what keeps them apart.
    env = {
        "redis_prefix": shared_prefix,
        "DELIVERY__GLOBAL_PER_SECOND": "14",
        "DELIVERY__BATCH_SIZE": "20",
    }
    workdir = tmp_path_factory.mktemp("pair")
    first = bot("first", workdir, shared_api, shared_schema, 1001, **env)
    second = bot("second", workdir, shared_api, shared_schema, 1002, **env)
    with running(first, second):
        yield first, second


def bot(
    name: str, tmp_path: Path, api: ThreadedFakeBotApi, schema: Schema, bot_id: int, **env: str
) -> BotProcess:
    prefix = env.pop("redis_prefix", None)
    return BotProcess(
        name,
        tmp_path,
        api_url=api.base_url,
        database_url=schema.url,
        schema=schema.name,
        bot_id=bot_id,
        redis_prefix=prefix,
        extra_env=env,
    )


async def outbox_states(schema: Schema) -> dict[str, int]:
    engine = schema.engine()
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            )
            return {state: count for state, count in rows.all()}
    finally:
        await engine.dispose()


async def seed(schema: Schema, **kwargs: object):  # type: ignore[no-untyped-def]
    engine = schema.engine()
    try:
        return await seed_team(engine, **kwargs)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_two_instances_send_each_due_reminder_exactly_once(
    pair: tuple[BotProcess, BotProcess], shared_api: ThreadedFakeBotApi, shared_schema: Schema
):
    first, second = pair
    fake_api, schema = shared_api, shared_schema
    # Both run (and both migrated, one after the other) before anything falls due.
    seeded = await seed(schema, members=MEMBERS, followups_per_member=FOLLOWUPS_EACH)
    total = len(seeded.followups)
    assert total == MEMBERS * FOLLOWUPS_EACH
    wait_for(lambda: len(fake_api.sent) >= total, 90, f"{total} pushes")
    # Give a stray second copy the chance to show up: both instances tick every second.
    wait_for(
        lambda: first.metric("outbox_backlog") == 0 and second.metric("outbox_backlog") == 0,
        20,
        "an empty outbox",
    )
    sent = [m for m in fake_api.sent if m.chat_id in set(seeded.telegram_ids)]
    assert fake_api.api.limit_violations == 0
    per_followup = Counter()
    for message in sent:
        names = [
            fid
            for fid, (chat, name) in seeded.followups.items()
            if chat == message.chat_id and name in message.text
        ]
        assert len(names) == 1, message.text
        per_followup[names[0]] += 1
    assert set(per_followup) == set(seeded.followups)
    assert max(per_followup.values()) == 1, per_followup.most_common(3)
    assert len(sent) == total
    by_instance = Counter(message.bot_id for message in sent)
    assert by_instance[1001] > 0 and by_instance[1002] > 0, by_instance
    states = await outbox_states(schema)
    assert states == {"sent": total}


async def test_sigkill_in_the_middle_of_a_digest_run_loses_nothing(
    tmp_path: Path, fake_api: ThreadedFakeBotApi, schema: Schema, redis_prefix: str
):
    members = 60
    # Slow sending so that the kill lands in the middle; a short lease so the next instance
    # takes over what the dead one had claimed without waiting two minutes.
    env = {
        "redis_prefix": redis_prefix,
        "DELIVERY__LEASE_SECONDS": "10",
        "DELIVERY__GLOBAL_PER_SECOND": "10",
    }
    doomed = bot("doomed", tmp_path, fake_api, schema, 2001, **env)
    with running(doomed):
        seeded = await seed(schema, members=members, digest_due=True)
        wait_for(lambda: len(fake_api.sent) >= 12, 30, "the first digests")
        doomed.kill()
    sent_before_kill = len(fake_api.sent)
    assert sent_before_kill < members, "the kill came too late to prove anything"
    assert await outbox_states(schema) != {"sent": members}

    successor = bot("successor", tmp_path, fake_api, schema, 2002, **env)
    with running(successor):
        wait_for(
            lambda: {m.chat_id for m in fake_api.sent} >= set(seeded.telegram_ids),
            60,
            "every member's digest",
        )
        wait_for(lambda: successor.metric("outbox_backlog") == 0, 20, "an empty outbox")
        sent = fake_api.sent
    per_member = Counter(message.chat_id for message in sent)
    assert set(per_member) == set(seeded.telegram_ids)
    assert all("☀️" in message.text for message in sent)
    # The sweep sends one message at a time: only the one in flight at the kill (sent, not yet
    # marked) may go out again.
    duplicates = sum(count - 1 for count in per_member.values())
    assert duplicates <= 1, per_member.most_common(3)
    # The dead instance's messages all came first (one may have been on the wire at the
    # kill), then only the successor's.
    doomed_ids = [i for i, m in enumerate(sent) if m.bot_id == 2001]
    assert 0 < len(doomed_ids) < members
    assert doomed_ids == list(range(len(doomed_ids)))
    assert {m.bot_id for m in sent[len(doomed_ids) :]} == {2002}
    assert await outbox_states(schema) == {"sent": members}


async def test_webhook_end_to_end_secret_malformed_and_duplicate_delivery(
    pair: tuple[BotProcess, BotProcess], shared_api: ThreadedFakeBotApi, shared_schema: Schema
):
    first, second = pair
    both = (first, second)
    counters = (
        "updates_handled_total",
        "updates_duplicate_total",
        "updates_failed_total",
        "webhook_requests_rejected_total",
    )

    def totals() -> dict[str, float]:
        return {name: sum(p.metric(name) for p in both) for name in counters}

    before = totals()
    seeded = await seed(shared_schema, members=2, first_telegram_id=8_000_000)
    owner = seeded.telegram_ids[0]
    body = message_update(900_001, owner, "/frobnicate")

    assert first.post(body, secret=None) == 401
    assert second.post(body, secret="wrong-secret") == 401
    assert first.post(b'{"update_id": "not json') == 400
    assert second.post(json.dumps({"update_id": "x", "message": 5}).encode()) == 400

    # Telegram retrying across replicas, and twice to the same one.
    assert first.post(body) == 200
    assert second.post(body) == 200
    assert first.post(body) == 200

    def delta() -> dict[str, float]:
        now = totals()
        return {name: now[name] - before[name] for name in counters}

    wait_for(
        lambda: sum(v for k, v in delta().items() if "webhook" not in k) >= 3,
        20,
        "three deliveries handled",
    )
    assert delta() == {
        "updates_handled_total": 1,
        "updates_duplicate_total": 2,
        "updates_failed_total": 0,
        "webhook_requests_rejected_total": 4,
    }
    replies = shared_api.api.sent_to(owner)
    assert len(replies) == 1, [r.text[:60] for r in replies]
    assert "/help" in replies[0].text  # the unknown-command hint, once
    logged = [line for p in both for line in p.log_lines()]
    malformed = [line for line in logged if "malformed body" in str(line.get("msg", ""))]
    assert len(malformed) == 2
    assert {line["level"] for line in malformed} == {"WARNING"}
    # The secret never reaches the log.
    assert "wrong-secret" not in first.log_path.read_text() + second.log_path.read_text()
