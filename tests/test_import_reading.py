"""Reading client tables below the handlers: XLSX (both readers agree), CSV encodings and
delimiters, header detection, cell values and the guessed column mapping."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook

from bot.config import ImportFileSettings
from bot.services.errors import DomainError
from bot.services.importing import reader, values
from bot.services.importing.guard import FileGuard
from bot.services.importing.mapping import (
    guess_field,
    guess_mapping,
    header_score,
    mapping_problem,
)


def _xlsx(rows: list[list[Any]], *, merge: str | None = None, fmt: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    if fmt:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, datetime):
                    cell.number_format = fmt
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


LIMITS = ImportFileSettings()


def _all(table: reader.Table) -> list[tuple[int, list[Any]]]:
    return list(table.rows)


ROWS: list[list[Any]] = [
    ["Отчёт на 01.12.2026"],
    ["Название", "Телефон", None, "ДР", "Сумма", "VIP", "Заметка"],
    ["Ромашка & Co <ООО>", 79991234567, "8 999 1234568", datetime(1980, 3, 15), 1500.5, True,
     "строка 1\nстрока 2"],
    [],
    ["Иванов", "+7 (999) 123-45-67", None, 29295, 0, False, "  "],
]  # fmt: skip


def test_the_expat_reader_reads_what_openpyxl_reads():
    data = _xlsx(ROWS, merge="B2:C2", fmt="DD.MM.YYYY")
    fast = reader._xlsx_rows(data, FileGuard(LIMITS))
    slow = reader._openpyxl_rows(data, FileGuard(LIMITS), zipfile.ZipFile(io.BytesIO(data)))
    fast_rows = [(n, [c for c in cells]) for n, cells in fast]
    slow_rows = [(n, [c for c in cells]) for n, cells in slow]

    def trimmed(rows: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
        out = []
        for number, cells in rows:
            while cells and cells[-1] is None:
                cells = cells[:-1]
            if cells:
                out.append((number, cells))
        return out

    assert trimmed(fast_rows) == trimmed(slow_rows)
    assert trimmed(fast_rows)[2][1][3] == datetime(1980, 3, 15)
    assert trimmed(fast_rows)[2][1][0] == "Ромашка & Co <ООО>"


def _package(sheet_xml: str, shared: list[str], *, date1904: bool = False) -> bytes:
    """A workbook as Excel writes it: shared strings, a custom date format, prefixed tags."""
    buffer = io.BytesIO()
    strings = "".join(f"<si><t>{s}</t></si>" for s in shared)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            '<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<x:workbookPr date1904="{1 if date1904 else 0}"/>'
            '<x:bookViews><x:workbookView activeTab="1"/></x:bookViews><x:sheets>'
            '<x:sheet name="Пусто" sheetId="1" r:id="rId1"/>'
            '<x:sheet name="Клиенты" sheetId="2" r:id="rId2"/></x:sheets></x:workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="worksheet" Target="/xl/worksheets/sheet2.xml"/>'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
        archive.writestr("xl/worksheets/sheet2.xml", sheet_xml)
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}'
            "<si><r><t>Ри</t></r><r><t>ch</t></r><rPh><t>ignored</t></rPh></si></sst>",
        )
        archive.writestr(
            "xl/styles.xml",
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy;@"/></numFmts>'
            '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/>'
            '<xf numFmtId="49"/></cellXfs></styleSheet>',
        )
    return buffer.getvalue()


def test_an_excel_package_with_shared_strings_dates_and_prefixes():
    sheet = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<x:sheetData>"
        '<x:row r="2"><x:c r="A2" t="s"><x:v>0</x:v></x:c><x:c r="B2" t="s"><x:v>1</x:v></x:c>'
        '<x:c r="D2" t="s"><x:v>2</x:v></x:c></x:row>'
        '<x:row r="3"><x:c r="A3" t="s"><x:v>3</x:v></x:c><x:c r="B3" s="1"><x:v>29295</x:v>'
        '</x:c><x:c r="C3" t="b"><x:v>1</x:v></x:c><x:c r="D3" s="3" t="s"><x:v>4</x:v></x:c>'
        "</x:row>"
        '<x:row r="5"><x:c r="A5" t="inlineStr"><x:is><x:t>Тест &amp; Ко</x:t></x:is></x:c>'
        '<x:c r="B5" s="2"><x:v>29295.5</x:v></x:c><x:c r="D5"><x:f>1+1</x:f><x:v>2</x:v></x:c>'
        "</x:row></x:sheetData></x:worksheet>"
    )
    data = _package(sheet, ["Клиент", "ДР", "Телефон", "Ромашка", "+7 999 123-45-67"])
    table = reader.open_table(data, "xlsx", header_score=header_score, limits=LIMITS)
    assert table.headers == ["Клиент", "ДР", "ДР", "Телефон"]  # a blank takes its left name
    rows = _all(table)
    assert rows[0] == (3, ["Ромашка", datetime(1980, 3, 15), True, "+7 999 123-45-67"])
    assert rows[1] == (5, ["Тест & Ко", datetime(1980, 3, 15, 12), None, 2])
    shared = reader.XlsxSheet(zipfile.ZipFile(io.BytesIO(data)), FileGuard(LIMITS))
    assert shared._strings[-1] == "Риch"  # runs joined, phonetic hints left out


def test_the_1904_calendar_is_honoured():
    sheet = (
        "<worksheet><sheetData>"
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="1"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    data = _package(sheet, ["Название", "День рождения", "Ромашка"], date1904=True)
    rows = _all(reader.open_table(data, "xlsx", header_score=header_score, limits=LIMITS))
    assert rows == [(2, ["Ромашка", datetime(1904, 1, 2)])]


def test_the_header_is_found_below_title_rows_and_merged_cells_name_both_columns():
    table = reader.open_table(
        _xlsx(ROWS, merge="B2:C2"), "xlsx", header_score=header_score, limits=LIMITS
    )
    assert table.header_row == 2
    assert table.headers == ["Название", "Телефон", "Телефон", "ДР", "Сумма", "VIP", "Заметка"]
    assert [n for n, _ in table.rows] == [3, 5]  # the empty row 4 is skipped


def test_without_a_recognisable_header_the_first_row_is_taken():
    content = b"Foo;Bar\n1;2\n"
    table = reader.open_table(content, "csv", header_score=header_score, limits=LIMITS)
    assert table.headers == ["Foo", "Bar"] and _all(table) == [(2, ["1", "2"])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_encodings_and_delimiters(encoding: str, delimiter: str):
    text = delimiter.join(["Название", "Город"]) + "\r\n"
    text += delimiter.join(['"Рога, копыта; и Ко"', "Тверь"]) + "\r\n"
    table = reader.open_table(
        text.encode(encoding), "csv", header_score=header_score, limits=LIMITS
    )
    assert table.headers == ["Название", "Город"]
    assert _all(table) == [(2, ["Рога, копыта; и Ко", "Тверь"])]


def test_ragged_csv_falls_back_to_the_most_frequent_delimiter():
    text = "Название;Телефон;Город\nА;1\nБ;2;3;4;5\n"
    table = reader.open_table(text.encode(), "csv", header_score=header_score, limits=LIMITS)
    assert table.headers == ["Название", "Телефон", "Город"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("a.pdf", "import_not_spreadsheet"),
        ("a", "import_not_spreadsheet"),
        (None, "import_not_spreadsheet"),
        ("a.xls", "import_old_format"),
        ("a.ods", "import_old_format"),
    ],
)
def test_file_kinds_are_refused_by_name(name: str | None, code: str):
    with pytest.raises(DomainError) as caught:
        reader.file_kind(name)
    assert caught.value.code == code
    assert reader.file_kind("Клиенты.XLSX") == "xlsx"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (datetime(1980, 3, 15, 0, 0), date(1980, 3, 15)),
        (date(1980, 3, 15), date(1980, 3, 15)),
        (29295, date(1980, 3, 15)),
        (29295.0, date(1980, 3, 15)),
        ("29295", date(1980, 3, 15)),
        ("15.03.1980", date(1980, 3, 15)),
        ("15.03.80", date(1980, 3, 15)),
        ("1980-03-15", date(1980, 3, 15)),
        ("1980-03-15 00:00:00", date(1980, 3, 15)),
        ("15/03/1980", date(1980, 3, 15)),
        ("15 марта 1980", date(1980, 3, 15)),
        ("15 марта 1980 г.", date(1980, 3, 15)),
        ("1 Dec 1975", date(1975, 12, 1)),
        ("3 сентября 2001", date(2001, 9, 3)),
        (None, None),
        ("  ", None),
    ],
)
def test_dates_written_every_way(cell: Any, expected: date | None):
    assert values.day(cell) == expected


@pytest.mark.parametrize("cell", ["31.02.1980", "завтра", "15 мартобря 1980", -5, 10**7, "1.2.3"])
def test_bad_dates(cell: Any):
    with pytest.raises(values.BadValueError) as caught:
        values.day(cell)
    assert caught.value.reason == "date"


def test_phones_in_many_formats_and_several_in_a_cell():
    assert values.phones("+7 (999) 123-45-67") == [("+7 (999) 123-45-67", "79991234567")]
    assert values.phones("8 999 1234567") == [("8 999 1234567", "79991234567")]
    assert values.phones("9991234567") == [("9991234567", "79991234567")]
    assert values.phones(79991234567.0) == [("79991234567", "79991234567")]
    assert values.phones("+7 999 123-45-67, 8 (495) 111-22-33") == [
        ("+7 999 123-45-67", "79991234567"),
        ("8 (495) 111-22-33", "74951112233"),
    ]
    assert values.phones(None) == [] and values.phones(" ") == []
    for bad in ("12", "звонить после обеда", "+7 999 123-45-67 доб. 12"):
        with pytest.raises(values.BadValueError):
            values.phones(bad)


def test_other_values():
    assert values.text(" «Ромашка» ") == "«Ромашка»"
    assert values.text("'=cmd") == "=cmd"  # our own export's neutraliser is undone
    assert values.text("'quoted") == "'quoted"
    assert values.email(" a@b.ru ") == "a@b.ru"
    assert values.temperature("Горячий") == "hot" and values.temperature("warm") == "warm"
    assert values.consent("Да") == "yes" and values.consent(None) == "unknown"
    assert values.consent(0) == "no"
    assert values.potential("1,5 млн", Decimal(10**11)) == Decimal("1500000")
    assert values.potential("150 000", Decimal(10**11)) == Decimal("150000")
    assert values.potential(2500.5, Decimal(10**11)) == Decimal("2500.50")
    assert values.tags("#VIP, опт;  новые", 20) == ["vip", "опт", "новые"]
    for function, cell, reason in (
        (values.email, "a@", "email"),
        (values.temperature, "кипяток", "temperature"),
        (values.consent, "может быть", "consent"),
    ):
        with pytest.raises(values.BadValueError) as caught:
            function(cell)
        assert caught.value.reason == reason
    with pytest.raises(values.BadValueError):
        values.potential("много", Decimal(10**11))
    with pytest.raises(values.BadValueError):
        values.potential(-1, Decimal(10**11))


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Название", "name"),
        ("НАИМЕНОВАНИЕ", "name"),
        ("Компания", "company" and "name"),
        ("Client", "name"),
        ("Контактное лицо", "contact_person"),
        ("Contact", "contact_person"),
        ("Должность", "position"),
        ("Тел.", "phone"),
        ("Телефон 2", "phone"),
        ("Телефон (моб.)", "phone"),
        ("Phone", "phone"),
        ("E-mail", "email"),
        ("Почта", "email"),
        ("Сайт", "website"),
        ("Website", "website"),
        ("Город", "city"),
        ("Адрес", "address"),
        ("ДР", "birthday"),
        ("День  рождения", "birthday"),
        ("Birthday", "birthday"),
        ("Источник", "source"),
        ("Сегмент", "segment"),
        ("Теги", "tags"),
        ("Ответственный", "manager"),
        ("Менеджер", "manager"),
        ("Следующий звонок", "next_call"),
        ("Следующий контакт", "next_call"),
        ("Next call", "next_call"),
        ("Температура", "temperature"),
        ("Потенциал", "potential"),
        ("Согласие", "consent"),
        ("Примечание", "note"),
        ("Комментарий", "note"),
        ("Коментарий", "note"),  # a typo
        ("Телефн", "phone"),  # another
        ("Статус", None),
        ("Foo", None),
        ("", None),
    ],
)
def test_headers_are_guessed_in_russian_and_english(header: str, field: str | None):
    assert guess_field(header) == field


def test_the_mapping_takes_several_phone_columns_and_one_of_anything_else():
    mapping = guess_mapping(["Название", "Телефон", "Моб.", "Email", "E-mail", "Клиент"])
    assert mapping == ["name", "phone", "phone", "email", "", ""]
    assert mapping_problem(mapping) is None
    assert mapping_problem(["", "phone"]) == "import_name_unmapped"
    assert mapping_problem(["name", "city", "city"]) == "import_field_twice"
    assert mapping_problem(["name", "password"]) == "import_expired"
