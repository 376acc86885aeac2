"""A streaming XLSX cell reader on expat, for the one thing an import needs: the values of the
first visible sheet, row by row.

openpyxl's read-only mode builds an object per cell in pure Python: a 50,000-row sheet took 35 s
of the import's 60 s budget on a busy machine. Expat parses in C and calls back only for the few
elements that matter (row, c, v, t), several times faster. Everything openpyxl would do with
the values is kept: shared and inline strings, numbers, booleans, and numbers in a date format
become datetimes (the workbook's 1900 or 1904 calendar). Anything unexpected in the package
structure raises `UnsupportedLayoutError`, and the caller falls back to openpyxl.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any, BinaryIO
from xml.etree import ElementTree
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

_CHUNK = 1 << 16
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class UnsupportedLayoutError(Exception):
    """The package is not laid out as this reader expects; openpyxl may still read it."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _column_index(ref: str) -> int:
    """ "B7" -> 1."""
    return _letters_index(ref.rstrip("0123456789"))


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

    def __init__(self, archive: zipfile.ZipFile) -> None:
        try:
            self._archive = archive
            workbook_path = self._office_document()
            workbook = ElementTree.fromstring(archive.read(workbook_path))
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

    def _office_document(self) -> str:
        rels = ElementTree.fromstring(self._archive.read("_rels/.rels"))
        for rel in rels:
            if rel.get("Type", "").endswith("/officeDocument"):
                return rel.get("Target", "").lstrip("/")
        raise KeyError("officeDocument")

    def _sheet_path(self, workbook: ElementTree.Element, workbook_path: str) -> str:
        base = posixpath.dirname(workbook_path)
        rels_path = posixpath.join(base, "_rels", posixpath.basename(workbook_path) + ".rels")
        targets = {
            rel.get("Id"): rel.get("Target", "")
            for rel in ElementTree.fromstring(self._archive.read(rels_path))
        }
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
            source = self._archive.open(path)
        except KeyError:
            return []
        strings: list[str] = []
        parts: list[str] = []
        state = {"t": False, "phonetic": 0}

        def start(name: str, attrs: dict[str, str]) -> None:
            local = name.rsplit(":", 1)[-1]
            if local == "si":
                parts.clear()
            elif local == "t" and not state["phonetic"]:
                state["t"] = True
            elif local == "rPh":  # phonetic hints of East Asian text are not the text
                state["phonetic"] += 1

        def end(name: str) -> None:
            local = name.rsplit(":", 1)[-1]
            if local == "si":
                strings.append("".join(parts))
            elif local == "t":
                state["t"] = False
            elif local == "rPh":
                state["phonetic"] -= 1

        def text(data: str) -> None:
            if state["t"]:
                parts.append(data)

        with source:
            _parse(source, start, end, text)
        return strings

    def _dates(self, path: str) -> frozenset[int]:
        try:
            styles = ElementTree.fromstring(self._archive.read(path))
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
        cell: dict[str, Any] = {"row": 0, "cells": [], "col": 0, "t": "n", "s": 0, "on": False}
        buffer: list[str] = []

        locals_: dict[str, str] = {}

        def start(name: str, attrs: dict[str, str]) -> None:
            local = locals_.get(name) or locals_.setdefault(name, name.rsplit(":", 1)[-1])
            if local == "c":
                ref = attrs.get("r")
                cell["col"] = _column_index(ref) if ref else len(cell["cells"])
                cell["t"] = attrs.get("t", "n")
                cell["s"] = int(attrs.get("s", "0"))
                buffer.clear()
            elif local in ("v", "t"):
                cell["on"] = True
            elif local == "row":
                cell["row"] = int(attrs["r"]) if "r" in attrs else cell["row"] + 1
                cell["cells"] = []
            elif local == "rPh":
                cell["on"] = False

        def end(name: str) -> None:
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
                buffer.append(data)

        with self._archive.open(self.sheet_path) as source:
            parser = _parser(start, end, text)
            while chunk := source.read(_CHUNK):
                parser.Parse(chunk, False)
                yield from done
                done.clear()
            parser.Parse(b"", True)
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


def _parser(start: Any, end: Any, text: Any) -> Any:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    return parser


def _parse(source: BinaryIO, start: Any, end: Any, text: Any) -> None:
    parser = _parser(start, end, text)
    while chunk := source.read(_CHUNK):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
