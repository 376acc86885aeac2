"""Columns in the order of a DTO's fields, for statements built once and rows read by position.

The hot path (an update's member, client and follow-up reads and writes) uses Core statements
built at import with bind parameters: SQLAlchemy then finds their compiled form in its cache
without rebuilding the expression each time, and no ORM object (identity map, flush) is involved.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

from sqlalchemy import Column, CursorResult, Result, Table


def columns_for(table: Table, dto: type[Any]) -> tuple[Column[Any], ...]:
    """The table's columns named like the DTO's fields, in their order: `dto(*row)` builds it."""
    return tuple(table.c[field.name] for field in fields(dto))


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed. The session's `execute` is typed to return a Result for
    every statement; what a data-changing statement returns is its CursorResult subclass, which
    has the count."""
    return cast("CursorResult[Any]", result).rowcount or 0
