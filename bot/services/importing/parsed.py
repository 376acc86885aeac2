"""The rows of a file read at preview, kept on disk until «Import» writes them.

A file is parsed once: the worker process that reads it for the preview writes every data row
here, and the import reads them back in small chunks (each a millisecond or two of the event
loop). The file is keyed by the import's one-time token, so a restart between the preview and
«Import» finds it again (the mapping itself is in the conversation state). It goes after the
import or cancel; one the owner never answered is removed after `parsed_keep_hours`. Another
instance (or a wiped folder) simply does not find it, and the file is downloaded and read again.

Pickle is safe here: these files are written by our own worker from parsed cell values, in a
folder of ours; no byte of them comes from the user as pickle.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK_ROWS = 500
_FORMAT = 1
_TOKEN = re.compile(r"[0-9a-f]{1,32}")
_SUFFIX = ".rows"

Row = tuple[int, list[Any]]


def parsed_path(directory: Path, team_id: int, member_id: int, token: str) -> Path:
    """One owner's one import; the token is checked so that it can never name another path."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("bad import token")
    return directory / f"{int(team_id)}-{int(member_id)}-{token}{_SUFFIX}"


def temporary_path(path: Path, pid: int) -> Path:
    """Where the worker with this process id writes `path` before it is complete."""
    return path.with_suffix(f".tmp{pid}")


class RowsWriter:
    """Writes rows in chunks to a temporary name; `commit()` gives the file its real name, so
    a reader never sees half a file."""

    def __init__(self, path: Path, headers: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._tmp = temporary_path(path, os.getpid())
        self._file = self._tmp.open("wb")
        self._chunk: list[Row] = []
        pickle.dump({"format": _FORMAT, "headers": headers}, self._file, pickle.HIGHEST_PROTOCOL)

    def add(self, number: int, cells: list[Any]) -> None:
        self._chunk.append((number, cells))
        if len(self._chunk) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            pickle.dump(self._chunk, self._file, pickle.HIGHEST_PROTOCOL)
            self._chunk = []

    def commit(self) -> None:
        self._flush()
        self._file.close()
        os.replace(self._tmp, self._path)

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def read_chunks(path: Path) -> Iterator[list[Row]]:
    """The rows in chunks of `CHUNK_ROWS`; FileNotFoundError if the file is gone."""
    with path.open("rb") as source:
        header = pickle.load(source)
        if header.get("format") != _FORMAT:
            raise FileNotFoundError(path)
        while True:
            try:
                yield pickle.load(source)
            except EOFError:
                return


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def prune(directory: Path, keep_seconds: float) -> int:
    """Files (and temporaries a killed worker left) older than `keep_seconds`; how many went."""
    if not directory.is_dir():
        return 0
    cutoff = time.time() - keep_seconds
    removed = 0
    for entry in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            ours = ".rows" in entry.name or ".tmp" in entry.name or entry.suffix == ".upload"
            if ours and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    return removed
