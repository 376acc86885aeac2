"""Reading a client table the owner sends: `.xlsx` or `.csv`, as people really keep them.

Real files have a title row or two above the header, merged header cells, empty rows in the
middle, CSV saved by Excel in Windows-1251 with semicolons. The reader finds the header among
the first rows, skips empty rows, and hands out each data row with its row number in the file,
so problems can be reported the way the owner sees the sheet.

Nothing here trusts the file: see `guard.py` for the bounds, which hold for CSV too (cell
length, columns). Reading runs in a worker process (`worker.py`), never on the event loop.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from xml.parsers.expat import ExpatError

from openpyxl.utils.cell import get_column_letter

from bot.config import ImportFileSettings
from bot.errors import ErrorCode
from bot.services.errors import DomainError
from bot.services.importing.guard import FileGuard
from bot.services.importing.xlsx import UnsupportedLayoutError, XlsxSheet

Cell = str | int | float | date | datetime | None
# The header is looked for among this many first non-empty rows.
HEADER_SCAN_ROWS = 10
CSV_ENCODINGS = ("utf-8-sig", "cp1251")
CSV_DELIMITERS = ",;\t"
SPREADSHEET_KINDS = ("xlsx", "csv")


@dataclass(frozen=True, slots=True)
class Table:
    headers: list[str]
    header_row: int  # 1-based, as the spreadsheet numbers it
    rows: Iterator[tuple[int, list[Cell]]]  # (row number in the file, cells)


def file_kind(file_name: str | None) -> str:
    """`xlsx` or `csv` by the file's extension; anything else is refused before downloading."""
    name = (file_name or "").casefold().strip()
    for kind in SPREADSHEET_KINDS:
        if name.endswith("." + kind):
            return kind
    if name.endswith((".xls", ".xlsm", ".xlsb", ".ods", ".numbers")):
        raise DomainError(ErrorCode.IMPORT_OLD_FORMAT)
    raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET)


def open_table(
    data: bytes,
    kind: str,
    *,
    header_score: Callable[[list[str]], int],
    limits: ImportFileSettings,
) -> Table:
    """The table in the file. `header_score` rates a candidate header row (how many of its cells
    name a known field): the best of the first rows is the header."""
    if kind == "xlsx":
        return _with_header(_xlsx_rows(data, FileGuard(limits)), header_score)
    return _with_header(_csv_rows(data, limits), header_score)


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _with_header(
    rows: Iterator[tuple[int, list[Cell]]], header_score: Callable[[list[str]], int]
) -> Table:
    head: list[tuple[int, list[Cell]]] = []
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        head.append((number, cells))
        if len(head) >= HEADER_SCAN_ROWS:
            break
    if not head:
        raise DomainError(ErrorCode.IMPORT_EMPTY)
    scored = [(header_score(_header_texts(cells)), -i) for i, (_, cells) in enumerate(head)]
    best_score, best_neg_index = max(scored)
    # No recognisable header at all: the first non-empty row is the best guess, and the owner
    # fixes the mapping with the buttons.
    index = -best_neg_index if best_score > 0 else 0
    header_number, header_cells = head[index]
    headers = _merged_headers(header_cells)
    rest = head[index + 1 :]

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        for number, cells in rest:
            yield number, cells
        for number, cells in rows:
            if not all(_blank(c) for c in cells):
                yield number, cells

    return Table(headers=headers, header_row=header_number, rows=data_rows())


def _header_texts(cells: list[Cell]) -> list[str]:
    return ["" if _blank(c) else str(c).strip() for c in cells]


def _merged_headers(cells: list[Cell]) -> list[str]:
    """A header cell merged across several columns is read as the name in the first of them and
    empty cells after it (openpyxl's read-only mode does not see merges). The empty ones take the
    name on their left: a "Телефон" merged over two columns names two phone columns."""
    texts = _header_texts(cells)
    while texts and not texts[-1]:
        texts.pop()
    out: list[str] = []
    for text in texts:
        out.append(text or (out[-1] if out else ""))
    return out


# -- XLSX -------------------------------------------------------------------------------------


def _xlsx_rows(data: bytes, guard: FileGuard) -> Iterator[tuple[int, list[Cell]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET) from exc
    try:
        sheet = XlsxSheet(archive, guard)
    except UnsupportedLayoutError:
        return _openpyxl_rows(data, guard, archive)
    except (zipfile.BadZipFile, ExpatError, OSError) as exc:
        raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET) from exc

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            yield from sheet.rows()
        except (zipfile.BadZipFile, ExpatError, ValueError, IndexError, OSError) as exc:
            raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET) from exc

    return rows()


def _openpyxl_rows(
    data: bytes, guard: FileGuard, archive: zipfile.ZipFile
) -> Iterator[tuple[int, list[Cell]]]:
    """The slow, thorough reader, for packages the expat reader does not know. It reads parts
    without the guard's streaming checks, so the whole package must pass the headers' check
    first, and its cells are checked as they come (the worker's memory limit backs this up)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    guard.check_headers(archive)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET) from exc
    sheet = workbook.active
    if sheet is None:
        raise DomainError(ErrorCode.IMPORT_EMPTY)
    limits = guard.limits

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > limits.max_sheet_rows:
                    raise DomainError(ErrorCode.IMPORT_SHEET_ROWS, limit=limits.max_sheet_rows)
                cells = list(values)
                check_cells(number, cells, limits, get_column_letter)
                yield number, cells
        finally:
            workbook.close()

    return rows()


def check_cells(
    number: int, cells: list[Cell], limits: ImportFileSettings, column: Callable[[int], str]
) -> None:
    if len(cells) > limits.max_columns:
        raise DomainError(ErrorCode.IMPORT_TOO_MANY_COLUMNS, limit=limits.max_columns)
    for index, cell in enumerate(cells):
        if isinstance(cell, str) and len(cell) > limits.max_cell_chars:
            raise DomainError(
                ErrorCode.IMPORT_CELL_TOO_LONG,
                row=number,
                column=column(index + 1),
                limit=limits.max_cell_chars,
            )


# -- CSV --------------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), UTF-16 (Excel's «Unicode text», with its
    BOM, or without one when every other byte is zero), or else Windows-1251, the encodings a
    Russian office produces. cp1251 decodes any byte, so binary junk is caught by NUL bytes."""
    utf16 = _utf16(data)
    if utf16 is not None:
        try:
            return data.decode(utf16).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise DomainError(ErrorCode.IMPORT_CSV_ENCODING) from exc
    if b"\x00" in data[:65536]:
        raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET)
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError(ErrorCode.IMPORT_CSV_ENCODING)  # unreachable: cp1251 maps almost every byte


def _utf16(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:4096]
    if len(sample) < 4:
        return None
    # Text in UTF-16 without a BOM: the high byte of every ASCII character is zero.
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.6 and not even.count(0):
        return "utf-16-le"
    if even.count(0) > len(even) * 0.6 and not odd.count(0):
        return "utf-16-be"
    return None


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        # The sniffer gives up on ragged rows; the most frequent candidate on the first line
        # is right for every file Excel writes.
        first = sample.split("\n", 1)[0]
        return max(CSV_DELIMITERS, key=first.count)


def _csv_rows(data: bytes, limits: ImportFileSettings) -> Iterator[tuple[int, list[Cell]]]:
    text = decode_csv(data)
    # The csv module's own bound (128 KB a field) would fail with a message naming neither the
    # cell nor the limit; the file's own length bounds a field here, and the cell limit is
    # checked below with its row and column.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:65536]))

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(reader, start=1):
                cells: list[Cell] = list(values)
                check_cells(number, cells, limits, str)
                yield number, cells
        except csv.Error as exc:
            raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET) from exc

    return rows()
