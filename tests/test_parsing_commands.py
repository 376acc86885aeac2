"""Where the client's name ends and what follows it, for /call, /deal, /next and /meet."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.parsing.amounts import Margin
from bot.parsing.commands import (
    CallCommand,
    Outcome,
    parse_call,
    parse_deal,
    parse_schedule,
    split_meeting_done,
)
from bot.parsing.dates import When
from bot.parsing.errors import ParseError
from bot.parsing.tokens import norm, tokenize

NOW = datetime(2026, 12, 2, 10, 15, tzinfo=ZoneInfo("Europe/Moscow"))
MAX = Decimal("1000000000")
TOMORROW = When(date(2026, 12, 3), None)


def call(args: str) -> CallCommand:
    return parse_call(args, NOW, max_amount=MAX)


def error_code(func: object, *args: object, **kwargs: object) -> str:
    assert callable(func)
    with pytest.raises(ParseError) as error:
        func(*args, **kwargs)
    return error.value.code


# -- tokens -----------------------------------------------------------------------------------


def test_tokenize_splits_on_whitespace_and_keeps_case():
    assert tokenize("  Иванов   Petr\tdone\nnow ") == ["Иванов", "Petr", "done", "now"]


def test_tokenize_drops_a_trailing_comma_but_keeps_every_token():
    assert tokenize("Ivanov, done; , р.") == ["Ivanov", "done", ",", "р."]
    text = "Ivanov , done ; ok"
    assert len(tokenize(text)) == len(text.split())


@pytest.mark.parametrize(
    ("token", "normal"),
    [
        ("Завтра,", "завтра"),
        ("ЁЛКА", "елка"),
        ("done!", "done"),
        ("(friday)", "friday"),
        ("15.12", "15.12"),
        ("15.12.", "15.12"),
        ("10:00", "10:00"),
        ("30%", "30%"),
        ("тыс.", "тыс"),
        ("«Ромашка»", "ромашка"),
        (".5", ".5"),
    ],
)
def test_norm_casefolds_and_strips_only_surrounding_punctuation(token: str, normal: str):
    assert norm(token) == normal


# -- /call: splitting the name ----------------------------------------------------------------


def test_name_of_several_words_ends_at_the_outcome():
    parsed = call("Ivanov Petr Sergeevich done")
    assert parsed.name == "Ivanov Petr Sergeevich"
    assert parsed.outcome is Outcome.DONE


def test_organisation_name_is_kept_whole():
    parsed = call("ООО Ромашка перезвонить завтра")
    assert parsed.name == "ООО Ромашка"
    assert parsed.outcome is Outcome.CALLBACK
    assert parsed.when == TOMORROW


def test_quoted_name_keeps_its_quotes():
    parsed = call('"Рога и копыта" отказ')
    assert parsed.name == '"Рога и копыта"'
    assert parsed.outcome is Outcome.REFUSED


def test_name_with_digits_is_kept():
    assert call("Магазин 24 done").name == "Магазин 24"


def test_html_and_emoji_in_names_pass_through_untouched():
    parsed = call("<b>Bold</b> & Co 🚀 done")
    assert parsed.name == "<b>Bold</b> & Co 🚀"
    assert parsed.outcome is Outcome.DONE


def test_name_words_are_joined_by_single_spaces():
    assert call("Ivanov    Petr \t done").name == "Ivanov Petr"


def test_trailing_comma_after_the_name_is_not_part_of_it():
    parsed = call("Ivanov, done.")
    assert parsed.name == "Ivanov"
    assert parsed.outcome is Outcome.DONE


def test_outcome_at_index_zero_gives_an_empty_name():
    parsed = call("done")
    assert parsed == CallCommand("", Outcome.DONE, None, None, None, "")
    callback = call("перезвонить завтра")
    assert callback.name == ""
    assert callback.when == TOMORROW


def test_outcome_word_first_is_skipped_when_another_follows():
    # A name always has a word: "Deal" here is the client, "done" the outcome.
    parsed = call("Deal done")
    assert parsed.name == "Deal"
    assert parsed.outcome is Outcome.DONE


@pytest.mark.parametrize("args", ["Ivanov maybe", "Ivanov blah blah", "Ivanov", "Иванов позже"])
def test_unknown_outcome_gives_none_and_the_whole_text_as_name(args: str):
    parsed = call(args)
    assert parsed.outcome is None
    assert parsed.name == " ".join(args.split())
    assert (parsed.when, parsed.amount, parsed.margin, parsed.comment) == (None, None, None, "")


def test_first_outcome_word_wins():
    parsed = call("Ivanov done deal later")
    assert parsed.outcome is Outcome.DONE
    assert parsed.comment == "deal later"


def test_name_word_count_matches_a_whitespace_split():
    # The handler cuts the name off the raw text by counting its words.
    args = "ООО  «Ромашка», перезвонить завтра"
    parsed = call(args)
    used = len(parsed.name.split())
    assert args.split()[used:] == ["перезвонить", "завтра"]


# -- /call: outcomes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        ("Ivanov done", Outcome.DONE),
        ("Ivanov ok", Outcome.DONE),
        ("Ivanov talked", Outcome.DONE),
        ("Иванов сделано", Outcome.DONE),
        ("Иванов готово", Outcome.DONE),
        ("Иванов дозвонился", Outcome.DONE),
        ("Иванов поговорили", Outcome.DONE),
        ("Иванов созвонились", Outcome.DONE),
        ("IVANOV DONE", Outcome.DONE),
        ("Ivanov no answer", Outcome.NO_ANSWER),
        ("Ivanov not answering", Outcome.NO_ANSWER),
        ("Ivanov no reply", Outcome.NO_ANSWER),
        ("Иванов не дозвонился", Outcome.NO_ANSWER),
        ("Иванов недозвон", Outcome.NO_ANSWER),
        ("Иванов не ответил", Outcome.NO_ANSWER),
        ("Иванов не отвечает", Outcome.NO_ANSWER),
        ("Иванов нет ответа", Outcome.NO_ANSWER),
        ("Иванов не берет", Outcome.NO_ANSWER),
        ("Иванов не берёт трубку", Outcome.NO_ANSWER),
        ("Ivanov refused", Outcome.REFUSED),
        ("Ivanov refuse", Outcome.REFUSED),
        ("Ivanov not interested", Outcome.REFUSED),
        ("Иванов отказ", Outcome.REFUSED),
        ("Иванов отказался", Outcome.REFUSED),
        ("Иванова отказалась", Outcome.REFUSED),
        ("Иванов не интересно", Outcome.REFUSED),
    ],
)
def test_outcome_words_in_both_languages(args: str, outcome: Outcome):
    parsed = call(args)
    assert parsed.outcome is outcome
    assert parsed.name in ("Ivanov", "Иванов", "IVANOV", "Иванова")
    assert parsed.comment == ""


@pytest.mark.parametrize(
    "args",
    [
        "Ivanov callback tomorrow",
        "Ivanov call back tomorrow",
        "Ivanov call me tomorrow",
        "Иванов перезвонить завтра",
        "Иванов перезвон завтра",
        "Иванов перезвоню завтра",
        "Иванов перезвонит завтра",
    ],
)
def test_callback_words_take_the_date_after_them(args: str):
    parsed = call(args)
    assert parsed.outcome is Outcome.CALLBACK
    assert parsed.when == TOMORROW


@pytest.mark.parametrize(
    "args",
    ["Ivanov deal 150k", "Иванов сделка 150 тыс", "Иванов продажа 150000", "Ivanov sale 150k"],
)
def test_deal_words_take_the_amount_after_them(args: str):
    parsed = call(args)
    assert parsed.outcome is Outcome.DEAL
    assert parsed.amount == Decimal(150000)


def test_multi_word_outcome_is_matched_before_its_last_word():
    parsed = call("Иванов не дозвонился")
    assert parsed.outcome is Outcome.NO_ANSWER
    assert parsed.name == "Иванов"


# -- /call: what follows the outcome ----------------------------------------------------------


def test_done_with_free_text_keeps_it_as_comment():
    parsed = call("Ivanov done sent the price")
    assert parsed.when is None
    assert parsed.comment == "sent the price"


def test_done_with_a_date_sets_the_next_contact():
    parsed = call("Ivanov done friday 10:00 send the contract")
    assert parsed.when == When(date(2026, 12, 4), time(10))
    assert parsed.comment == "send the contract"


def test_no_answer_with_a_date_sets_the_retry():
    parsed = call("Иванов не дозвонился завтра в 10")
    assert parsed.outcome is Outcome.NO_ANSWER
    assert parsed.when == When(date(2026, 12, 3), time(10))


def test_callback_comment_follows_the_date():
    parsed = call("Иванов перезвонить через 2 недели обсудить скидку")
    assert parsed.when == When(date(2026, 12, 16), None)
    assert parsed.comment == "обсудить скидку"


@pytest.mark.parametrize(
    "args", ["Ivanov callback", "Ivanov callback later", "Иванов перезвонить позже"]
)
def test_callback_without_a_date_is_date_missing(args: str):
    assert error_code(call, args) == "date_missing"


def test_callback_with_an_impossible_date_is_invalid():
    assert error_code(call, "Иванов перезвонить 31.02") == "date_invalid"


def test_callback_in_the_past_is_refused():
    assert error_code(call, "Ivanov callback yesterday") == "date_past"


def test_refused_takes_no_date_and_keeps_the_rest_as_comment():
    parsed = call("Ivanov refused tomorrow too expensive")
    assert parsed.when is None
    assert parsed.comment == "tomorrow too expensive"


def test_deal_with_margin_and_next_contact():
    parsed = call("Ivanov deal 150k margin 20% tomorrow paid upfront")
    assert parsed.amount == Decimal(150000)
    assert parsed.margin == Margin(percent=Decimal(20), amount=None)
    assert parsed.when == TOMORROW
    assert parsed.comment == "paid upfront"


def test_deal_with_spaced_amount_and_currency_then_comment():
    parsed = call("Ivanov deal 150 000 руб first shipment")
    assert parsed.amount == Decimal(150000)
    assert parsed.comment == "first shipment"


def test_deal_without_an_amount_is_amount_missing():
    assert error_code(call, "Ivanov deal") == "amount_missing"


def test_deal_with_unreadable_amount_is_refused():
    assert error_code(call, "Ivanov deal abc") == "amount_invalid"


def test_deal_with_negative_amount_is_refused():
    assert error_code(call, "Ivanov deal -5") == "amount_negative"


def test_deal_over_the_limit_is_refused():
    assert error_code(call, "Ivanov deal 999999999999999") == "amount_too_large"


def test_deal_with_margin_over_100_percent_is_refused():
    assert error_code(call, "Ivanov deal 150000 margin 300%") == "margin_invalid"


def test_a_5000_character_comment_survives_intact():
    comment = ("Обсудили условия поставки, <b>скидка</b> 5% 🚀\n" * 120)[:5000].strip()
    parsed = call(f"Ivanov done {comment}")
    assert parsed.comment == comment
    assert len(parsed.comment) == len(comment)


def test_comment_keeps_line_breaks_and_spacing():
    parsed = call("Ivanov done line one\n  line  two")
    assert parsed.comment == "line one\n  line  two"


def test_leading_dash_separator_is_not_part_of_the_comment():
    assert call("Ivanov done - sent the price").comment == "sent the price"
    assert call("Ivanov done — sent the price").comment == "sent the price"


# -- /deal ------------------------------------------------------------------------------------


def test_deal_command_with_percent_margin():
    parsed = parse_deal("Ivanov 150000 margin 30%", max_amount=MAX)
    assert (parsed.name, parsed.amount) == ("Ivanov", Decimal(150000))
    assert parsed.margin == Margin(percent=Decimal(30), amount=None)
    assert parsed.comment == ""


def test_deal_command_with_russian_millions_and_margin():
    parsed = parse_deal("Иванов 1,2 млн маржа 25%", max_amount=MAX)
    assert (parsed.name, parsed.amount) == ("Иванов", Decimal(1200000))
    assert parsed.margin == Margin(percent=Decimal(25), amount=None)


def test_deal_command_with_absolute_profit():
    parsed = parse_deal("Иванов 150000 маржа 45 тыс", max_amount=MAX)
    assert parsed.margin == Margin(percent=None, amount=Decimal(45000))


def test_deal_command_with_organisation_name_and_comment():
    parsed = parse_deal("ООО Ромашка 150 000 руб первая поставка", max_amount=MAX)
    assert parsed.name == "ООО Ромашка"
    assert parsed.amount == Decimal(150000)
    assert parsed.margin is None
    assert parsed.comment == "первая поставка"


def test_deal_command_bare_percent_after_the_amount_is_the_margin():
    parsed = parse_deal("Ivanov 150k 30%", max_amount=MAX)
    assert parsed.margin == Margin(percent=Decimal(30), amount=None)


def test_deal_command_keyword_before_the_amount_is_not_in_the_name():
    parsed = parse_deal("Ivanov сделка 150000", max_amount=MAX)
    assert parsed.name == "Ivanov"


def test_deal_command_without_an_amount_is_amount_missing():
    assert error_code(parse_deal, "Ivanov", max_amount=MAX) == "amount_missing"
    assert error_code(parse_deal, "Ivanov big order", max_amount=MAX) == "amount_missing"


@pytest.mark.parametrize("args", ["", "   ", "150000", "150k margin 20%"])
def test_deal_command_without_a_name_is_name_missing(args: str):
    assert error_code(parse_deal, args, max_amount=MAX) == "name_missing"


def test_deal_command_negative_amount_is_refused():
    assert error_code(parse_deal, "Ivanov -5", max_amount=MAX) == "amount_negative"


def test_deal_command_margin_over_100_percent_is_refused():
    args = "Ivanov 150000 margin 300%"
    assert error_code(parse_deal, args, max_amount=MAX) == "margin_invalid"


# -- /next and /meet ----------------------------------------------------------------------------


def test_schedule_splits_name_date_and_comment():
    parsed = parse_schedule("Ivanov 15.12 10:00 send the price", NOW)
    assert parsed.name == "Ivanov"
    assert parsed.when == When(date(2026, 12, 15), time(10))
    assert parsed.comment == "send the price"


def test_schedule_with_organisation_name_and_relative_date():
    parsed = parse_schedule("ООО Ромашка через неделю", NOW)
    assert parsed.name == "ООО Ромашка"
    assert parsed.when == When(date(2026, 12, 9), None)
    assert parsed.comment == ""


@pytest.mark.parametrize(
    "args", ["Ivanov tomorrow 15:00", "Иванов завтра в 15:00", "Ivanov 15:00 tomorrow"]
)
def test_meeting_tomorrow_at_three(args: str):
    parsed = parse_schedule(args, NOW)
    assert parsed.when == When(date(2026, 12, 3), time(15))


def test_schedule_name_of_several_words_before_a_weekday():
    parsed = parse_schedule("Ivanov Petr next monday at 11 demo", NOW)
    assert parsed.name == "Ivanov Petr"
    assert parsed.when == When(date(2026, 12, 7), time(11))
    assert parsed.comment == "demo"


def test_schedule_name_ending_in_a_number_is_not_a_date():
    parsed = parse_schedule("Рога и копыта 2 завтра", NOW)
    assert parsed.name == "Рога и копыта 2"
    assert parsed.when == TOMORROW


@pytest.mark.parametrize("args", ["Ivanov", "Ivanov call about the contract", "ООО Ромашка"])
def test_schedule_without_a_date_keeps_the_whole_text_as_name(args: str):
    parsed = parse_schedule(args, NOW)
    assert parsed.when is None
    assert parsed.name == args
    assert parsed.comment == ""


def test_schedule_date_at_index_zero_gives_an_empty_name():
    parsed = parse_schedule("завтра позвонить", NOW)
    assert parsed.name == ""
    assert parsed.when == TOMORROW
    assert parsed.comment == "позвонить"


def test_schedule_impossible_date_is_invalid():
    assert error_code(parse_schedule, "Ivanov 32.13", NOW) == "date_invalid"


def test_schedule_past_date_is_refused():
    assert error_code(parse_schedule, "Ivanov yesterday", NOW) == "date_past"


def test_schedule_keeps_a_long_comment_intact():
    comment = "подготовить КП\n" + "x" * 4980
    parsed = parse_schedule(f"Ivanov завтра {comment}", NOW)
    assert parsed.comment == comment


# -- /meet ... done -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("Ivanov done notes about the demo", ("Ivanov", "notes about the demo")),
        ("Ivanov held", ("Ivanov", "")),
        ("Иванов состоялась обсудили цены", ("Иванов", "обсудили цены")),
        ("Иванов провели демо", ("Иванов", "демо")),
        ("Иванов прошла хорошо", ("Иванов", "хорошо")),
        ("Иванов была", ("Иванов", "")),
        ("ООО Ромашка встреча состоялась", ("ООО Ромашка", "")),
        ("done", ("", "")),
    ],
)
def test_held_meeting_is_split_into_name_and_notes(args: str, expected: tuple[str, str]):
    assert split_meeting_done(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        "Ivanov tomorrow 15:00",
        "Ivanov",
        "Иванов завтра обсудить, как прошла поставка",
        "Ivanov 31.02 done",
        "",
    ],
)
def test_planned_meeting_is_not_a_held_one(args: str):
    assert split_meeting_done(args) is None
