"""Finding a person's name in free text as people write it, for `/forget` to take it out."""

from __future__ import annotations

import pytest

from bot.services.name_forms import is_form_of, name_words, scrub

NAMES = name_words(["Иванов Пётр", "Анна Смирнова", "ООО Ли", None])
PHONES = ["79991234567"]


def test_only_words_long_enough_to_be_a_name_are_looked_for():
    assert sorted(NAMES) == ["anna", "ivanov", "petr", "smirnova"]


@pytest.mark.parametrize(
    "word",
    [
        "Иванову",
        "Ивановым",
        "Ivanof",
        "Iwanov",
        "ИВАНОВ",
        "Петру",
        "Пётра",
        "Анной",
        "Анну",
        "Смирновой",
        "Smirnovu",
    ],
)
def test_declined_misspelt_and_transliterated_forms_are_the_name(word: str):
    assert scrub(word, NAMES, PHONES, "#7") == "#7"


@pytest.mark.parametrize("word", ["Петров", "Петровы", "Ивановская", "Анализ", "ООО", "Ли"])
def test_other_words_that_share_a_stem_are_not(word: str):
    assert scrub(word, NAMES, PHONES, "#7") == word


def test_a_run_of_name_words_becomes_one_placeholder_and_the_rest_stays():
    text = "Позвонить Иванову Петру и Анне Смирновой (+7 999 123-45-67) насчёт выставки 10.12"
    assert scrub(text, NAMES, PHONES, "#7") == "Позвонить #7 и #7 (#7) насчёт выставки 10.12"
    assert scrub("Звонок 123-45-67, не 555-44-33", NAMES, PHONES, "#7") == "Звонок #7, не 555-44-33"


def test_a_typo_needs_a_long_word():
    assert is_form_of("pert", "petr") is False
    assert is_form_of("ivanof", "ivanov") is True
