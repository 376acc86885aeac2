"""The Mini App's card form: each field's typed value read with the chat's rules (`/add`'s for
text, email, phones, dates, money and consent; the temperature and stage words) and its error
codes, so the form and the commands refuse the same input with the same sentence."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.errors import ErrorCode
from bot.fields import FIELDS_BY_NAME, ClientField, Kind
from bot.parsing.errors import ParseError
from bot.parsing.names import clean_name
from bot.parsing.new_client import TEMPERATURE_WORDS, clean_tag, read_field
from storage.enums import Stage
from storage.types import MAX_ROW_ID

# Never changed through the form: the id and the timestamps are the system's; the next contact
# has its own endpoint (the date picker); notes are added, not edited.
READ_ONLY = frozenset({"id", "last_contact_at", "created_at", "next_call", "note"})
# Fields whose value is a list of strings.
MULTIPLE = frozenset({Kind.PHONES, Kind.TAGS})
# More phones or tags than this on one card is a forged request, not a client.
MAX_ITEMS = 20


class FormError(ValueError):
    """A value the form could not have sent (wrong type, unknown field): `field` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass
class CardChanges:
    """What a save changes, read: column values by field name, and the list fields."""

    columns: dict[str, Any] = field(default_factory=dict)
    phones: list[str] | None = None
    tags: list[str] | None = None
    manager_id: int | None = None

    def __bool__(self) -> bool:
        return (
            bool(self.columns)
            or self.phones is not None
            or self.tags is not None
            or (self.manager_id is not None)
        )


def editable(f: ClientField) -> bool:
    return f.name not in READ_ONLY


def read_changes(values: object, *, max_amount: Decimal, max_tag_chars: int) -> CardChanges:
    """The form's `values`; ParseError (with `field` among its params) for a value the command
    would refuse, FormError for one no form sends."""
    if not isinstance(values, dict) or not values:
        raise FormError("values")
    changes = CardChanges()
    for name, raw in values.items():
        f = FIELDS_BY_NAME.get(name) if isinstance(name, str) else None
        if f is None or not editable(f):
            raise FormError(str(name)[:40])
        try:
            _read(changes, f, raw, max_amount=max_amount, max_tag_chars=max_tag_chars)
        except ParseError as exc:
            exc.params.setdefault("field", f.name)
            raise
    return changes


def _text(f: ClientField, raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise FormError(f.name)
    return str(raw).strip()


def _read(
    changes: CardChanges, f: ClientField, raw: object, *, max_amount: Decimal, max_tag_chars: int
) -> None:
    if f.kind in MULTIPLE:
        if raw is None:
            raw = []
        if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
            raise FormError(f.name)
        items = [_text(f, item) for item in raw]
        items = [item for item in items if item]
        if f.kind is Kind.PHONES:
            changes.phones = [read_field("phone", item, max_amount=max_amount) for item in items]
        else:
            tags = [clean_tag(item.lstrip("#"), max_tag_chars) for item in items]
            changes.tags = list(dict.fromkeys(tag for tag in tags if tag))
        return
    if f.kind is Kind.MANAGER:
        # A member id is an int4 row id: a larger JSON integer would overflow the driver.
        if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_ROW_ID:
            raise FormError(f.name)
        changes.manager_id = raw
        return
    text = _text(f, raw)
    if f.kind is Kind.NAME:
        name = clean_name(text)
        if not name:
            raise ParseError(ErrorCode.NAME_MISSING)
        changes.columns[f.name] = name
    elif f.kind is Kind.TEMPERATURE:
        temperature = TEMPERATURE_WORDS.get(text.casefold())
        if temperature is None:
            raise FormError(f.name)
        changes.columns[f.name] = temperature
    elif f.kind is Kind.STAGE:
        if text not in Stage.__members__.values():
            raise FormError(f.name)
        changes.columns[f.name] = Stage(text)
    elif f.kind is Kind.CONSENT:
        if not text:
            raise ParseError(ErrorCode.CONSENT_USAGE)
        changes.columns[f.name] = read_field(f.name, text, max_amount=max_amount)
    elif not text:
        changes.columns[f.name] = None  # cleared
    elif f.kind in (Kind.TEXT, Kind.PERSON, Kind.URL, Kind.EMAIL, Kind.DATE, Kind.MONEY):
        if f.add_keys or f.kind is not Kind.DATE:
            changes.columns[f.name] = _column(f, text, max_amount)
        else:
            # A date other than the birthday (the first deal): the birthday's formats, and
            # the general "could not understand the date" when none fits.
            try:
                changes.columns[f.name] = read_field("birthday", text, max_amount=max_amount)
            except ParseError:
                raise ParseError(ErrorCode.DATE_INVALID) from None
    else:
        raise FormError(f.name)


def _column(f: ClientField, text: str, max_amount: Decimal) -> Any:
    if f.add_keys:
        return read_field(f.name, text, max_amount=max_amount)
    if f.kind is Kind.PERSON:
        return clean_name(text) or None
    return text
