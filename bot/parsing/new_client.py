"""`/add Ivanov Petr, +7 999 123-45-67, Moscow, #vip, hot` and `key: value` parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from html.entities import html5
from typing import Any

from bot.errors import ErrorCode
from bot.fields import ADD_KEYS, Kind, client_field
from bot.parsing.amounts import parse_amount
from bot.parsing.errors import ParseError
from bot.parsing.names import clean_name
from bot.telegram_limits import CALLBACK_DATA_BYTES
from storage.enums import Consent

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(
    r"^(https?://|www\.)\S+$|^[\w-]+(\.[\w-]+)*\.(ru|com|рф|net|org|io|su|by|kz)(/\S*)?$", re.I
)
_PHONE = re.compile(r"^\+?[\d\s()\-.]{7,20}$")
# Not the `#` of a typed numeric entity (`&#59;`).
_TAG = re.compile(r"(?<!&)#([\w-]+)")
_SEPARATOR = re.compile(r"[,;\n]")
# An HTML entity just before a `;`: `&amp`, `&#59`, `&#x3b`.
_ENTITY_START = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31})$")

TEMPERATURE_WORDS = {
    "hot": "hot",
    "горячий": "hot",
    "горячая": "hot",
    "горячо": "hot",
    "warm": "warm",
    "теплый": "warm",
    "тёплый": "warm",
    "теплая": "warm",
    "тёплая": "warm",
    "cold": "cold",
    "холодный": "cold",
    "холодная": "cold",
}

_CONSENT_WORDS = {
    "yes": Consent.YES,
    "да": Consent.YES,
    "есть": Consent.YES,
    "no": Consent.NO,
    "нет": Consent.NO,
    "unknown": Consent.UNKNOWN,
    "неизвестно": Consent.UNKNOWN,
    "?": Consent.UNKNOWN,
}


def consent_word(word: str) -> Consent | None:
    """yes / no / unknown, in English or Russian."""
    return _CONSENT_WORDS.get(word.strip().casefold())


@dataclass
class NewClientInput:
    name: str
    phones: list[str] = field(default_factory=list)
    # Columns of the client by their names in bot/fields.py, as typed values (text, a date, a
    # Decimal, a Consent, a temperature).
    columns: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # Every `contact:` after the first: more people at the same client.
    extra_contacts: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def email(self) -> str | None:
        return self.columns.get("email")

    @property
    def city(self) -> str | None:
        return self.columns.get("city")


# Callback data holds a tag (`/list #tag` pages): what is left of it beside the rest of a
# ListPage button (`lp:g.`, the largest offset and part: under 24 bytes).
TAG_MAX_BYTES = CALLBACK_DATA_BYTES - 24


def clean_tag(word: str, max_chars: int) -> str:
    """A tag as stored and searched: word characters and dashes, case-folded, short enough in
    characters and in UTF-8 bytes."""
    tag = re.sub(r"[^\w-]", "", word.casefold())[:max_chars]
    while len(tag.encode()) > TAG_MAX_BYTES:
        tag = tag[:-1]
    return tag


def is_phone(text: str) -> bool:
    """7 to 15 digits (E.164 has at most 15) in the usual phone punctuation."""
    digits = sum(ch.isdigit() for ch in text)
    return bool(_PHONE.match(text.strip())) and 7 <= digits <= 15


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text.strip()))


def _parse_birthday(text: str) -> date:
    for pattern in ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise ParseError(ErrorCode.BIRTHDAY_INVALID, value=text)


def _ends_entity(text: str, position: int) -> bool:
    """Whether the `;` at `position` closes an HTML entity (`&amp;`, `&#59;`)."""
    found = _ENTITY_START.search(text, max(0, position - 40), position)
    if found is None:
        return False
    name = found.group(1)
    return name.startswith("#") or f"{name};" in html5


def _split_parts(args: str) -> list[str]:
    """The parts of `/add`: `,` `;` and new lines separate them, except a `;` that ends an HTML
    entity someone typed (`Tom &amp; Jerry`): that is part of the name, kept as typed."""
    parts: list[str] = []
    start = 0
    for separator in _SEPARATOR.finditer(args):
        if separator.group() == ";" and _ends_entity(args, separator.start()):
            continue
        parts.append(args[start : separator.start()])
        start = separator.end()
    parts.append(args[start:])
    return parts


def parse_new_client(args: str, *, max_amount: Decimal, max_tag_chars: int) -> NewClientInput:
    parts = [part.strip() for part in _split_parts(args) if part.strip()]
    if not parts:
        raise ParseError(ErrorCode.NAME_MISSING)
    tags = [tag for tag in (clean_tag(t, max_tag_chars) for t in _TAG.findall(args)) if tag]
    parts = [p for p in (_TAG.sub("", part).strip() for part in parts) if p]
    if not parts:
        raise ParseError(ErrorCode.NAME_MISSING)
    name = clean_name(parts[0])
    if not name:
        raise ParseError(ErrorCode.NAME_MISSING)
    result = NewClientInput(name=name, tags=tags)
    unlabelled: list[str] = []
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        target = ADD_KEYS.get(key.strip().casefold()) if sep else None
        if target:
            _assign(result, target, value.strip(), max_amount)
        elif part.casefold() in TEMPERATURE_WORDS:
            result.columns["temperature"] = TEMPERATURE_WORDS[part.casefold()]
        elif _EMAIL.match(part):
            result.columns["email"] = part
        elif is_phone(part):
            result.phones.append(part)
        elif _URL.match(part):
            result.columns["website"] = part
        else:
            unlabelled.append(part)
    # The first bare word after the name is almost always the city; anything else is a note.
    if unlabelled and result.city is None:
        result.columns["city"] = unlabelled.pop(0)
    if unlabelled:
        result.note = ", ".join(filter(None, [result.note, *unlabelled]))
    return result


def _assign(result: NewClientInput, target: str, value: str, max_amount: Decimal) -> None:
    """`key: value`, read as the field's kind (bot/fields.py) says."""
    kind = client_field(target).kind
    if kind is Kind.PERSON:
        value = clean_name(value)
    if not value:
        return
    if kind is Kind.PHONES:
        if not is_phone(value):
            raise ParseError(ErrorCode.PHONE_INVALID, value=value)
        result.phones.append(value)
    elif kind is Kind.NOTE:
        result.note = value
    elif kind is Kind.EMAIL and not _EMAIL.match(value):
        raise ParseError(ErrorCode.EMAIL_INVALID, value=value)
    elif kind is Kind.DATE:
        result.columns[target] = _parse_birthday(value)
    elif kind is Kind.MONEY:
        result.columns[target] = parse_amount(value, max_amount=max_amount)
    elif kind is Kind.CONSENT:
        consent = consent_word(value)
        if consent is None:
            raise ParseError(ErrorCode.CONSENT_USAGE)
        result.columns[target] = consent
    elif target == "contact_person" and target in result.columns:
        # A second `contact:`: another person at the same client.
        result.extra_contacts.append(value)
    else:
        result.columns[target] = value


def read_field(target: str, value: str, *, max_amount: Decimal) -> Any:
    """One `/add … key: value` part read as its field's kind, with `/add`'s checks and error
    codes: what the Mini App's card form reads each typed value with. None for an empty value;
    a phone comes back as typed."""
    scratch = NewClientInput(name="")
    _assign(scratch, target, value.strip(), max_amount)
    if scratch.phones:
        return scratch.phones[0]
    if scratch.note is not None:
        return scratch.note
    return scratch.columns.get(target)
