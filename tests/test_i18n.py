"""Every user-facing string exists in Russian and English, with the same placeholders and tags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import _, fmt_money, pick_language, use_locale

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Nn_": (1, 2)}


def _source_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_every_source_string_has_a_russian_translation():
    catalog = _catalog("ru")
    missing = sorted(
        m for m in _source_messages() if not (catalog.get(m) and catalog.get(m).string)
    )
    assert missing == [], "run `make extract` and translate these in ru:\n" + "\n".join(missing)


def test_no_translation_is_fuzzy_or_obsolete():
    catalog = _catalog("ru")
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []
    assert not catalog.obsolete


@pytest.mark.parametrize("language", ["ru", "en"])
def test_placeholders_and_tags_survive_translation(language: str):
    catalog = _catalog(language)
    for message in catalog:
        if not message.id or not message.string:
            continue
        # A plural entry: each form against the English plural.
        source = message.id[-1] if message.pluralizable else message.id
        translations = message.string if message.pluralizable else (message.string,)
        for translation in filter(None, translations):
            assert set(re.findall(r"\{\w+\}", source)) == set(
                re.findall(r"\{\w+\}", translation)
            ), message.id
            assert sorted(re.findall(r"</?\w+>", source)) == sorted(
                re.findall(r"</?\w+>", translation)
            ), message.id


def test_english_catalogue_knows_every_message():
    catalog = _catalog("en")
    assert {m for m in _source_messages() if catalog.get(m) is None} == set()


def test_locale_switches_within_a_block():
    with use_locale("ru"):
        russian = _("Saved.")
    with use_locale("en"):
        english = _("Saved.")
    assert english == "Saved." and russian != english


def test_language_choice_prefers_member_then_telegram_then_default():
    assert pick_language("en", "ru-RU", default="ru") == "en"
    assert pick_language(None, "ru-RU", default="en") == "ru"
    assert pick_language(None, "uk", default="en") == "en"


def test_money_is_formatted_per_locale():
    from decimal import Decimal

    with use_locale("ru"):
        assert fmt_money(Decimal("150000"), "RUB").replace("\xa0", " ") == "150 000 ₽"
    with use_locale("en"):
        assert fmt_money(Decimal("150000"), "RUB").replace("\xa0", " ") == "RUB 150,000"
        assert fmt_money(Decimal("99999.5"), "RUB").replace("\xa0", " ") == "RUB 99,999.50"


def test_dates_are_formatted_per_locale_and_year_though_memoised():
    from datetime import date

    from bot.i18n import fmt_date, fmt_date_full

    day = date(2027, 12, 3)
    # The same date asked for in turn in each locale and against each "today": the memo is
    # keyed by all three, so no answer leaks from one to another.
    for _round in range(2):
        with use_locale("en"):
            assert fmt_date(day, date(2027, 1, 1)) == "Fri, 3 December"
            assert fmt_date(day, date(2026, 1, 1)) == "Fri, 3 December 2027"
            assert fmt_date_full(day) == "3 December 2027"
        with use_locale("ru"):
            assert fmt_date(day, date(2027, 1, 1)) == "пт, 3 декабря"
            assert fmt_date(day, date(2026, 1, 1)) == "пт, 3 декабря 2027"
            assert fmt_date_full(day) == "3 декабря 2027"
