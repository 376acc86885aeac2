"""One spreadsheet cell turned into a card value, or a reason it cannot be.

Cells arrive as openpyxl gives them (text, int, float, datetime) or as CSV text. A cell that is
wrong raises `BadValueError` with a stable reason code; the importer reports it with row and column.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from bot.parsing.amounts import parse_amount
from bot.parsing.dates import month_number
from bot.parsing.errors import ParseError
from bot.parsing.new_client import TEMPERATURE_WORDS, clean_tag, is_email, is_phone
from bot.services.importing.reader import Cell
from bot.services.tabular import FORMULA_TRIGGERS

# Excel counts days from 1899-12-30 (its fictional 1900-02-29 included); dates between 1900
# and 2100 are serials in this range.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_RANGE = (1, 73051)
_DATE_PATTERNS = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y.%m.%d")
_NAMED_MONTH = re.compile(r"^(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})(?:\s*г\.?)?$")
_PHONE_SPLIT = re.compile(r"[,;/\n]+")
_TAG_SPLIT = re.compile(r"[,;#\s]+")
_CONSENT = {
    "yes": "yes",
    "y": "yes",
    "да": "yes",
    "д": "yes",
    "есть": "yes",
    "+": "yes",
    "1": "yes",
    "true": "yes",
    "согласен": "yes",
    "согласна": "yes",
    "получено": "yes",
    "no": "no",
    "n": "no",
    "нет": "no",
    "н": "no",
    "-": "no",
    "0": "no",
    "false": "no",
    "отказ": "no",
    "не согласен": "no",
    "unknown": "unknown",
    "неизвестно": "unknown",
    "?": "unknown",
}


class BadValueError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def text(cell: Cell) -> str | None:
    """The cell as trimmed text, None when empty. Whole-number floats lose their `.0` (a phone
    typed into Excel as a number comes back as 79991234567.0)."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, float) and cell.is_integer():
        value = str(int(cell))
    elif isinstance(cell, datetime):
        value = cell.date().isoformat() if cell.time() == datetime.min.time() else str(cell)
    elif isinstance(cell, date):
        value = cell.isoformat()
    else:
        value = str(cell)
    value = value.strip()
    # Our own export neutralises formula-like text with an apostrophe; read it back as typed.
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_TRIGGERS:
        value = value[1:]
    return value or None


def phones(cell: Cell) -> list[tuple[str, str]]:
    """(as written, digits) of every phone in the cell; several may share one cell."""
    from bot.services.matching import phone_digits

    raw = text(cell)
    if raw is None:
        return []
    found: list[tuple[str, str]] = []
    for part in _PHONE_SPLIT.split(raw):
        part = part.strip()
        if not part:
            continue
        if not is_phone(part):
            raise BadValueError("phone")
        found.append((part, phone_digits(part)))
    return found


def email(cell: Cell) -> str | None:
    raw = text(cell)
    if raw is None:
        return None
    if not is_email(raw):
        raise BadValueError("email")
    return raw


def day(cell: Cell) -> date | None:
    """A date written any way a Russian office writes one: a real Excel date, an Excel serial
    number, `15.03.1980`, `1980-03-15`, `15 марта 1980`."""
    if cell is None:
        return None
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return _serial(float(cell))
    raw = text(cell)
    if raw is None:
        return None
    for pattern in _DATE_PATTERNS:
        try:
            return datetime.strptime(raw.split(" ")[0] if ":" in raw else raw, pattern).date()
        except ValueError:
            continue
    named = _NAMED_MONTH.match(raw.casefold())
    if named is not None:
        month = month_number(named[2])
        if month is not None:
            try:
                return date(int(named[3]), month, int(named[1]))
            except ValueError as exc:
                raise BadValueError("date") from exc
    if raw.replace(".", "", 1).isdigit():
        return _serial(float(raw))
    raise BadValueError("date")


def _serial(value: float) -> date:
    if not _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
        raise BadValueError("date")
    return _EXCEL_EPOCH + timedelta(days=int(value))


def temperature(cell: Cell) -> str | None:
    raw = text(cell)
    if raw is None:
        return None
    found = TEMPERATURE_WORDS.get(raw.casefold())
    if found is None:
        raise BadValueError("temperature")
    return found


def potential(cell: Cell, max_amount: Decimal) -> Decimal | None:
    if cell is None:
        return None
    try:
        if isinstance(cell, int | float) and not isinstance(cell, bool):
            value = Decimal(str(cell)).quantize(Decimal("0.01"))
            if value < 0 or value > max_amount:
                raise BadValueError("amount")
            return value
        raw = text(cell)
        return None if raw is None else parse_amount(raw, max_amount=max_amount)
    except (ParseError, InvalidOperation) as exc:
        raise BadValueError("amount") from exc


def consent(cell: Cell) -> str:
    raw = text(cell)
    if raw is None:
        return "unknown"
    found = _CONSENT.get(raw.casefold())
    if found is None:
        raise BadValueError("consent")
    return found


def tags(cell: Cell, max_chars: int) -> list[str]:
    raw = text(cell)
    if raw is None:
        return []
    cleaned = (clean_tag(word, max_chars) for word in _TAG_SPLIT.split(raw))
    return list(dict.fromkeys(tag for tag in cleaned if tag))
