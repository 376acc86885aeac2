"""`/forget`: the person's data is gone from every table; deal sums stay for the analytics."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import EditMessageText
from sqlalchemy import JSON, String, event, func, select, text

from bot.services.alerts import alert_owners
from bot.telegram.callbacks import CardAction, ForgetClient
from storage.db import create_engine
from storage.models import (
    Activity,
    AuditEntry,
    Base,
    Campaign,
    Client,
    ClientPhone,
    Deal,
    Followup,
    FsmRecord,
    OutboxMessage,
)
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.sweeps import make_sweep

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
HEAD = Person(4, "Hugo")

# Everything about the person the test gives the bot, case-folded: none of it may remain.
TRACES = (
    "иванов",
    "ivanov",
    "петр",
    "1234567",
    "ivanov@mail.ru",
    "ivanov-trade.ru",
    "смирнова",
    "ленина",
    "tender",
    "secret",
    "ignored-talk",
    # What searches that found the person typed: a typo, an inflected form, another
    # transliteration in the other alphabet, phone digits without the country code.
    "ivanof",
    "pyotr",
    "9991234567",
)
# Another client's campaign follow-up keeps its text, without the erased person's name.
CAMPAIGN_TITLE = "Позвонить Иванову насчёт выставки"


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, (HEAD, "head")),
        commands=(
            (
                MANAGER,
                "/add Иванов Петр, +7 999 123-45-67, ivanov@mail.ru, ivanov-trade.ru, Москва, "
                "#vip, hot, contact: Анна Смирнова, contact: Олег Смирнов, "
                "source: рекомендация, address: ул. Ленина 5, note: secret discount",
            ),
            (MANAGER, "/add Сидоров, +7 999 555-44-33, #vip"),
        ),
    )


async def _client_id(h: BotHarness, name: str = "Иванов Петр") -> int:
    async with h.uow_factory() as uow:
        return int(await uow.session.scalar(select(Client.id).where(Client.name == name)))


async def _dump(h: BotHarness) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value in every table."""
    out: list[tuple[str, str, str]] = []
    async with h.uow_factory() as uow:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | JSON)]
            assert all(
                isinstance(c.type, String | JSON) or c.type.python_type is not str
                for c in table.columns
                if c not in columns
            )
            if not columns:
                continue
            for row in await uow.session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    out.append((table.name, column.name, text.casefold()))
    return out


async def _make_every_kind_of_trace(h: BotHarness, client_id: int) -> None:
    await h.send(MANAGER, "/note Иванов lives at Ленина 5, wants a tender")
    await h.send(MANAGER, "/call Иванов done")
    await h.send(MANAGER, "/deal Иванов 150000 margin 30%")
    await h.send(MANAGER, "/next Иванов 03.12 10:00 call about the tender")
    await h.send(OWNER, "/find Ivanov")  # a search query in the audit log
    # Searches that found the person without spelling the name as stored (issue 12).
    for query in ("Ivanof", "Иванову", "Pyotr Ivanov", "1234567", "9991234567"):
        replies = await h.send(OWNER, f"/find {query}")
        assert "Found 1" in replies[-1].text, query
    # A campaign of both #vip clients whose title names one of them.
    replies = await h.send(OWNER, f"/campaign #vip 10.12 {CAMPAIGN_TITLE}")
    assert "2" in replies[-1].text
    await h.send(OWNER, "/client Иванов")  # a card view
    await h.send(HEAD, "/client Иванов")
    # A reminder push planned and sent: an outbox row pointing at the follow-up.
    h.clock.advance(timedelta(days=1))
    await make_sweep(h).run_once()
    # Another feature's alert that quotes the name in its payload.
    async with h.uow_factory() as uow:
        team_id = await uow.session.scalar(select(Client.team_id).where(Client.id == client_id))
        await alert_owners(
            uow,
            team_id=int(team_id),
            step="transfer",
            params={"clients": ["Иванов Петр"], "note": "ignored-talk"},
            dedup_key="t1",
            now=h.clock.now(),
        )
        await uow.commit()
    # A half-done step-by-step command holding the client.
    await h.send(MANAGER, "/note")
    await h.send(MANAGER, "Иванов")


async def test_forget_leaves_no_trace_of_the_person_in_any_table(team: BotHarness):
    client_id = await _client_id(team)
    await _make_every_kind_of_trace(team, client_id)
    before = await _dump(team)
    assert any("иванов" in value for _t, _c, value in before)
    async with team.uow_factory() as uow:
        assert await uow.session.scalar(
            select(func.count()).select_from(FsmRecord).where(FsmRecord.data.is_not(None))
        )
        # The sent reminder push and the quoting alert are both in the outbox.
        kinds = set(await uow.session.scalars(select(OutboxMessage.kind)))
        assert {"followup", "alert"} <= kinds, kinds

    replies = await team.send(OWNER, "/forget Иванов")
    assert "Erase the personal data of <b>Иванов Петр</b>?" in replies[-1].text
    labels = [text for text, _data in replies[-1].buttons]
    assert labels == ["🗑 Erase", "Keep"]
    replies = await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    assert "Personal data erased" in replies[-1].text
    assert "Иванов" not in replies[-1].text

    leftovers = [
        (table, column, trace)
        for table, column, value in await _dump(team)
        for trace in TRACES
        if trace in value
    ]
    assert leftovers == [], leftovers

    async with team.uow_factory() as uow:
        client = await uow.session.get(Client, client_id)
        assert client is not None and client.erased_at is not None
        assert client.name == f"#{client_id}"
        assert client.archived_at == client.erased_at  # out of nudges, digests, campaigns
        deals = list(await uow.session.scalars(select(Deal).where(Deal.client_id == client_id)))
        assert [d.amount for d in deals] == [Decimal("150000.00")]
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(Followup)
                .where(Followup.client_id == client_id, Followup.state == "pending")
            )
            == 0
        )
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.client_id == client_id)
            )
            == 0
        )
        assert (
            await uow.session.scalar(
                select(func.count())
                .select_from(ClientPhone)
                .where(ClientPhone.client_id == client_id)
            )
            == 0
        )
        # Calls stay for the regularity numbers, without text; notes are gone.
        kinds = sorted(
            await uow.session.scalars(select(Activity.kind).where(Activity.client_id == client_id))
        )
        assert "note" not in kinds and "call" in kinds
        erase = await uow.session.scalar(select(AuditEntry).where(AuditEntry.action == "erase"))
        assert erase is not None and erase.client_id == client_id
        views = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "card_view", AuditEntry.client_id == client_id)
        )
        assert views == 2
        # Every search that found the person stays in the log, without its query.
        searches = list(
            await uow.session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "search")
            )
        )
        assert searches == [{"scrubbed": True}] * 6
        # The campaign's title, and the other member's follow-up that copies it, lose the
        # name and keep the rest.
        scrubbed_title = f"Позвонить #{client_id} насчёт выставки"
        assert list(await uow.session.scalars(select(Campaign.title))) == [scrubbed_title]
        reasons = await uow.session.scalars(
            select(Followup.reason).where(
                Followup.kind == "campaign", Followup.client_id != client_id
            )
        )
        assert list(reasons) == [scrubbed_title]
    # The other client is untouched.
    assert "Сидоров" in (await team.send(MANAGER, "/client Сидоров"))[-1].text


async def test_an_erased_client_cannot_be_found_opened_listed_or_exported(team: BotHarness):
    client_id = await _client_id(team)
    await team.send(OWNER, "/forget Иванов Петр")
    await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    assert "No client matches" in (await team.send(MANAGER, "/client Иванов"))[-1].text
    assert "No client matches" in (await team.send(OWNER, f"/client #{client_id}"))[-1].text
    assert "Nothing found" in (await team.send(OWNER, "/find 1234567"))[-1].text
    listed = (await team.send(OWNER, "/list"))[-1].text
    assert f"#{client_id}" not in listed and "Сидоров" in listed
    await team.press(MANAGER, CardAction(act="open", cid=client_id).pack())
    assert any("erased at the owner's request" in alert for alert in team.alerts())
    await team.press(MANAGER, CardAction(act="done", cid=client_id).pack())
    assert any("erased at the owner's request" in alert for alert in team.alerts())
    await team.send(OWNER, "/export")
    from aiogram.methods import SendDocument

    [doc] = team.session.sent(SendDocument)
    assert f"#{client_id}".encode() not in doc.document.data  # type: ignore[union-attr]
    # A second erasure of the same client is refused politely.
    await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    assert any("erased at the owner's request" in alert for alert in team.alerts())


@pytest.mark.parametrize("person", [MANAGER, HEAD])
async def test_only_the_owner_may_forget(team: BotHarness, person: Person):
    client_id = await _client_id(team)
    replies = await team.send(person, "/forget Иванов")
    assert "Only the team owner" in replies[-1].text
    await team.press(person, ForgetClient(act="yes", cid=client_id).pack())
    assert any("Only the team owner" in alert for alert in team.alerts())
    async with team.uow_factory() as uow:
        client = await uow.session.get(Client, client_id)
        assert client is not None and client.erased_at is None


async def test_keep_erases_nothing_and_bad_input_is_polite(team: BotHarness):
    client_id = await _client_id(team)
    replies = await team.press(OWNER, ForgetClient(act="no", cid=client_id).pack())
    assert "Nothing was erased" in replies[-1].text
    assert "/forget Ivanov" in (await team.send(OWNER, "/forget"))[-1].text
    assert "No client matches «Zzz»" in (await team.send(OWNER, "/forget Zzz"))[-1].text
    async with team.uow_factory() as uow:
        client = await uow.session.get(Client, client_id)
        assert client is not None and client.erased_at is None


async def test_consent_is_set_shown_and_audited(team: BotHarness):
    card = (await team.send(MANAGER, "/client Иванов"))[-1].text
    assert "Consent to data processing: unknown" in card
    assert "Source: рекомендация" in card
    replies = await team.send(MANAGER, "/consent Иванов yes")
    assert "Consent of <b>Иванов Петр</b> to data processing: yes." in replies[-1].text
    assert (
        "Consent to data processing: yes" in (await team.send(MANAGER, "/client Иванов"))[-1].text
    )
    assert "/consent Ivanov yes" in (await team.send(MANAGER, "/consent Иванов maybe"))[-1].text
    # Another manager's client cannot be touched.
    await team.invite_and_join(OWNER, Person(5, "Nina"))
    replies = await team.send(Person(5, "Nina"), "/consent Иванов no")
    assert "not found" in replies[-1].text
    async with team.uow_factory() as uow:
        consent = await uow.session.scalar(
            select(Client.consent).where(Client.name == "Иванов Петр")
        )
        audited = await uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "consent")
        )
    assert consent == "yes" and audited == 1


async def test_add_records_consent_and_refuses_a_bad_value(team: BotHarness):
    await team.send(MANAGER, "/add Петров, consent: да, source: выставка")
    async with team.uow_factory() as uow:
        row = (
            await uow.session.execute(
                select(Client.consent, Client.source).where(Client.name == "Петров")
            )
        ).one()
    assert tuple(row) == ("yes", "выставка")
    replies = await team.send(MANAGER, "/add Козлов, consent: perhaps")
    assert "/consent Ivanov yes" in replies[-1].text


async def test_forget_keeps_rows_that_only_look_alike(team: BotHarness):
    """Keys, short values inside the name, and member names that share a word with the client
    are not the client: only string values naming the person go."""
    for line in ("Алла Смирнова, +7 999 111-11-11", "Keyes Ltd", "Format", "Anna"):
        await team.send(MANAGER, f"/add {line}")
    sidorov = await _client_id(team, "Сидоров")
    async with team.uow_factory() as uow:
        team_id = int(await uow.session.scalar(select(Client.team_id).limit(1)))
        owner_id = int(await uow.session.scalar(select(AuditEntry.actor_id).limit(1)))
        now = team.clock.now()
        export = {"scope": "all", "value": None, "format": "xlsx", "rows": 3, "activities": 0}
        await uow.audit.add(
            team_id=team_id, actor_id=owner_id, action="export", now=now, details=export
        )
        await uow.audit.add(
            team_id=team_id,
            actor_id=owner_id,
            action="consent",
            client_id=sidorov,
            now=now,
            details={"consent": "yes"},
        )
        for query in ("Smirn", "Ан", "all"):
            await uow.audit.add(
                team_id=team_id,
                actor_id=owner_id,
                action="search",
                now=now,
                details={"query": query},
            )
        await alert_owners(
            uow,
            team_id=team_id,
            step="export",
            params={"member": "Max", **export, "format": "csv"},
            dedup_key="e1",
            now=now,
        )
        await alert_owners(
            uow,
            team_id=team_id,
            step="mass_view",
            params={"member": "Anna Petrova", "cards": 40, "exports": 0, "minutes": 10},
            dedup_key="m1",
            now=now,
        )
        await uow.commit()
    for name in ("Алла Смирнова", "Keyes Ltd", "Format", "Anna"):
        client_id = await _client_id(team, name)
        await team.send(OWNER, f"/forget {name}")
        replies = await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
        assert "Personal data erased" in replies[-1].text, name
    async with team.uow_factory() as uow:
        rows = {
            (row.action, json.dumps(row.details, ensure_ascii=False, sort_keys=True))
            for row in await uow.session.execute(select(AuditEntry.action, AuditEntry.details))
        }
        steps = [
            (row.payload or {}).get("step")
            for row in await uow.session.execute(
                select(OutboxMessage.payload).where(OutboxMessage.kind == "alert")
            )
        ]
    assert ("export", json.dumps(export, sort_keys=True)) in rows
    assert ("consent", '{"consent": "yes"}') in rows
    assert ("search", '{"query": "Ан"}') in rows
    # Searches that find "Алла Смирнова" (typed in Latin, or a part of her name that /find
    # takes for her) name her: scrubbed.
    assert ("search", '{"query": "Smirn"}') not in rows
    assert ("search", '{"query": "all"}') not in rows
    assert "export" in steps and "mass_view" in steps


async def test_the_erased_name_reads_the_same_in_every_language(harness: BotHarness):
    owner = Person(7, "Ольга", language="ru")
    await harness.join_owner(owner)
    await harness.send(owner, "/add Иванов, +7 999 123-45-67")
    client_id = await _client_id(harness, "Иванов")
    await harness.send(owner, "/forget Иванов")
    await harness.press(owner, ForgetClient(act="yes", cid=client_id).pack())
    [done] = [e.text for e in harness.session.sent(EditMessageText)]
    assert f"«#{client_id}»" in done and "Erased" not in done
    async with harness.uow_factory() as uow:
        assert (await uow.session.get(Client, client_id)).name == f"#{client_id}"  # type: ignore[union-attr]


async def test_forget_scrubs_searches_that_name_the_person_without_having_found_them(
    team: BotHarness,
):
    """Searches logged before the found clients were recorded, and searches by a member who
    may not see the client (they found nothing), are matched the way /find matches."""
    client_id = await _client_id(team)
    nina = Person(5, "Nina")
    await team.invite_and_join(OWNER, nina)
    # Nina sees only her own clients: her searches find nobody, yet name the person.
    for query in ("Иванову", "9991234567"):
        assert "Nothing found" in (await team.send(nina, f"/find {query}"))[-1].text
    async with team.uow_factory() as uow:
        team_id = int(await uow.session.scalar(select(Client.team_id).limit(1)))
        for query in ("Ivanof", "Смирновой", "Сидоров"):
            # Written as the code before migration 0006 wrote them: no found clients.
            await uow.audit.add(
                team_id=team_id,
                actor_id=None,
                action="search",
                now=team.clock.now(),
                details={"query": query, "found": 1},
            )
        await uow.commit()
    await team.send(OWNER, "/forget Иванов")
    await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    async with team.uow_factory() as uow:
        queries = sorted(
            str((details or {}).get("query", "-"))
            for details in await uow.session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "search")
            )
        )
    assert queries == ["-", "-", "-", "-", "Сидоров"]


async def test_forget_leaves_no_bytes_of_the_person_in_the_sqlite_files(
    team: BotHarness, backend: str, tmp_path: Path
):
    """Deleted and overwritten rows stay readable in free pages and in the write-ahead log
    unless SQLite zeroes them and the log is checkpointed away."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL keeps old row versions until VACUUM (see the README)")
    client_id = await _client_id(team)
    await _make_every_kind_of_trace(team, client_id)
    database = tmp_path / "db.sqlite3"
    wal = tmp_path / "db.sqlite3-wal"
    traces = [
        t.encode()
        for t in ("Иванов", "Ivanov", "Ivanof", "Pyotr", "ivanov@mail.ru", "1234567", "Ленина")
    ]

    def raw() -> bytes:
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert any(trace in raw() for trace in traces)
    await team.send(OWNER, "/forget Иванов")
    await team.press(OWNER, ForgetClient(act="yes", cid=client_id).pack())
    left = raw()
    assert [trace for trace in traces if trace in left] == []
    assert "Сидоров".encode() in left  # the other client stays


async def test_sqlite_zeroes_freed_space_whatever_the_build_default(tmp_path: Path):
    """Some SQLite builds (Debian's) zero deleted content by default, others do not: the
    connection sets it either way."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'secure.sqlite3'}")

    @event.listens_for(engine.sync_engine, "connect", insert=True)
    def _build_default_off(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=OFF")
        cursor.close()

    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
    finally:
        await engine.dispose()
