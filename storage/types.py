"""Column types that keep the two rules of the house on every dialect:
datetimes are UTC and aware, money is Decimal stored as integer minor units."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

CENTS = Decimal("0.01")
# Every `Integer` column (all primary keys among them) is int4 on PostgreSQL: an id above this
# cannot exist, and binding one fails in the driver (OverflowError) instead of finding nothing.
MAX_ROW_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite has no time zones; store naive UTC there and hand back aware UTC everywhere."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if value.tzinfo is UTC:  # asyncpg's, always: an export reads hundreds of thousands
            return value
        return value.astimezone(UTC)


class _ScaledDecimal(TypeDecorator[Decimal]):
    """A Decimal with two places stored as an integer of hundredths: exact on every dialect."""

    impl: type[TypeEngine[Any]] = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENTS)


class Money(_ScaledDecimal):
    """Decimal in Python, integer kopecks in the database."""

    cache_ok = True


class Percent(_ScaledDecimal):
    """A percentage with two decimals stored as integer basis points (30% -> 3000)."""

    impl = Integer
    cache_ok = True
