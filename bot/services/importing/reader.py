"""Reading a client table the owner sends: `.xlsx` or `.csv`, as people really keep them.

Real files have a title row or two above the header, merged header cells, empty rows in the
middle, CSV saved by Excel in Windows-1251 with semicolons. The reader finds the header among
the first rows, skips empty rows, and hands out each data row with its row number in the file,
so problems can be reported the way the owner sees the sheet.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from xml.parsers.expat import ExpatError

from bot.services.errors import DomainError
from bot.services.importing.xlsx import UnsupportedLayoutError, XlsxSheet

Cell = str | int | float | date | datetime | None
# The header is looked for among this many first non-empty rows.
HEADER_SCAN_ROWS = 10
CSV_ENCODINGS = ("utf-8-sig", "cp1251")
CSV_DELIMITERS = ",;\t"
SPREADSHEET_KINDS = ("xlsx", "csv")
# An opening row tag, plain or namespace-prefixed (`<row r="2">`, `<x:row>`).
_ROW_TAG = re.compile(rb"<(?:[\w.-]{1,16}:)?row[\s>/]")
_ROW_TAG_MAX = 24


@dataclass(frozen=True, slots=True)
class Table:
    headers: list[str]
    header_row: int  # 1-based, as the spreadsheet numbers it
    rows: Iterator[tuple[int, list[Cell]]]  # (row number in the file, cells)
    # Counts the rows below the header without reading their cells (an XLSX sheet's row
    # elements: empty rows Excel kept for their formatting count too). None: iterate `rows`.
    quick_count: Callable[[], int] | None = None
    rows_through_header: int = 0  # non-empty rows up to and including the header


def file_kind(file_name: str | None) -> str:
    """`xlsx` or `csv` by the file's extension; anything else is refused before downloading."""
    name = (file_name or "").casefold().strip()
    for kind in SPREADSHEET_KINDS:
        if name.endswith("." + kind):
            return kind
    if name.endswith((".xls", ".xlsm", ".xlsb", ".ods", ".numbers")):
        raise DomainError("import_old_format")
    raise DomainError("import_not_spreadsheet")


def open_table(data: bytes, kind: str, *, header_score: Callable[[list[str]], int]) -> Table:
    """The table in the file. `header_score` rates a candidate header row (how many of its cells
    name a known field): the best of the first rows is the header."""
    if kind == "xlsx":
        rows, count_elements = _xlsx_rows(data)
        table = _with_header(rows, header_score)
        above = table.rows_through_header
        return Table(
            table.headers,
            table.header_row,
            table.rows,
            lambda: max(count_elements() - above, 0),
            above,
        )
    return _with_header(_csv_rows(data), header_score)


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
        raise DomainError("import_empty")
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

    return Table(
        headers=headers,
        header_row=header_number,
        rows=data_rows(),
        rows_through_header=index + 1,
    )


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


def _xlsx_rows(data: bytes) -> tuple[Iterator[tuple[int, list[Cell]]], Callable[[], int]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DomainError("import_not_spreadsheet") from exc
    try:
        sheet = XlsxSheet(archive)
    except UnsupportedLayoutError:
        return _openpyxl_rows(data)
    except (zipfile.BadZipFile, ExpatError, OSError) as exc:
        raise DomainError("import_not_spreadsheet") from exc

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            yield from sheet.rows()
        except (zipfile.BadZipFile, ExpatError, ValueError, IndexError, OSError) as exc:
            raise DomainError("import_not_spreadsheet") from exc

    return rows(), lambda: _count_row_elements(data, sheet.sheet_path)


def _count_row_elements(data: bytes, path: str) -> int:
    """`<row` elements in the sheet's XML: a byte scan, 50 times faster than parsing."""
    count, tail = 0, b""
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path) as source:
        while chunk := source.read(1 << 20):
            block = tail + chunk
            # A tag cut between two chunks is counted in the next block only.
            cut = max(len(block) - _ROW_TAG_MAX, 0)
            count += sum(1 for match in _ROW_TAG.finditer(block) if match.start() < cut)
            tail = block[cut:]
        count += len(_ROW_TAG.findall(tail))
    return count


def _openpyxl_rows(data: bytes) -> tuple[Iterator[tuple[int, list[Cell]]], Callable[[], int]]:
    """The slow, thorough reader, for packages the expat reader does not know."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise DomainError("import_not_spreadsheet") from exc
    sheet = workbook.active
    if sheet is None:
        raise DomainError("import_empty")

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(values)
        finally:
            workbook.close()

    return rows(), lambda: _count_row_elements(data, sheet._worksheet_path)  # type: ignore[union-attr]


# -- CSV --------------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes) or else Windows-1251, the two encodings a
    Russian office produces. cp1251 decodes any byte, so binary junk is caught by NUL bytes."""
    if b"\x00" in data[:65536]:
        raise DomainError("import_not_spreadsheet")
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError("import_not_spreadsheet")  # unreachable: cp1251 maps almost every byte


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        # The sniffer gives up on ragged rows; the most frequent candidate on the first line
        # is right for every file Excel writes.
        first = sample.split("\n", 1)[0]
        return max(CSV_DELIMITERS, key=first.count)


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Cell]]]:
    text = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:65536]))

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(reader, start=1):
                yield number, list(values)
        except csv.Error as exc:
            raise DomainError("import_not_spreadsheet") from exc

    return rows()
