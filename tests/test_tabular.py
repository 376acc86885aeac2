"""Exports open back with the same values, and formula-like text stays text."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from bot.services.tabular import Sheet, neutralise, write_csv, write_xlsx

HOSTILE = ['=HYPERLINK("http://x")', "+7 999", "-1+2", "@SUM(A1)", "\t=1", "\r=1"]


def test_formula_triggers_are_neutralised_and_plain_text_is_not():
    assert [neutralise(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert neutralise("Ivanov = boss") == "Ivanov = boss"
    assert neutralise(-5) == -5
    assert neutralise(None) is None


def test_csv_opens_back_in_excel_dialect_with_bom():
    sheet = Sheet(
        "Clients", ["Name", "Sum", "Day"], [["Иванов", Decimal("1500.50"), date(2026, 3, 1)]]
    )
    data = write_csv(sheet)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Name", "Sum", "Day"], ["Иванов", "1500.50", "2026-03-01"]]


def test_csv_neutralises_every_hostile_cell():
    data = write_csv(Sheet("x", ["=bad header"], [[v] for v in HOSTILE]))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [r[0] for r in rows] == ["'=bad header"] + ["'" + v for v in HOSTILE]


def test_xlsx_round_trip_keeps_types_and_neutralises():
    rows = [["Иванов", Decimal("1500.50"), date(2026, 3, 1), datetime(2026, 3, 1, 10, 30)]]
    rows += [[v, None, None, None] for v in HOSTILE]
    data = write_xlsx(
        [
            Sheet("Clients: all/[Moscow]", ["Name", "Sum", "Day", "=At"], rows),
            Sheet("Clients: all/[Moscow]", ["a"], []),
        ]
    )
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Clients  all  Moscow", "Clients  all  Moscow (2)"]
    values = list(book.worksheets[0].iter_rows(values_only=True))
    assert values[1][:2] == ("Иванов", 1500.5)
    assert values[1][2].date() == date(2026, 3, 1)
    assert values[1][3] == datetime(2026, 3, 1, 10, 30)
    # The text itself, typed as text with Excel's quote prefix: shown as is (no stray
    # apostrophe before a phone), never evaluated. XML stores a lone CR as a line feed.
    assert [v[0] for v in values[2:]] == [v.replace("\r", "\n") for v in HOSTILE]
    assert values[0][3] == "=At"
    for row in book.worksheets[0].iter_rows():
        for cell in row:
            assert cell.data_type != "f"
            if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t")):
                assert cell.data_type == "s" and cell.quotePrefix
