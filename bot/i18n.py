"""Gettext for handlers and jobs alike: the locale lives in a context variable, not in aiogram.

Handlers get it set by a middleware from the member's setting; jobs set it explicitly with
`use_locale` because there is no update to take it from.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.config import SUPPORTED_LANGUAGES

DOMAIN = "messages"
# An installed wheel carries the catalogues compiled (setup.py); a checkout has locales/ beside
# the packages, with the .po sources and the .mo files `make locales` compiles.
_PACKAGED = Path(__file__).resolve().parent / "locales"
_CHECKOUT = Path(__file__).resolve().parent.parent / "locales"
LOCALES_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT

_locale: ContextVar[str] = ContextVar("salesbot_locale", default=SUPPORTED_LANGUAGES[0])
log = logging.getLogger(__name__)


@cache
def _translations(language: str) -> NullTranslations:
    folder = LOCALES_DIR / language / "LC_MESSAGES"
    mo_path = folder / f"{DOMAIN}.mo"
    po_path = folder / f"{DOMAIN}.po"
    if mo_path.exists() and (
        not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        with mo_path.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if po_path.exists():
        # The install step compiles catalogues; compiling in memory keeps a fresh checkout working.
        log.info("compiling %s in memory (run `make locales` to build .mo files)", po_path)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return NullTranslations()


class MissingCataloguesError(RuntimeError):
    """A supported language has no catalogue: the bot would answer in untranslated English."""


def missing_catalogues() -> list[str]:
    """Supported languages with neither a compiled catalogue nor its source to compile."""
    missing = []
    for language in SUPPORTED_LANGUAGES:
        folder = LOCALES_DIR / language / "LC_MESSAGES"
        if not (folder / f"{DOMAIN}.mo").is_file() and not (folder / f"{DOMAIN}.po").is_file():
            missing.append(language)
    return missing


def require_catalogues() -> None:
    """At start-up: refuse to run rather than fall back to English silently."""
    missing = missing_catalogues()
    if missing:
        raise MissingCataloguesError(
            f"no translations for {', '.join(missing)}: {LOCALES_DIR} has no"
            f" <language>/LC_MESSAGES/{DOMAIN}.mo or .po. Build the package with its"
            " catalogues (pip wheel . compiles them) or run `make locales` in a checkout."
        )


def pick_language(*candidates: str | None, default: str) -> str:
    """First supported language among the candidates (member's choice, Telegram's), else default."""
    for candidate in candidates:
        if candidate:
            code = candidate.split("-")[0].split("_")[0].lower()
            if code in SUPPORTED_LANGUAGES:
                return code
    return default


def current_locale() -> str:
    return _locale.get()


def set_locale(language: str) -> None:
    _locale.set(language)


@contextmanager
def use_locale(language: str) -> Iterator[None]:
    token = _locale.set(language)
    try:
        yield
    finally:
        _locale.reset(token)


def gettext(message: str) -> str:
    return _translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations(_locale.get()).ngettext(singular, plural, n)


_ = gettext


def fmt_money(amount: Decimal, currency: str) -> str:
    """Locale's currency format; whole sums without the ",00" that only clutters a phone screen."""
    locale = Locale.parse(_locale.get())
    pattern = locale.currency_formats["standard"].pattern
    if amount == amount.to_integral_value():
        pattern = pattern.replace("0.00", "0")
    text = babel_numbers.format_currency(
        amount, currency, format=pattern, locale=locale, currency_digits=False
    )
    # CLDR spaces a letter code from the digits ("RUB 150,000"); Babel does not.
    return re.sub(r"^([A-Z]{3})(?=[\d-])", "\\1\xa0", text)


def fmt_number(value: Decimal | int) -> str:
    return babel_numbers.format_decimal(value, locale=_locale.get())


@lru_cache(maxsize=4096)
def _format_date(value: date, pattern: str, locale: str) -> str:
    # Babel parses the pattern and walks the locale data on every call (~0.1 ms); a worklist
    # repeats a few dates over dozens of lines. Bounded: dates in use are few at any time.
    return babel_dates.format_date(value, format=pattern, locale=locale)


def fmt_date(value: date, today: date | None = None) -> str:
    """Weekday and day; the year too when it is not the current one ("Fri, 1 December 2027")."""
    pattern = "EEE, d MMMM" if today is None or value.year == today.year else "EEE, d MMMM y"
    # Full month names: no abbreviation dot to collide with the end of a sentence.
    return _format_date(value, pattern, _locale.get())


def fmt_date_full(value: date) -> str:
    return _format_date(value, "d MMMM y", _locale.get())


def fmt_time(value: time) -> str:
    return value.strftime("%H:%M")


def fmt_datetime(value: datetime, today: date | None = None) -> str:
    return f"{fmt_date(value.date(), today)} {fmt_time(value.time())}"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark a module-level string for extraction; translate it with `_()` where it is used."""
    return message


class Plural(NamedTuple):
    """A message with plural forms, marked now and translated later with `ngettext`."""

    singular: str
    plural: str


def Nn_(singular: str, plural: str) -> Plural:  # noqa: N802 - extracted as keyword Nn_:1,2
    return Plural(singular, plural)
