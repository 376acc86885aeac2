"""Spreadsheet output shared by every export: CSV and XLSX, safe to open in Excel.

A cell that starts with `=`, `+`, `-`, `@` (or a tab/CR, which Excel strips before looking) is
read by spreadsheet programs as a formula: a client named `=HYPERLINK(...)` would run in the
owner's Excel. In CSV such text cells get a leading apostrophe, the OWASP-recommended
neutraliser. In XLSX the cell is typed as a string and carries Excel's own "quote prefix" style
(what typing an apostrophe in Excel does): shown as the text itself, without a stray apostrophe
in front of every "+7 999 ..." phone, and never evaluated, even when edited. Numbers, dates and
Decimals are written as typed values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Cell = str | int | Decimal | date | datetime | None
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Cell) -> Cell:
    """Text that a spreadsheet would take for a formula becomes inert text."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str  # ≤ 31 characters, no []:*?/\ (Excel's rule); cleaned by write_xlsx
    headers: Sequence[str]
    rows: Iterable[Sequence[Cell]]


def _csv_cell(value: Cell) -> str:
    value = neutralise(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(sheet: Sheet, *, delimiter: str = ";") -> bytes:
    """UTF-8 with a BOM and `;` by default: what Excel with a Russian locale opens correctly."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in sheet.headers])
    for row in sheet.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


_BAD_TITLE_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_title(title: str, used: set[str]) -> str:
    base = (title.translate(_BAD_TITLE_CHARS).strip() or "Sheet")[:31]
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def _xlsx_cell(
    sheet: WriteOnlyWorksheet, value: Cell
) -> str | int | float | date | datetime | WriteOnlyCell | None:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # openpyxl took "=..." for a formula
        cell.quotePrefix = True
        return cell
    if isinstance(value, Decimal):
        # openpyxl writes numbers as IEEE doubles anyway; kopecks survive that exactly up to
        # 2**53, far above any sum this product sees.
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: callers pass local time
    return value


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """Streams rows (openpyxl write-only mode), so 100,000 rows stay within a modest memory."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for sheet in sheets:
        worksheet = workbook.create_sheet(_sheet_title(sheet.title, used))
        worksheet.append([_xlsx_cell(worksheet, h) for h in sheet.headers])
        for row in sheet.rows:
            worksheet.append([_xlsx_cell(worksheet, v) for v in row])
    if not sheets:
        workbook.create_sheet("Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
