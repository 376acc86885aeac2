"""A streaming XLSX cell reader on expat, for the one thing an import needs: the values of the
first visible sheet, row by row.

openpyxl's read-only mode builds an object per cell in pure Python: a 50,000-row sheet took 35 s
of the import's 60 s budget on a busy machine. Expat parses in C and calls back only for the few
elements that matter (row, c, v, t), several times faster. Everything openpyxl would do with
the values is kept: shared and inline strings, numbers, booleans, and numbers in a date format
become datetimes (the workbook's 1900 or 1904 calendar). Anything unexpected in the package
structure raises `UnsupportedLayoutError`, and the caller falls back to openpyxl.

Every part is read through a `FileGuard`: sizes, the number and length of shared strings and
cells, rows, columns, XML depth and tag length are checked as the bytes stream in.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any
from xml.etree import ElementTree

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from bot.errors import ErrorCode
from bot.services.errors import DomainError
from bot.services.importing.guard import CHUNK, FileGuard

_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class UnsupportedLayoutError(Exception):
    """The package is not laid out as this reader expects; openpyxl may still read it."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _column_index(ref: str) -> int:
    """ "B7" -> 1. More than three letters is past Excel's last column (XFD)."""
    letters = ref.rstrip("0123456789")
    if len(letters) > 3:
        return 26**3
    return _letters_index(letters)


@cache
def _letters_index(letters: str) -> int:
    if not letters or not letters.isascii() or not letters.isupper():
        raise ValueError(letters)
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


class XlsxSheet:
    """The first sheet of the workbook (the active one when the file says which)."""

    def __init__(self, archive: zipfile.ZipFile, guard: FileGuard) -> None:
        self._guard = guard
        try:
            self._archive = archive
            workbook_path = self._office_document()
            workbook = self._tree(workbook_path)
            self.sheet_path = self._sheet_path(workbook, workbook_path)
            self._epoch = CALENDAR_WINDOWS_1900
            for element in workbook.iter():
                if _local(element.tag) == "workbookPr" and element.get("date1904") in ("1", "true"):
                    self._epoch = CALENDAR_MAC_1904
            base = posixpath.dirname(workbook_path)
            self._strings = self._shared_strings(posixpath.join(base, "sharedStrings.xml"))
            self._date_styles = self._dates(posixpath.join(base, "styles.xml"))
        except (KeyError, ValueError, IndexError, ElementTree.ParseError) as exc:
            raise UnsupportedLayoutError(str(exc)) from exc

    # -- package structure --------------------------------------------------------------------

    def _tree(self, path: str) -> ElementTree.Element:
        return self._guard.tree(self._guard.read(self._archive, path))

    def _office_document(self) -> str:
        rels = self._tree("_rels/.rels")
        for rel in rels:
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
        raise KeyError("officeDocument")

    def _sheet_path(self, workbook: ElementTree.Element, workbook_path: str) -> str:
        base = posixpath.dirname(workbook_path)
        rels_path = posixpath.join(base, "_rels", posixpath.basename(workbook_path) + ".rels")
        targets = {rel.get("Id"): rel.get("Target", "") for rel in self._tree(rels_path)}
        sheets = [e for e in workbook.iter() if _local(e.tag) == "sheet"]
        active = 0
        for element in workbook.iter():
            if _local(element.tag) == "workbookView":
                active = int(element.get("activeTab", "0"))
                break
        sheet = sheets[active if active < len(sheets) else 0]
        target = targets[sheet.get(_REL_ID)]
        if target.startswith("/"):
            return target.lstrip("/")
        return posixpath.normpath(posixpath.join(base, target))

    def _shared_strings(self, path: str) -> list[str]:
        try:
            source = self._guard.open(self._archive, path)
        except KeyError:
            return []
        limits = self._guard.limits
        strings: list[str] = []
        parts: list[str] = []
        state = {"t": False, "phonetic": 0, "depth": 0, "chars": 0, "all": 0}

        def start(name: str, attrs: dict[str, str]) -> None:
            state["depth"] += 1
            if state["depth"] > limits.max_xml_depth:
                raise DomainError(ErrorCode.IMPORT_XML_DEPTH, limit=limits.max_xml_depth)
            local = name.rsplit(":", 1)[-1]
            if local == "si":
                parts.clear()
                state["chars"] = 0
            elif local == "t" and not state["phonetic"]:
                state["t"] = True
            elif local == "rPh":  # phonetic hints of East Asian text are not the text
                state["phonetic"] += 1

        def end(name: str) -> None:
            state["depth"] -= 1
            local = name.rsplit(":", 1)[-1]
            if local == "si":
                if len(strings) >= limits.max_shared_strings:
                    raise DomainError(
                        ErrorCode.IMPORT_SHARED_STRINGS, limit=limits.max_shared_strings
                    )
                strings.append("".join(parts))
            elif local == "t":
                state["t"] = False
            elif local == "rPh":
                state["phonetic"] -= 1

        def text(data: str) -> None:
            if state["t"]:
                state["chars"] += len(data)
                state["all"] += len(data)
                if state["chars"] > limits.max_cell_chars:
                    raise DomainError(ErrorCode.IMPORT_SHARED_TOO_LONG, limit=limits.max_cell_chars)
                if state["all"] > limits.max_shared_chars:
                    raise DomainError(ErrorCode.IMPORT_SHARED_CHARS, limit=limits.max_shared_chars)
                parts.append(data)

        with source:
            parser = self._guard.parser(start, end, text)
            while chunk := source.read(CHUNK):
                parser.feed(chunk)
            parser.close()
        return strings

    def _dates(self, path: str) -> frozenset[int]:
        try:
            styles = self._tree(path)
        except KeyError:
            return frozenset()
        formats = dict(BUILTIN_FORMATS)
        for element in styles.iter():
            if _local(element.tag) == "numFmt":
                formats[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
        for element in styles:
            if _local(element.tag) == "cellXfs":
                return frozenset(
                    index
                    for index, xf in enumerate(element)
                    if is_date_format(formats.get(int(xf.get("numFmtId", "0")), ""))
                )
        return frozenset()

    # -- cells ---------------------------------------------------------------------------------

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cell values) of every row present in the sheet, in order."""
        done: list[tuple[int, list[Any]]] = []
        strings, dates, epoch = self._strings, self._date_styles, self._epoch
        limits = self._guard.limits
        max_depth, max_cols, max_chars = (
            limits.max_xml_depth,
            limits.max_columns,
            limits.max_cell_chars,
        )
        max_rows = limits.max_sheet_rows
        cell: dict[str, Any] = {"row": 0, "cells": [], "col": 0, "t": "n", "s": 0, "on": False}
        # Nesting depth, rows seen, characters of the current cell.
        counts = {"depth": 0, "rows": 0, "chars": 0}
        buffer: list[str] = []

        locals_: dict[str, str] = {}

        def start(name: str, attrs: dict[str, str]) -> None:
            counts["depth"] += 1
            if counts["depth"] > max_depth:
                raise DomainError(ErrorCode.IMPORT_XML_DEPTH, limit=max_depth)
            local = locals_.get(name) or locals_.setdefault(name, name.rsplit(":", 1)[-1])
            if local == "c":
                ref = attrs.get("r")
                col = _column_index(ref) if ref else len(cell["cells"])
                if col >= max_cols:
                    raise DomainError(ErrorCode.IMPORT_TOO_MANY_COLUMNS, limit=max_cols)
                cell["col"] = col
                cell["t"] = attrs.get("t", "n")
                cell["s"] = int(attrs.get("s", "0"))
                counts["chars"] = 0
                buffer.clear()
            elif local in ("v", "t"):
                cell["on"] = True
            elif local == "row":
                counts["rows"] += 1
                if counts["rows"] > max_rows:
                    raise DomainError(ErrorCode.IMPORT_SHEET_ROWS, limit=max_rows)
                cell["row"] = int(attrs["r"]) if "r" in attrs else cell["row"] + 1
                cell["cells"] = []
            elif local == "rPh":
                cell["on"] = False

        def end(name: str) -> None:
            counts["depth"] -= 1
            local = locals_.get(name) or locals_.setdefault(name, name.rsplit(":", 1)[-1])
            if local in ("v", "t"):
                cell["on"] = False
            elif local == "c":
                cells: list[Any] = cell["cells"]
                index = cell["col"]
                if index >= len(cells):
                    cells.extend([None] * (index + 1 - len(cells)))
                cells[index] = _value(cell["t"], cell["s"], "".join(buffer), strings, dates, epoch)
            elif local == "row":
                done.append((cell["row"], cell["cells"]))

        def text(data: str) -> None:
            if cell["on"]:
                counts["chars"] += len(data)
                if counts["chars"] > max_chars:
                    raise DomainError(
                        ErrorCode.IMPORT_CELL_TOO_LONG,
                        row=cell["row"],
                        column=get_column_letter(cell["col"] + 1),
                        limit=max_chars,
                    )
                buffer.append(data)

        with self._guard.open(self._archive, self.sheet_path) as source:
            parser = self._guard.parser(start, end, text)
            while chunk := source.read(CHUNK):
                parser.feed(chunk)
                yield from done
                done.clear()
            parser.close()
            yield from done


def _value(
    kind: str, style: int, raw: str, strings: list[str], dates: frozenset[int], epoch: datetime
) -> Any:
    if kind == "s":
        return strings[int(raw)] if raw else None
    if kind in ("inlineStr", "str", "e"):
        return raw
    if kind == "b":
        return raw == "1" if raw else None
    if kind == "d":
        return datetime.fromisoformat(raw) if raw else None
    if not raw:
        return None
    number: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
    if style in dates:
        return from_excel(number, epoch)
    return number
