"""Every row of tests/data/phrases.tsv, the reference list of how managers write, through the
parser its command uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.parsing.commands import (
    CallCommand,
    DealCommand,
    Outcome,
    ScheduleCommand,
    parse_call,
    parse_deal,
    parse_schedule,
)
from bot.parsing.dates import When
from bot.parsing.errors import ParseError

PHRASES = Path(__file__).parent / "data" / "phrases.tsv"
# The reference moment of the file's header: Wednesday 2026-12-02 10:15 in Moscow.
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=ZoneInfo("Europe/Moscow"))
MAX_AMOUNT = Decimal("1000000000")
NO_EXPLICIT_DATE = {"default", "retry"}


@dataclass(frozen=True)
class Row:
    text: str
    outcome: str
    next: str
    amount: str
    margin: str


def _rows() -> list[Row]:
    rows: list[Row] = []
    header_seen = False
    for line in PHRASES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            assert cells[:5] == ["text", "outcome", "next", "amount", "margin"]
            header_seen = True
            continue
        cells += [""] * (5 - len(cells))
        rows.append(Row(*(cell.strip() for cell in cells[:5])))
    return rows


ROWS = _rows()


def _expected_when(next_cell: str) -> When:
    day_text, _, time_text = next_cell.partition(" ")
    at = time.fromisoformat(time_text) if time_text else None
    return When(day=date.fromisoformat(day_text), at=at)


def _parse(row: Row) -> CallCommand | DealCommand | ScheduleCommand:
    command, _, args = row.text.partition(" ")
    if command == "/call":
        return parse_call(args, NOW, max_amount=MAX_AMOUNT)
    if command == "/deal":
        return parse_deal(args, max_amount=MAX_AMOUNT)
    if command in ("/meet", "/next"):
        return parse_schedule(args, NOW)
    raise AssertionError(f"no parser routes {command}")


def test_the_reference_file_has_rows_for_every_command():
    commands = {row.text.split()[0] for row in ROWS}
    assert commands == {"/call", "/deal", "/meet", "/next"}
    assert len(ROWS) >= 45


@pytest.mark.parametrize("row", ROWS, ids=[row.text for row in ROWS])
def test_phrase_is_understood_as_the_reference_says(row: Row):
    command = row.text.split()[0]

    if row.next == "error":
        if command == "/call" and not row.outcome:
            # No outcome word at all is not a parse error: the parser reports outcome None and
            # the handler explains which words it knows ("outcome_unknown").
            parsed = _parse(row)
            assert isinstance(parsed, CallCommand)
            assert parsed.outcome is None
            return
        with pytest.raises(ParseError):
            _parse(row)
        return

    parsed = _parse(row)
    if isinstance(parsed, CallCommand):
        assert parsed.outcome == Outcome(row.outcome)
        assert parsed.name
    elif isinstance(parsed, DealCommand):
        assert row.outcome == "deal"
        assert parsed.name
    else:
        assert row.outcome in ("meeting", "")
        assert parsed.name

    when = getattr(parsed, "when", None)
    if row.next in NO_EXPLICIT_DATE:
        assert when is None
        assert isinstance(parsed, CallCommand)
        assert parsed.outcome in (Outcome.DONE, Outcome.NO_ANSWER, Outcome.DEAL)
    elif not row.next:
        assert when is None
    else:
        assert when == _expected_when(row.next)

    amount = getattr(parsed, "amount", None)
    if row.amount:
        assert amount == Decimal(row.amount)
        assert isinstance(amount, Decimal)
    else:
        assert amount is None

    margin = getattr(parsed, "margin", None)
    if row.margin:
        assert margin is not None
        assert margin.percent == Decimal(row.margin)
    else:
        assert margin is None
