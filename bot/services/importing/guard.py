"""Bounds on what one imported file may unpack to, checked while it is read.

An .xlsx is a zip of XML: 400 KB can unpack to gigabytes of empty rows, one gigabyte-long cell
or a gigabyte of shared strings. Every bound here is checked as the bytes arrive, so a bomb is
refused after reading a little more than the limit, never after reading all of it. The zip's
headers are checked first (cheap, and they refuse an honest bomb at once), but not trusted:
the bytes are counted again while they are inflated. Each refusal is a `DomainError` whose
code says which limit was hit; the Telegram layer words it with what to do.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from bot.config import ImportFileSettings
from bot.errors import ErrorCode
from bot.services.errors import DomainError

MB = 1024 * 1024
CHUNK = 1 << 16
# Below this a part's compression ratio says nothing (a tiny part compresses any way it likes).
_RATIO_FROM_BYTES = MB


class FileGuard:
    """One file's budget: parts opened through it share the total it may unpack to."""

    def __init__(self, limits: ImportFileSettings) -> None:
        self.limits = limits
        self.unpacked = 0
        self._max_total = limits.max_unpacked_mb * MB
        self._max_part = limits.max_part_mb * MB

    # -- zip parts ----------------------------------------------------------------------------

    def check_headers(self, archive: zipfile.ZipFile, paths: list[str] | None = None) -> None:
        """What the zip's directory declares for the parts to be read (all when None)."""
        infos = archive.infolist() if paths is None else [archive.getinfo(p) for p in paths]
        total = 0
        for info in infos:
            self._check_part(info.file_size, info.compress_size)
            total += info.file_size
        if total > self._max_total:
            raise DomainError(
                ErrorCode.IMPORT_UNPACKED_TOO_LARGE, limit=self.limits.max_unpacked_mb
            )

    def _check_part(self, size: int, packed: int) -> None:
        if size > self._max_part:
            raise DomainError(ErrorCode.IMPORT_PART_TOO_LARGE, limit=self.limits.max_part_mb)
        if size > _RATIO_FROM_BYTES and size > self.limits.max_ratio * max(packed, 1):
            raise DomainError(ErrorCode.IMPORT_COMPRESSION, limit=self.limits.max_ratio)

    def open(self, archive: zipfile.ZipFile, path: str) -> CountedPart:
        info = archive.getinfo(path)
        self.check_headers(archive, [path])
        return CountedPart(self, archive.open(info), info.compress_size)

    def read(self, archive: zipfile.ZipFile, path: str) -> bytes:
        with self.open(archive, path) as part:
            chunks = []
            while chunk := part.read(CHUNK):
                chunks.append(chunk)
        return b"".join(chunks)

    def count(self, part_bytes: int, packed: int, added: int) -> None:
        """`added` more bytes inflated; the part has given `part_bytes` so far."""
        self.unpacked += added
        if self.unpacked > self._max_total:
            raise DomainError(
                ErrorCode.IMPORT_UNPACKED_TOO_LARGE, limit=self.limits.max_unpacked_mb
            )
        self._check_part(part_bytes, packed)

    # -- XML ----------------------------------------------------------------------------------

    def parser(
        self,
        start: Callable[[str, dict[str, str]], None],
        end: Callable[[str], None],
        text: Callable[[str], None],
    ) -> GuardedParser:
        return GuardedParser(self.limits, start, end, text)

    def tree(self, data: bytes) -> ElementTree.Element:
        """A small part (workbook, relationships, styles) as a tree, after the same checks a
        sheet gets: its size was bounded when it was read, its depth and tags are here."""
        depth = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            depth[0] += 1
            if depth[0] > self.limits.max_xml_depth:
                raise DomainError(ErrorCode.IMPORT_XML_DEPTH, limit=self.limits.max_xml_depth)

        def end(name: str) -> None:
            depth[0] -= 1

        parser = self.parser(start, end, lambda data: None)
        for offset in range(0, len(data), CHUNK):
            parser.feed(data[offset : offset + CHUNK])
        parser.close()
        return ElementTree.fromstring(data)


class CountedPart:
    """A zip member read through the guard: every inflated byte is counted against the limits."""

    def __init__(self, guard: FileGuard, source: Any, packed: int) -> None:
        self._guard, self._source, self._packed = guard, source, packed
        self.size = 0

    def read(self, n: int = CHUNK) -> bytes:
        chunk: bytes = self._source.read(n)
        self.size += len(chunk)
        self._guard.count(self.size, self._packed, len(chunk))
        return chunk

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> CountedPart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GuardedParser:
    """Expat, refusing a DTD (OOXML has none; entity tricks live there) and any stretch of
    input longer than the limit in which no element, text or end tag completes: expat holds
    an unfinished tag, attribute or comment in memory whole, so it is bounded here."""

    def __init__(
        self,
        limits: ImportFileSettings,
        start: Callable[[str, dict[str, str]], None],
        end: Callable[[str], None],
        text: Callable[[str], None],
    ) -> None:
        self._parser = expat.ParserCreate()
        self._parser.buffer_text = True
        self._parser.StartElementHandler = start
        self._parser.EndElementHandler = end
        self._parser.CharacterDataHandler = text
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._fed = 0
        self._max_token = limits.max_xml_token_kb * 1024
        self._token_kb = limits.max_xml_token_kb

    def _doctype(self, *args: object) -> None:
        raise DomainError(ErrorCode.IMPORT_NOT_SPREADSHEET)

    def feed(self, chunk: bytes) -> None:
        self._parser.Parse(chunk, False)
        self._fed += len(chunk)
        # Outside a callback expat reports where its last event began: everything fed since
        # is one token still being collected.
        if self._fed - self._parser.CurrentByteIndex > self._max_token:
            raise DomainError(ErrorCode.IMPORT_XML_TOKEN, limit=self._token_kb)

    def close(self) -> None:
        self._parser.Parse(b"", True)
