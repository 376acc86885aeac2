"""The Russian catalogue reads as Russian: every message translated (every plural form too),
placeholders and markup kept, and a plural entry wherever the English counts something."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{\w+\}")
TAG = re.compile(r"</?\w+>")
# A number placeholder followed by the plural noun it counts: "{days} days", "{rows} rows".
COUNTED = re.compile(r"\{\w+\} (?:different |more |client )?([a-z]+s)\b")
# Plural English words after a placeholder that count nothing.
NOT_NOUNS = {"is", "was", "has", "goes", "this", "does", "its", "matches"}


def catalogue(language: str) -> Catalog:
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def entries(language: str) -> list[Message]:
    return [message for message in catalogue(language) if message.id]


def test_every_russian_message_and_plural_form_is_translated():
    untranslated = [ids(m)[0] for m in entries("ru") if not all(forms(m))]
    assert untranslated == []


def test_russian_plurals_have_three_forms():
    catalog = catalogue("ru")
    assert catalog.num_plurals == 3
    short = [ids(m)[0] for m in entries("ru") if m.pluralizable and len(forms(m)) != 3]
    assert short == []


def test_every_form_keeps_the_placeholders_and_the_markup():
    for message in entries("ru"):
        source = ids(message)
        for form in forms(message):
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(source[-1])), source
            assert sorted(TAG.findall(form)) == sorted(TAG.findall(source[0])), source


def test_whatever_the_english_counts_is_a_plural_entry():
    counted = sorted(
        message.id
        for message in entries("en")
        if not message.pluralizable
        and any(word not in NOT_NOUNS for word in COUNTED.findall(message.id))
    )
    assert counted == [], "use ngettext, or say it as a label («rows: {rows}»):\n" + "\n".join(
        counted
    )


def test_the_rule_above_sees_a_count():
    assert COUNTED.findall("for {days} days and {rows} rows") == ["days", "rows"]
    assert COUNTED.findall("{name}: {before} → {after}") == []
