"""Sums and margins as managers type them; always Decimal, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.parsing.amounts import Margin, parse_amount, parse_amount_prefix, parse_margin
from bot.parsing.errors import ParseError
from bot.parsing.tokens import tokenize

MAX = Decimal("1000000000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("150000", "150000"),
        ("150 000", "150000"),
        ("1 500 000", "1500000"),
        ("150k", "150000"),
        ("150к", "150000"),
        ("150K", "150000"),
        ("150 k", "150000"),
        ("1.5m", "1500000"),
        ("1,5 млн", "1500000"),
        ("1,5млн", "1500000"),
        ("1.2 mln", "1200000"),
        ("2 million", "2000000"),
        ("3 миллиона", "3000000"),
        ("150 тыс", "150000"),
        ("150 тыс.", "150000"),
        ("150 тысяч", "150000"),
        ("2,5 тыс", "2500"),
        ("99 999,50", "99999.50"),
        ("99 999.50", "99999.50"),
        ("99999,5", "99999.5"),
        ("150000₽", "150000"),
        ("150000 ₽", "150000"),
        ("150000 руб", "150000"),
        ("150 000 руб", "150000"),
        ("150 000 р.", "150000"),
        ("150 000р", "150000"),
        ("150000 rub", "150000"),
        ("150к₽", "150000"),
        ("150 т.р.", "150000"),
        ("$100", "100"),
        ("$ 100", "100"),
        ("100$", "100"),
        ("$1.5k", "1500"),
        ("150,000", "150000"),
        ("1,500,000", "1500000"),
        ("1,500,000.50", "1500000.50"),
        ("1.500.000,50", "1500000.50"),
        ("1,250 млн", "1250000"),
        ("0,5", "0.5"),
        ("1", "1"),
    ],
)
def test_amount_forms_are_read(text: str, expected: str):
    value = parse_amount(text, max_amount=MAX)
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)


def test_more_than_two_decimals_are_rounded_to_cents():
    assert parse_amount("10.5555", max_amount=MAX) == Decimal("10.56")
    assert parse_amount("1.2345k", max_amount=MAX) == Decimal("1234.50")
    assert parse_amount("0,125", max_amount=MAX) == Decimal("0.13")


def test_whole_amounts_have_no_stray_fraction_after_scaling():
    assert str(parse_amount("1.5m", max_amount=MAX)) == "1500000"


@pytest.mark.parametrize("text", ["-5", "−5", "-5k", "-150 000", "-$100"])
def test_negative_amount_is_refused(text: str):
    with pytest.raises(ParseError) as error:
        parse_amount(text, max_amount=MAX)
    assert error.value.code == "amount_negative"


@pytest.mark.parametrize("text", ["0", "0.00", "0k", "0.001"])
def test_zero_amount_is_refused_like_a_negative_one(text: str):
    with pytest.raises(ParseError) as error:
        parse_amount(text, max_amount=MAX)
    assert error.value.code == "amount_negative"


@pytest.mark.parametrize(
    "text", ["abc", "1e9", "NaN", "Infinity", "inf", "1.2.3", "30%", "150 apples", "10:00", "$"]
)
def test_text_that_is_not_an_amount_is_invalid(text: str):
    with pytest.raises(ParseError) as error:
        parse_amount(text, max_amount=MAX)
    assert error.value.code == "amount_invalid"


def test_empty_amount_is_missing():
    with pytest.raises(ParseError) as error:
        parse_amount("   ", max_amount=MAX)
    assert error.value.code == "amount_missing"


@pytest.mark.parametrize(
    "text", ["1000000000.01", "2 млрд", "9" * 40, "9" * 5000, "1" + "0" * 30 + "k"]
)
def test_absurdly_large_amount_is_refused_with_the_limit(text: str):
    with pytest.raises(ParseError) as error:
        parse_amount(text, max_amount=MAX)
    assert error.value.code == "amount_too_large"
    assert error.value.params == {"max": MAX}


def test_amount_equal_to_the_limit_is_accepted():
    assert parse_amount("1 млрд", max_amount=MAX) == MAX


@pytest.mark.parametrize(
    ("text", "amount", "used"),
    [
        ("150000 margin 30%", "150000", 1),
        ("150 000 руб за поставку", "150000", 3),
        ("1,5 млн маржа 25%", "1500000", 2),
        ("99 999,50 paid", "99999.50", 2),
        ("150k tomorrow", "150000", 1),
        ("150 тыс. first shipment", "150000", 2),
    ],
)
def test_amount_prefix_takes_the_longest_amount_and_counts_its_tokens(
    text: str, amount: str, used: int
):
    assert parse_amount_prefix(tokenize(text), max_amount=MAX) == (Decimal(amount), used)


@pytest.mark.parametrize("text", ["abc 150", "tomorrow", "30%", "1e9", "-", "", "margin 30%"])
def test_amount_prefix_is_none_when_the_first_token_is_no_amount(text: str):
    assert parse_amount_prefix(tokenize(text), max_amount=MAX) is None


def test_space_groups_need_exactly_three_digits():
    assert parse_amount_prefix(tokenize("150 00"), max_amount=MAX) == (Decimal(150), 1)
    assert parse_amount_prefix(tokenize("1500 000"), max_amount=MAX) == (Decimal(1500), 1)


# -- margins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "percent", "used"),
    [
        ("margin 30%", "30", 2),
        ("маржа 25%", "25", 2),
        ("margin 30 %", "30", 3),
        ("маржинальность 18,5%", "18.5", 2),
        ("с маржой 20%", "20", 3),
        ("margin: 30%", "30", 2),
        ("margin - 30%", "30", 3),
        ("маржа 30 процентов", "30", 3),
        ("profit 40%", "40", 2),
        ("margin 12.345%", "12.35", 2),
        ("30%", "30", 1),
        ("30% маржа", "30", 2),
        ("margin -10%", "-10", 2),
        ("margin -100%", "-100", 2),
        ("margin 100%", "100", 2),
        ("margin 0%", "0", 2),
        ("МАРЖА 25% хорошая", "25", 2),
    ],
)
def test_margin_percent_is_read(text: str, percent: str, used: int):
    assert parse_margin(tokenize(text), max_amount=MAX) == (
        Margin(percent=Decimal(percent), amount=None),
        used,
    )


@pytest.mark.parametrize(
    ("text", "amount", "used"),
    [
        ("margin 45000", "45000", 2),
        ("маржа 45 тыс", "45000", 3),
        ("прибыль 45 000 руб", "45000", 4),
        ("profit 1.5k", "1500", 2),
        ("profit -5000", "-5000", 2),
        ("margin 0", "0", 2),
    ],
)
def test_margin_without_percent_sign_is_an_absolute_profit(text: str, amount: str, used: int):
    assert parse_margin(tokenize(text), max_amount=MAX) == (
        Margin(percent=None, amount=Decimal(amount)),
        used,
    )


@pytest.mark.parametrize(
    "text", ["margin 101%", "margin -101%", "margin 300%", "маржа 150 %", "margin abc", "маржа"]
)
def test_margin_outside_minus_100_to_100_or_unreadable_is_invalid(text: str):
    with pytest.raises(ParseError) as error:
        parse_margin(tokenize(text), max_amount=MAX)
    assert error.value.code == "margin_invalid"


@pytest.mark.parametrize(
    "text", ["150000", "прибыль обсудим позже", "profit", "sent the price", ""]
)
def test_text_without_a_margin_is_not_a_margin(text: str):
    assert parse_margin(tokenize(text), max_amount=MAX) is None
