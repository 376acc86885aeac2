"""Dates and times in Russian and English, relative to the member's own clock."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.parsing.dates import When, parse_when, parse_when_prefix
from bot.parsing.errors import ParseError
from bot.parsing.tokens import tokenize

MSK = ZoneInfo("Europe/Moscow")
# Wednesday 2026-12-02 10:15, the reference moment of tests/data/phrases.tsv.
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=MSK)


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def at(hour: int, minute: int = 0) -> time:
    return time(hour, minute)


DATE_ONLY_EN = [
    ("today", d(12, 2)),
    ("tomorrow", d(12, 3)),
    ("day after tomorrow", d(12, 4)),
    ("the day after tomorrow", d(12, 4)),
    ("in 3 days", d(12, 5)),
    ("in a day", d(12, 3)),
    ("in a week", d(12, 9)),
    ("in 2 weeks", d(12, 16)),
    ("in two weeks", d(12, 16)),
    ("in a month", d(1, 2, 2027)),
    ("in 2 months", d(2, 2, 2027)),
    ("in a year", d(12, 2, 2027)),
    ("in a couple of days", d(12, 4)),
    ("2w", d(12, 16)),
    ("3d", d(12, 5)),
    ("1mo", d(1, 2, 2027)),
    ("friday", d(12, 4)),
    ("fri", d(12, 4)),
    ("on friday", d(12, 4)),
    ("this friday", d(12, 4)),
    ("next monday", d(12, 7)),
    ("Monday", d(12, 7)),
    ("sunday", d(12, 6)),
    ("next week", d(12, 9)),
    ("15.12", d(12, 15)),
    ("15.12.2026", d(12, 15)),
    ("15.12.26", d(12, 15)),
    ("15/12", d(12, 15)),
    ("15/12/2026", d(12, 15)),
    ("2026-12-15", d(12, 15)),
    ("15 dec", d(12, 15)),
    ("december 15", d(12, 15)),
    ("dec 15th", d(12, 15)),
    ("15th of december", d(12, 15)),
    ("December 15, 2027", d(12, 15, 2027)),
    ("jan 3rd", d(1, 3, 2027)),
    ("on 15.12", d(12, 15)),
]

DATE_ONLY_RU = [
    ("сегодня", d(12, 2)),
    ("завтра", d(12, 3)),
    ("послезавтра", d(12, 4)),
    ("через 3 дня", d(12, 5)),
    ("через 5 дней", d(12, 7)),
    ("через день", d(12, 3)),
    ("через неделю", d(12, 9)),
    ("через 2 недели", d(12, 16)),
    ("через две недели", d(12, 16)),
    ("через месяц", d(1, 2, 2027)),
    ("через 3 месяца", d(3, 2, 2027)),
    ("через полгода", d(6, 2, 2027)),
    ("через год", d(12, 2, 2027)),
    ("через пару дней", d(12, 4)),
    ("2н", d(12, 16)),
    ("3д", d(12, 5)),
    ("пятница", d(12, 4)),
    ("в пятницу", d(12, 4)),
    ("пт", d(12, 4)),
    ("во вторник", d(12, 8)),
    ("в субботу", d(12, 5)),
    ("в воскресенье", d(12, 6)),
    ("в понедельник", d(12, 7)),
    ("в следующий понедельник", d(12, 7)),
    ("в следующую пятницу", d(12, 4)),
    ("на следующей неделе", d(12, 9)),
    ("15 декабря", d(12, 15)),
    ("1 января", d(1, 1, 2027)),
    ("8 марта", d(3, 8, 2027)),
    ("15 декабря 2027 года", d(12, 15, 2027)),
    ("15-го декабря", d(12, 15)),
    ("на завтра", d(12, 3)),
]


@pytest.mark.parametrize(("text", "day"), DATE_ONLY_EN + DATE_ONLY_RU, ids=lambda v: str(v))
def test_date_expression_gives_a_date_only_follow_up(text: str, day: date):
    assert parse_when(text, NOW) == When(day=day, at=None)


EXACT = [
    # Hours and minutes from now are an exact moment; seconds are dropped.
    ("in 2 hours", d(12, 2), at(12, 15)),
    ("in 30 minutes", d(12, 2), at(10, 45)),
    ("in an hour", d(12, 2), at(11, 15)),
    ("in half an hour", d(12, 2), at(10, 45)),
    ("in 1.5 hours", d(12, 2), at(11, 45)),
    ("2h", d(12, 2), at(12, 15)),
    ("30min", d(12, 2), at(10, 45)),
    ("через час", d(12, 2), at(11, 15)),
    ("через 2 часа", d(12, 2), at(12, 15)),
    ("через полчаса", d(12, 2), at(10, 45)),
    ("через 15 минут", d(12, 2), at(10, 30)),
    ("через полтора часа", d(12, 2), at(11, 45)),
    ("2ч", d(12, 2), at(12, 15)),
    ("in 20 hours", d(12, 3), at(6, 15)),
    # A time with a date.
    ("tomorrow 15:00", d(12, 3), at(15)),
    ("15:00 tomorrow", d(12, 3), at(15)),
    ("tomorrow at 3pm", d(12, 3), at(15)),
    ("friday 10:00", d(12, 4), at(10)),
    ("on friday at 10am", d(12, 4), at(10)),
    ("15.12 10:00", d(12, 15), at(10)),
    ("15.12 15.00", d(12, 15), at(15)),
    ("15 dec at 10:30", d(12, 15), at(10, 30)),
    ("in 3 days at 9:00", d(12, 5), at(9)),
    ("today 18:00", d(12, 2), at(18)),
    ("завтра в 15:00", d(12, 3), at(15)),
    ("в 15:00 завтра", d(12, 3), at(15)),
    ("в понедельник в 11", d(12, 7), at(11)),
    ("завтра в 10 утра", d(12, 3), at(10)),
    ("завтра в 15.30", d(12, 3), at(15, 30)),
    ("15 декабря в 11 часов", d(12, 15), at(11)),
    ("через 2 дня в 9:30", d(12, 4), at(9, 30)),
    ("сегодня в 18", d(12, 2), at(18)),
    # A time alone: today while it is still ahead.
    ("14:30", d(12, 2), at(14, 30)),
    ("15:00", d(12, 2), at(15)),
    ("at 15", d(12, 2), at(15)),
    ("at 3pm", d(12, 2), at(15)),
    ("3pm", d(12, 2), at(15)),
    ("3 pm", d(12, 2), at(15)),
    ("at noon", d(12, 2), at(12)),
    ("в 11", d(12, 2), at(11)),
    ("в 11 часов", d(12, 2), at(11)),
    ("в 15:00", d(12, 2), at(15)),
    ("в 7 вечера", d(12, 2), at(19)),
    ("в 3 дня", d(12, 2), at(15)),
    ("к 16", d(12, 2), at(16)),
]


@pytest.mark.parametrize(("text", "day", "clock"), EXACT, ids=lambda v: str(v))
def test_expression_with_a_time_gives_an_exact_moment(text: str, day: date, clock: time):
    assert parse_when(text, NOW) == When(day=day, at=clock)


@pytest.mark.parametrize(
    "text",
    ["TOMORROW", "Завтра", "ЗАВТРА", "Завтра,", "завтра.", "завтра!", "(завтра)", "«завтра»"],
)
def test_case_and_surrounding_punctuation_do_not_matter(text: str):
    assert parse_when(text, NOW) == When(d(12, 3), None)


def test_uppercase_date_and_time_words_are_understood():
    assert parse_when("В ПЯТНИЦУ В 11", NOW) == When(d(12, 4), at(11))
    assert parse_when("NEXT MONDAY AT 3PM", NOW) == When(d(12, 7), at(15))


def test_trailing_comma_after_a_date_does_not_stop_the_time():
    assert parse_when("завтра, 15:00", NOW) == When(d(12, 3), at(15))


def test_yo_is_read_as_e():
    assert parse_when("в четверг", NOW) == When(d(12, 3), None)
    assert parse_when("через неделю", NOW) == parse_when("через неделю".replace("е", "ё"), NOW)


# -- the clock matters ------------------------------------------------------------------------


def test_time_alone_earlier_than_now_means_tomorrow():
    assert parse_when("09:00", NOW) == When(d(12, 3), at(9))
    assert parse_when("в 9", NOW) == When(d(12, 3), at(9))
    assert parse_when("at 9am", NOW) == When(d(12, 3), at(9))


def test_time_alone_later_than_now_means_today():
    assert parse_when("10:16", NOW) == When(d(12, 2), at(10, 16))


def test_time_alone_equal_to_now_means_tomorrow():
    assert parse_when("10:15", NOW) == When(d(12, 3), at(10, 15))


def test_explicit_today_at_the_current_minute_is_not_past():
    late = NOW.replace(second=40)
    assert parse_when("today 10:15", late) == When(d(12, 2), at(10, 15))


def test_explicit_today_at_an_earlier_time_is_past():
    with pytest.raises(ParseError) as error:
        parse_when("today 08:00", NOW)
    assert error.value.code == "date_past"


def test_russian_explicit_today_at_an_earlier_hour_is_past():
    with pytest.raises(ParseError) as error:
        parse_when("сегодня в 9", NOW)
    assert error.value.code == "date_past"


def test_weekday_said_on_that_weekday_means_a_week_later():
    assert parse_when("wednesday", NOW) == When(d(12, 9), None)
    assert parse_when("в среду", NOW) == When(d(12, 9), None)
    friday = datetime(2026, 12, 4, 9, 0, tzinfo=MSK)
    assert parse_when("friday", friday) == When(d(12, 11), None)
    assert parse_when("пятница", friday) == When(d(12, 11), None)
    assert parse_when("в субботу", friday) == When(d(12, 5), None)


def test_date_without_year_already_passed_this_year_means_next_year():
    assert parse_when("10.01", NOW) == When(d(1, 10, 2027), None)
    assert parse_when("1.12", NOW) == When(d(12, 1, 2027), None)
    assert parse_when("1 декабря", NOW) == When(d(12, 1, 2027), None)


def test_date_without_year_equal_to_today_means_today():
    assert parse_when("02.12", NOW) == When(d(12, 2), None)


def test_year_rollover_on_new_years_eve():
    eve = datetime(2026, 12, 31, 23, 0, tzinfo=MSK)
    assert parse_when("tomorrow", eve) == When(d(1, 1, 2027), None)
    assert parse_when("in 2 hours", eve) == When(d(1, 1, 2027), at(1))
    assert parse_when("01.01", eve) == When(d(1, 1, 2027), None)
    assert parse_when("31.12", eve) == When(d(12, 31), None)
    assert parse_when("30.12", eve) == When(d(12, 30, 2027), None)
    assert parse_when("22:00", eve) == When(d(1, 1, 2027), at(22))


def test_a_month_from_the_31st_ends_on_the_last_day_of_a_short_month():
    assert parse_when("через месяц", datetime(2027, 1, 31, 12, tzinfo=MSK)) == When(
        d(2, 28, 2027), None
    )


def test_feb_29_with_a_leap_year_is_valid():
    assert parse_when("29.02.2028", NOW) == When(d(2, 29, 2028), None)


def test_feb_29_with_a_non_leap_year_is_invalid():
    with pytest.raises(ParseError) as error:
        parse_when("29.02.2027", NOW)
    assert error.value.code == "date_invalid"


def test_feb_29_without_year_finds_the_coming_leap_february():
    assert parse_when("29.02", datetime(2027, 3, 1, 9, tzinfo=MSK)) == When(d(2, 29, 2028), None)
    assert parse_when("29.02", datetime(2028, 1, 10, 9, tzinfo=MSK)) == When(d(2, 29, 2028), None)


def test_feb_29_without_year_when_next_february_is_not_leap_is_invalid():
    with pytest.raises(ParseError) as error:
        parse_when("29.02", NOW)
    assert error.value.code == "date_invalid"


def test_hours_from_now_are_real_hours_across_a_dst_change():
    berlin = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert parse_when("in 1 hour", berlin) == When(date(2026, 3, 29), at(3, 30))


def test_seconds_of_now_are_dropped_from_an_exact_moment():
    assert parse_when("in 2 hours", NOW.replace(second=59)) == When(d(12, 2), at(12, 15))


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "31.02",
        "32.12",
        "15.13",
        "0.12",
        "30.02.2028",
        "25:00",
        "24:00",
        "10:60",
        "at 25",
        "в 25",
        "13pm",
        "15.00",
        "31 февраля",
        "через 100000 лет",
        "in 99999999 days",
    ],
)
def test_impossible_date_or_time_is_invalid(text: str):
    with pytest.raises(ParseError) as error:
        parse_when(text, NOW)
    assert error.value.code == "date_invalid"


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "вчера",
        "позавчера",
        "day before yesterday",
        "01.01.2020",
        "01.12.2026",
        "2026-12-01",
        "1 декабря 2026",
        "today 08:00",
        "вчера в 15:00",
    ],
)
def test_date_in_the_past_is_refused(text: str):
    with pytest.raises(ParseError) as error:
        parse_when(text, NOW)
    assert error.value.code == "date_past"


@pytest.mark.parametrize(
    "text",
    [
        "2",
        "11",
        "150000",
        "Ivanov",
        "in person",
        "на связи",
        "в офисе",
        "через",
        "next",
        "15 штук",
        "send the price",
        "поговорили 2 часа",
        "",
    ],
)
def test_text_that_does_not_start_a_date_is_not_a_date(text: str):
    assert parse_when_prefix(tokenize(text), NOW) is None


def test_whole_text_must_be_a_date():
    with pytest.raises(ParseError) as error:
        parse_when("tomorrow please", NOW)
    assert error.value.code == "date_invalid"
    with pytest.raises(ParseError):
        parse_when("", NOW)


# -- prefixes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "used"),
    [
        ("tomorrow 15:00 send the price", 2),
        ("в понедельник в 11 обсудить", 4),
        ("через 2 недели обсудить скидку", 3),
        ("15.12 10:00 send the price", 2),
        ("friday at 3 pm demo", 4),
        ("завтра утром", 1),
        ("in 2 hours 15:00", 3),
        ("15:00 in 2 hours", 1),
    ],
)
def test_prefix_takes_the_longest_date_and_counts_its_tokens(text: str, used: int):
    found = parse_when_prefix(tokenize(text), NOW)
    assert found is not None
    assert found[1] == used


def test_bare_number_after_a_date_is_not_a_time():
    found = parse_when_prefix(tokenize("tomorrow 15"), NOW)
    assert found == (When(d(12, 3), None), 1)
