"""Hostile .xlsx files for the tests and bench/loop_stall.py: small on disk, huge unpacked.

Each is a real zip with honest headers. Writing a gigabyte through zipfile's deflate takes
4 s per 256 MB here, so the big part is built from one compressed megabyte repeated: a block
ended with a full flush does not refer back, so copies of it make a valid deflate stream
(the CRC is computed over the real content, chunk by chunk). Nothing large is held in memory.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from functools import cache

MB = 1024 * 1024
_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Clients" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>Название</t></is></c></row>'


class _Part:
    """`head` + `body` repeated `times` + `tail`, deflated without holding it whole."""

    def __init__(self, head: bytes, body: bytes = b"", times: int = 0, tail: bytes = b"") -> None:
        self.size = len(head) + len(body) * times + len(tail)
        crc = zlib.crc32(head)
        for _ in range(times):
            crc = zlib.crc32(body, crc)
        self.crc = zlib.crc32(tail, crc)
        packed = [_block(head)]
        if times:
            packed.append(_block(body) * times)
        end = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed.append(end.compress(tail) + end.flush(zlib.Z_FINISH))
        self.data = b"".join(packed)


def _block(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def _zip(parts: dict[str, _Part]) -> bytes:
    out, directory = bytearray(), bytearray()
    for name, part in parts.items():
        encoded = name.encode()
        offset = len(out)
        fields = (20, 0, 8, 0, 0x21, part.crc, len(part.data), part.size, len(encoded), 0)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + part.data
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset)
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory),
                       start, 0)  # fmt: skip
    return bytes(out)


def _xlsx(sheet: _Part, shared: _Part | None = None) -> bytes:
    parts = {
        "_rels/.rels": _Part(_RELS.encode()),
        "xl/workbook.xml": _Part(_WORKBOOK.encode()),
        "xl/_rels/workbook.xml.rels": _Part(_WORKBOOK_RELS.encode()),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    return _zip(parts)


def _repeat(unit: bytes, size: int) -> tuple[bytes, int]:
    """A megabyte of `unit` and how many such megabytes make about `size` bytes."""
    body = unit * (MB // len(unit))
    return body, max(size // len(body), 1)


@cache
def empty_rows(size: int = 256 * MB) -> bytes:
    """A header and then `size` bytes of empty `<row/>` elements."""
    body, times = _repeat(b"<row/>", size)
    head = f"{_SHEET}<sheetData>{_HEADER_ROW}".encode()
    return _xlsx(_Part(head, body, times, b"</sheetData></worksheet>"))


@cache
def one_cell(size: int = 1024 * MB) -> bytes:
    """One inline-string cell of `size` characters."""
    body, times = _repeat(b"x" * 1024, size)
    head = f'{_SHEET}<sheetData>{_HEADER_ROW}<row r="2"><c r="B2" t="inlineStr"><is><t>'
    tail = b"</t></is></c></row></sheetData></worksheet>"
    return _xlsx(_Part(head.encode(), body, times, tail))


@cache
def shared_strings(size: int = 1024 * MB) -> bytes:
    """`size` bytes of shared strings, a thousand characters each; the sheet uses the first."""
    sheet = f'{_SHEET}<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
    body, times = _repeat(b"<si><t>" + b"y" * 1000 + b"</t></si>", size)
    shared = _Part(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">',
                   body, times, b"</sst>")  # fmt: skip
    return _xlsx(_Part((sheet + "</worksheet>").encode()), shared)


@cache
def deep_nesting(size: int = 64 * MB) -> bytes:
    """Elements opened inside one another, `size` bytes of them, never closed."""
    body, times = _repeat(b"<is>", size)
    head = f'{_SHEET}<sheetData>{_HEADER_ROW}<row r="2"><c r="A2" t="inlineStr">'
    return _xlsx(_Part(head.encode(), body, times, b""))


@cache
def long_element(size: int = 256 * MB) -> bytes:
    """One start tag whose attribute value is `size` bytes long."""
    body, times = _repeat(b"a" * 1024, size)
    head = f'{_SHEET}<sheetData>{_HEADER_ROW}<row r="2" spans="'
    return _xlsx(_Part(head.encode(), body, times, b'"/></sheetData></worksheet>'))


# name: (builder, the limit refusing it by default, the one refusing it while streaming when
# the size limits are lifted)
BOMBS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "256 MB of empty rows": (empty_rows, "import_part_too_large", "import_sheet_rows"),
    "one 1 GB cell": (one_cell, "import_part_too_large", "import_cell_too_long"),
    "1 GB of shared strings": (shared_strings, "import_part_too_large", "import_shared_chars"),
    "deeply nested XML": (deep_nesting, "import_compression", "import_xml_depth"),
    "a 256 MB XML tag": (long_element, "import_part_too_large", "import_xml_token"),
}
# What lets a bomb past the zip headers' check, so that the streaming checks are what stop it.
NO_SIZE_LIMITS = {"max_unpacked_mb": 4096, "max_part_mb": 4096, "max_ratio": 10**9}
