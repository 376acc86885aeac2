"""Columns in the order of a DTO's fields, for statements built once and rows read by position.

The hot path (an update's member, client and follow-up reads and writes) uses Core statements
built at import with bind parameters: SQLAlchemy then finds their compiled form in its cache
without rebuilding the expression each time, and no ORM object (identity map, flush) is involved.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import Column, Table


def columns_for(table: Table, dto: type[Any]) -> tuple[Column[Any], ...]:
    """The table's columns named like the DTO's fields, in their order: `dto(*row)` builds it."""
    return tuple(table.c[field.name] for field in fields(dto))
