"""`/portfolio` through the real Dispatcher: replies, buttons, access, charts and exports."""

from __future__ import annotations

import csv
import io

import pytest
from aiogram.methods import SendDocument, SendPhoto
from openpyxl import load_workbook
from sqlalchemy import select

from bot.telegram.callbacks import PortfolioAct, PortfolioView
from bot.telegram.paging import TEXT_LIMIT, visible_length
from storage.models import AuditEntry, Member
from tests.support import portfolio_data
from tests.support.builders import TeamSpec
from tests.support.harness import BotHarness, Person

OWNER = Person(1, "Olga")
IVANOV = Person(2, "Ivan Ivanov")
PETROV = Person(3, "Petr Petrov")
HEAD = Person(4, "Hugo")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(invited=(IVANOV, PETROV, (HEAD, "head")))


@pytest.fixture
async def team(team: BotHarness) -> BotHarness:
    """The conftest team, then a portfolio of deals for Ivanov and Petrov."""
    async with team.uow_factory() as uow:
        rows = await uow.session.execute(select(Member.telegram_id, Member.id, Member.team_id))
        ids = {telegram: (member, team_id) for telegram, member, team_id in rows}
        await portfolio_data.fill(uow, ids[1][1], ids[2][0], ids[3][0])
        await uow.commit()
    return team


async def _member_id(h: BotHarness, telegram_id: int) -> int:
    async with h.uow_factory() as uow:
        return int(
            await uow.session.scalar(select(Member.id).where(Member.telegram_id == telegram_id))
        )


def _view(period: str = "M202611", member: int = 0, section: str = "0") -> str:
    return PortfolioView(p=period, m=member, s=section).pack()


async def test_owner_gets_summary_with_period_manager_and_section_buttons(team: BotHarness):
    replies = await team.send(OWNER, "/portfolio 01.11-30.11")
    text = replies[0].text
    assert "Portfolio: whole team" in text
    assert "Revenue: RUB\xa01,000 against RUB\xa01,200: 83%" in text
    assert "Clients gained: 1, lost: 1" in text
    assert "Biggest change: Ivan Ivanov: A share up from 50% to 100%" in text
    labels = [label for label, _data in replies[0].buttons]
    assert "• Σ Summary" in labels and "2 ABC-XYZ" in labels
    assert {"Month", "Quarter", "Year", "◀ Previous", "• Team", "Ivan Ivanov"} <= set(labels)
    assert "⬇ XLSX" in labels


async def test_buttons_switch_section_and_manager(team: BotHarness):
    petrov = await _member_id(team, PETROV.id)
    replies = await team.press(OWNER, _view(section="2"))
    text = replies[0].text
    assert "November 2026 (compared with October 2026)" in text
    assert "AX 1 (RUB\xa0500)" in text and "BZ 1 (RUB\xa0150)" in text
    assert "Alpha: AZ → AX" in text and "Eps: BZ → —" in text
    replies = await team.press(OWNER, _view(member=petrov, section="5"))
    text = replies[0].text
    assert "Portfolio: Petr Petrov" in text
    assert "Delta: profit RUB\xa05, ROS 10%" in text
    assert "Alpha" not in text
    replies = await team.press(HEAD, _view(section="7"))
    assert "Ivan Ivanov: LTV RUB\xa042" in replies[0].text
    assert "wholesale: LTV 0 — single purchases only" in replies[0].text


@pytest.mark.parametrize("section", ["1", "3", "4", "6", "8", "9"])
async def test_every_section_renders(team: BotHarness, section: str):
    replies = await team.press(OWNER, _view(section=section))
    assert len(replies) == 1 and "Portfolio" in replies[0].text


async def test_manager_sees_only_self(team: BotHarness):
    petrov = await _member_id(team, PETROV.id)
    replies = await team.send(IVANOV, "/portfolio 01.11-30.11")
    assert "Portfolio: Ivan Ivanov" in replies[0].text
    labels = [label for label, _data in replies[0].buttons]
    assert "Petr Petrov" not in labels and "⬇ XLSX" not in labels
    replies = await team.send(IVANOV, "/portfolio Petrov")
    assert "only your own numbers" in replies[0].text
    # A forged button for another manager: refused, nothing shown.
    replies = await team.press(IVANOV, _view(member=petrov, section="5"))
    assert replies == []
    assert any("only your own numbers" in alert for alert in team.alerts())
    replies = await team.press(IVANOV, PortfolioAct(a="chart", p="M202611", m=petrov, s="2").pack())
    assert not team.session.sent(SendPhoto)
    replies = await team.press(IVANOV, PortfolioAct(a="xlsx", p="M202611", m=0, s="0").pack())
    assert not team.session.sent(SendDocument)
    assert any(
        "Only the owner, or a member the owner granted it" in alert for alert in team.alerts()
    )


@pytest.mark.parametrize("data", ["pf:M202699:0:0", "pf:M202611:0:x", "pf:M202611:-1:0"])
async def test_forged_or_broken_buttons_are_refused(team: BotHarness, data: str):
    replies = await team.press(OWNER, data)
    assert replies == []
    # Refused when the press is parsed (bot/telegram/callbacks.py), like any unknown button.
    assert team.alerts() == ["This button is no longer active."]


async def test_bad_input_gets_polite_answers_in_russian(team: BotHarness):
    assert "could not read the period" in (await team.send(OWNER, "/portfolio 31.02-01.03"))[0].text
    assert "I don't know «Zorro»" in (await team.send(OWNER, "/portfolio Zorro"))[0].text
    russian = Person(1, "Olga", language="ru")
    await team.send(russian, "/settings lang ru")
    text = (await team.send(russian, "/portfolio квартал Иванов"))[0].text
    assert "Портфель" in text and "Ivan Ivanov" in text
    assert "Не знаю «Zorro»" in (await team.send(russian, "/portfolio Zorro"))[0].text


@pytest.mark.parametrize("section", ["2", "3", "4"])
async def test_chart_is_sent_as_png(team: BotHarness, section: str):
    await team.press(OWNER, PortfolioAct(a="chart", p="M202611", m=0, s=section).pack())
    photos = team.session.sent(SendPhoto)
    assert len(photos) == 1
    assert photos[0].photo.data.startswith(PNG)


async def test_export_opens_back_and_is_audited(team: BotHarness):
    await team.press(OWNER, PortfolioAct(a="xlsx", p="M202611", m=0, s="2").pack())
    documents = team.session.sent(SendDocument)
    assert len(documents) == 1
    book = load_workbook(io.BytesIO(documents[0].document.data), read_only=True)
    clients = book[book.sheetnames[0]]
    rows = list(clients.iter_rows(values_only=True))
    assert rows[0][:4] == ("Client", "Manager", "Segment", "Revenue")
    alpha = next(row for row in rows if row[0] == "Alpha")
    assert alpha[3] == 500 and alpha[11] == "A" and alpha[12] == "X"
    # A yearly potential of 1000: November's plan is a twelfth of it, penetration 600%.
    assert rows[0][8:11] == ("Potential", "Plan for the period", "Penetration, %")
    assert alpha[8:11] == (1000, 83.33, 600)
    assert {"Managers", "Segments", "Quality", "Activity", "Health"} <= set(book.sheetnames)

    await team.press(OWNER, PortfolioAct(a="csv", p="M202611", m=0, s="4").pack())
    data = team.session.sent(SendDocument)[0].document.data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(data), delimiter=";"))
    assert table[0][:3] == ["Manager", "Days", "calls"]
    assert table[1][:6] == ["Ivan Ivanov", "30", "3", "1", "1", "3"]
    async with team.uow_factory() as uow:
        audit = (
            await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        ).all()
    assert [entry.details["format"] for entry in audit] == ["xlsx", "csv"]  # type: ignore[index]
    assert audit[0].details["what"] == "portfolio"  # type: ignore[index]


async def test_long_names_and_many_clients_stay_within_one_message(team: BotHarness):
    from datetime import date
    from decimal import Decimal

    from storage.models import Client
    from tests.support.builders import NOW

    ivanov = await _member_id(team, IVANOV.id)
    async with team.uow_factory() as uow:
        team_id = await uow.session.scalar(select(Member.team_id).where(Member.id == ivanov))
        for n in range(40):
            client = Client(
                team_id=team_id,
                manager_id=ivanov,
                name=f"<{n}> " + "Очень длинное название & Co " * 7,
                potential=Decimal(10_000),
                temperature="warm",
                stage="won",
                stage_changed_at=NOW,
                consent="unknown",
                created_at=NOW,
                updated_at=NOW,
            )
            uow.session.add(client)
            await uow.session.flush()
            for day in (date(2026, 10, 2), date(2026, 11, 2 + n % 20)):
                await uow.activities.add_deal(
                    team_id=team_id,
                    client_id=client.id,
                    manager_id=ivanov,
                    activity_id=None,
                    amount=Decimal(100 + n * (day.month - 9)),
                    margin_percent=None,
                    profit=Decimal(-5),
                    currency="RUB",
                    closed_on=day,
                    now=NOW,
                )
        await uow.commit()
    for section in ("1", "2", "5"):
        replies = await team.press(OWNER, _view(section=section))
        assert len(replies) == 1
        assert visible_length(replies[0].text) <= TEXT_LIMIT
        assert "&lt;" in replies[0].text  # names are escaped HTML
        if section in ("1", "2"):
            assert "…and" in replies[0].text  # 40 clients, the top 10 shown
    # The fixture's harness fails the test if Telegram would have refused any message.


def test_arguments_give_period_and_member_in_any_order():
    from datetime import date

    from handlers.portfolio import parse_args

    today = date(2026, 12, 2)
    period, name = parse_args("01.09 - 30.11 Petrov", today)
    assert (period.key, name) == ("C20260901-20261130", "Petrov")
    period, name = parse_args("Иванов квартал", today)
    assert (period.key, name) == ("Q20264", "Иванов")
    period, name = parse_args("", today)
    assert (period.key, name) == ("M202612", "")
    period, name = parse_args("Petr Petrov", today)
    assert (period.key, name) == ("M202612", "Petr Petrov")
