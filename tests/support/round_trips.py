"""PostgreSQL round trips counted at asyncpg's protocol: every exchange with the server (a
prepare, a bind-and-execute, a simple query such as BEGIN or COMMIT, a closed statement),
statements run below SQLAlchemy (storage/hot.py) included. bench/round_trips.py and the tests
of the lean update path use it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# asyncpg's protocol methods that exchange messages with the server and wait for its answer.
_EXCHANGES = ("prepare", "bind_execute", "bind_execute_many", "bind", "execute", "query")
CLOSE = "close_statement"


class Log:
    """Each exchange: its kind, the start of its SQL and how long it was awaited (ms)."""

    def __init__(self) -> None:
        self.entries: list[list[Any]] = []

    def add(self, kind: str, sql: str) -> list[Any]:
        entry = [kind, " ".join(sql.split()), 0.0]
        self.entries.append(entry)
        return entry

    async def timed(self, entry: list[Any], awaitable: Any) -> Any:
        started = time.perf_counter()
        try:
            return await awaitable
        finally:
            entry[2] = (time.perf_counter() - started) * 1000

    @contextmanager
    def window(self) -> Iterator[list[list[Any]]]:
        start = len(self.entries)
        taken: list[list[Any]] = []
        try:
            yield taken
        finally:
            taken.extend(self.entries[start:])


class CountingProtocol:
    """Stands in for an asyncpg connection's protocol and logs each exchange."""

    def __init__(self, inner: Any, log: Log) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in _EXCHANGES and name != CLOSE:
            return attribute
        log = self._log

        def call(*args: Any, **kwargs: Any) -> Any:
            sql = ""
            if name in ("prepare",):
                sql = args[1] if len(args) > 1 else kwargs.get("query", "")
            elif name == "query":
                sql = args[0]
            else:
                state = args[0] if args else kwargs.get("state")
                sql = getattr(state, "query", "") or ""
            entry = log.add(name, str(sql))
            return log.timed(entry, attribute(*args, **kwargs))

        return call


def instrument(engine: AsyncEngine, log: Log) -> None:
    """Log the exchanges of every connection `engine` opens from now on."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        raw = dbapi_connection._connection
        raw._protocol = CountingProtocol(raw._protocol, log)
