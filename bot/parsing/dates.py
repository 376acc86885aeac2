"""Dates and times as managers write them, in Russian or English: `завтра в 15:00`, `in 2 weeks`,
`next monday`, `15.12 10:00`, `через полчаса`.

Everything is local to the member: `now` arrives already converted to the member's zone and the
result is a calendar day plus an optional wall-clock time in that zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from dateutil.relativedelta import relativedelta

from bot.errors import ErrorCode
from bot.parsing.errors import ParseError
from bot.parsing.tokens import longest_phrase_at, norm, tokenize

# The days the bot works with at all, typed or in a button. Nothing real lies outside, and date
# arithmetic near Python's limits (the day after, the period before) would overflow.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def within_range(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


@dataclass(frozen=True)
class When:
    day: date  # local calendar date in the member's zone
    at: time | None  # local time; None means "date only" (due when the working day starts)


# -- vocabulary ---------------------------------------------------------------------------------

_LOCALES = ("ru", "en")

# Forms people type that CLDR does not list: Russian accusative after "в" ("в пятницу"), short
# English spellings, and month abbreviations without the CLDR dot or with fewer letters.
_EXTRA_WEEKDAYS = {
    "среду": 2,
    "пятницу": 4,
    "субботу": 5,
    "воскресение": 6,
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_EXTRA_MONTHS = {
    "фев": 2,
    "сен": 9,
    "ноя": 11,
    "sept": 9,
}


@cache
def _weekdays() -> dict[str, int]:
    names: dict[str, int] = {}
    for code in _LOCALES:
        days = Locale.parse(code).days
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in days[context][width].items():
                    names[norm(name)] = number
    names.update(_EXTRA_WEEKDAYS)
    return names


@cache
def _months() -> dict[str, int]:
    names: dict[str, int] = {}
    for code in _LOCALES:
        months = Locale.parse(code).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in months[context][width].items():
                    names[norm(name)] = number
    names.update(_EXTRA_MONTHS)
    return names


def month_number(word: str) -> int | None:
    """1-12 for a month name in Russian or English, any case ("марта", "March", "мар")."""
    return _months().get(norm(word))


_TODAY_WORDS = {"today": 0, "сегодня": 0, "tomorrow": 1, "завтра": 1, "tmrw": 1, "послезавтра": 2}
_DAY_PHRASES: dict[tuple[str, ...], int] = {
    ("the", "day", "after", "tomorrow"): 2,
    ("day", "after", "tomorrow"): 2,
    ("после", "завтра"): 2,
}
# Said about a follow-up these can only be a mistake, so they are refused rather than ignored.
_PAST_PHRASES: tuple[tuple[str, ...], ...] = (
    ("the", "day", "before", "yesterday"),
    ("day", "before", "yesterday"),
    ("yesterday",),
    ("вчера",),
    ("позавчера",),
)

_IN = {"in", "через", "after", "спустя"}
_ON = {"on", "на", "в", "во"}
_NEXT = {
    "next",
    "this",
    "coming",
    "следующий",
    "следующую",
    "следующее",
    "след",
    "ближайший",
    "ближайшую",
    "ближайшее",
    "этот",
    "эту",
    "это",
}
_TIME_PREPS = {"at", "в", "во", "к"}

_MINUTES, _HOURS, _DAYS, _WEEKS, _MONTHS, _YEARS = "min", "h", "d", "w", "mo", "y"
_UNITS: dict[str, str] = {}
for _unit, _words in {
    _MINUTES: "minute minutes min mins минута минуту минуты минут мин",
    _HOURS: "hour hours h hr hrs час часа часов ч",
    _DAYS: "day days d день дня дней дн д сутки суток",
    _WEEKS: "week weeks w wk wks неделя неделю недели недель нед н",
    _MONTHS: "month months mo mos месяц месяца месяцев мес",
    _YEARS: "year years yr yrs год года лет",
}.items():
    _UNITS.update(dict.fromkeys(_words.split(), _unit))

# Words that are a count and a unit at once.
_WHOLE_OFFSETS: dict[tuple[str, ...], tuple[Decimal, str]] = {
    ("полчаса",): (Decimal(30), _MINUTES),
    ("пол", "часа"): (Decimal(30), _MINUTES),
    ("half", "an", "hour"): (Decimal(30), _MINUTES),
    ("half", "hour"): (Decimal(30), _MINUTES),
    ("полгода",): (Decimal(6), _MONTHS),
    ("half", "a", "year"): (Decimal(6), _MONTHS),
}
_NUMBER_WORDS: dict[tuple[str, ...], Decimal] = {
    **{(word,): Decimal(1) for word in ("a", "an", "one", "один", "одну", "одна", "одни")},
    ("a", "couple", "of"): Decimal(2),
    ("couple", "of"): Decimal(2),
    ("couple",): Decimal(2),
    ("пару",): Decimal(2),
    ("пара",): Decimal(2),
    ("полтора",): Decimal("1.5"),
    ("полторы",): Decimal("1.5"),
}
for _number, _names in enumerate(
    (
        "two два две",
        "three три",
        "four четыре",
        "five пять",
        "six шесть",
        "seven семь",
        "eight восемь",
        "nine девять",
        "ten десять",
    ),
    start=2,
):
    _NUMBER_WORDS.update({(word,): Decimal(_number) for word in _names.split()})

# "next week" is read as "in a week": the same weekday, date only.
_NEXT_PERIOD: dict[tuple[str, ...], str] = {
    ("next", "week"): _WEEKS,
    ("на", "следующей", "неделе"): _WEEKS,
    ("следующей", "неделе"): _WEEKS,
    ("next", "month"): _MONTHS,
    ("в", "следующем", "месяце"): _MONTHS,
    ("next", "year"): _YEARS,
    ("в", "следующем", "году"): _YEARS,
}

_COMPACT = re.compile(r"^(\d{1,6})(w|wk|wks|d|h|hr|hrs|min|mins|mo|н|нед|д|дн|ч|мин|мес)$")
_COUNT = re.compile(r"^\d{1,9}(?:[.,]\d{1,3})?$")
_DMY = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?$")
_DMY_DASH = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_NUMBER = re.compile(r"^(\d{1,2})(?:st|nd|rd|th|-?го|-?е)?$")
_YEAR = re.compile(r"^(\d{4})(?:г|года)?$")
_YEAR_SUFFIX = {"г", "год", "года"}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_CLOCK_DOT = re.compile(r"^(\d{1,2})\.(\d{2})$")
_AMPM = re.compile(r"^(\d{1,2})(?::(\d{2}))?(am|pm|a\.m|p\.m)$")
# Up to four digits so that "в 2026" after "в" is refused as an hour, not silently dropped.
_HOUR = re.compile(r"^(\d{1,4})(?:ч|h)?$")
_AMPM_WORDS = {"am": "am", "a.m": "am", "pm": "pm", "p.m": "pm"}
_HOUR_WORDS = {"час", "часа", "часов", "ч", "h", "o'clock", "oclock"}
# "в 7 вечера" is 19:00, "в 3 дня" is 15:00, "в 2 ночи" is 02:00 but "в 11 ночи" is 23:00.
_DAY_PERIODS = {"утра": "morning", "дня": "afternoon", "вечера": "evening", "ночи": "night"}
_NAMED_TIMES = {"noon": time(12), "полдень": time(12), "midnight": time(0), "полночь": time(0)}


# -- small helpers ------------------------------------------------------------------------------


def _checked_time(hour: int, minute: int) -> time:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ParseError(ErrorCode.DATE_INVALID)
    return time(hour, minute)


def _twelve_hour(hour: int, minute: int, half: str) -> time:
    if not 1 <= hour <= 12:
        raise ParseError(ErrorCode.DATE_INVALID)
    hour %= 12
    if half == "pm":
        hour += 12
    return _checked_time(hour, minute)


def _with_period(hour: int, minute: int, period: str) -> time:
    if hour > 12:
        # "в 15 дня" is redundant but clear; "в 15 утра" is not.
        if period in ("afternoon", "evening"):
            return _checked_time(hour, minute)
        raise ParseError(ErrorCode.DATE_INVALID)
    if period == "morning":
        return _checked_time(hour % 12 if hour == 12 else hour, minute)
    if period in ("afternoon", "evening"):
        return _checked_time(hour if hour == 12 else hour + 12, minute)
    if hour == 12:
        return _checked_time(0, minute)
    return _checked_time(hour + 12 if hour >= 9 else hour, minute)


def _word(words: Sequence[str], i: int) -> str:
    return words[i] if i < len(words) else ""


# -- time of day --------------------------------------------------------------------------------


def _time_suffix(words: Sequence[str], i: int, hour: int, minute: int) -> tuple[time, int] | None:
    """am/pm or a Russian part of the day following a number: `3 pm`, `7 вечера`."""
    word = _word(words, i)
    if word in _AMPM_WORDS:
        return _twelve_hour(hour, minute, _AMPM_WORDS[word]), i + 1
    if word in _DAY_PERIODS:
        return _with_period(hour, minute, _DAY_PERIODS[word]), i + 1
    return None


def _bare_time(words: Sequence[str], i: int, *, after_date: bool) -> tuple[time, int] | None:
    """A time that needs no preposition: `15:00`, `3pm`, `3 pm`; `15.00` only after a date."""
    word = _word(words, i)
    if match := _CLOCK.match(word):
        hour, minute = int(match[1]), int(match[2])
        return _time_suffix(words, i + 1, hour, minute) or (_checked_time(hour, minute), i + 1)
    if match := _AMPM.match(word):
        return _twelve_hour(int(match[1]), int(match[2] or 0), _AMPM_WORDS[match[3]]), i + 1
    if word.isdigit() and len(word) <= 2 and _word(words, i + 1) in _AMPM_WORDS:
        return _time_suffix(words, i + 1, int(word), 0)
    if after_date and (match := _CLOCK_DOT.match(word)):
        hour, minute = int(match[1]), int(match[2])
        return _time_suffix(words, i + 1, hour, minute) or (_checked_time(hour, minute), i + 1)
    if word in _NAMED_TIMES:
        return _NAMED_TIMES[word], i + 1
    return None


def _time(words: Sequence[str], i: int, *, after_date: bool) -> tuple[time, int] | None:
    if _word(words, i) in _TIME_PREPS:
        j = i + 1
        word = _word(words, j)
        if (match := _CLOCK_DOT.match(word)) and not _CLOCK.match(word):
            # After "в"/"at" a dotted number is a time, never a date: "в 15.00".
            hour, minute = int(match[1]), int(match[2])
            return _time_suffix(words, j + 1, hour, minute) or (_checked_time(hour, minute), j + 1)
        if found := _bare_time(words, j, after_date=True):
            return found
        if match := _HOUR.match(word):
            hour = int(match[1])
            if suffix := _time_suffix(words, j + 1, hour, 0):
                return suffix
            end = j + 2 if _word(words, j + 1) in _HOUR_WORDS else j + 1
            if suffix := _time_suffix(words, end, hour, 0):
                return suffix
            return _checked_time(hour, 0), end
        return None
    return _bare_time(words, i, after_date=after_date)


# -- relative offsets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Offset:
    count: Decimal
    unit: str


def _count(words: Sequence[str], i: int) -> tuple[Decimal, int] | None:
    word = _word(words, i)
    if _COUNT.match(word):
        return Decimal(word.replace(",", ".")), i + 1
    if phrase := longest_phrase_at(words, i, _NUMBER_WORDS):
        return _NUMBER_WORDS[phrase], i + len(phrase)
    return None


def _offset_after_preposition(words: Sequence[str], i: int) -> tuple[_Offset, int] | None:
    if phrase := longest_phrase_at(words, i, _WHOLE_OFFSETS):
        count, unit = _WHOLE_OFFSETS[phrase]
        return _Offset(count, unit), i + len(phrase)
    if match := _COMPACT.match(_word(words, i)):
        return _Offset(Decimal(match[1]), _UNITS[match[2]]), i + 1
    if _word(words, i) in _UNITS:
        return _Offset(Decimal(1), _UNITS[words[i]]), i + 1
    if counted := _count(words, i):
        count, j = counted
        if _word(words, j) in _UNITS:
            return _Offset(count, _UNITS[words[j]]), j + 1
    return None


def _offset(words: Sequence[str], i: int) -> tuple[_Offset, int] | None:
    if _word(words, i) in _IN:
        return _offset_after_preposition(words, i + 1)
    if phrase := longest_phrase_at(words, i, _NEXT_PERIOD):
        return _Offset(Decimal(1), _NEXT_PERIOD[phrase]), i + len(phrase)
    # Only the glued form stands alone: "поговорили 2 часа" is how long, not when.
    if match := _COMPACT.match(_word(words, i)):
        return _Offset(Decimal(match[1]), _UNITS[match[2]]), i + 1
    return None


def _apply_offset(offset: _Offset, now: datetime) -> date | datetime:
    """A date for day-or-longer offsets, an exact local moment for hours and minutes."""
    try:
        return _shift(offset.unit, offset.count, now)
    except ParseError:
        raise
    except (OverflowError, ValueError, InvalidOperation) as exc:
        # "через 100000 лет" runs off the calendar.
        raise ParseError(ErrorCode.DATE_INVALID) from exc


def _shift(unit: str, count: Decimal, now: datetime) -> date | datetime:
    if unit in (_MINUTES, _HOURS):
        minutes = count * 60 if unit == _HOURS else count
        delta = timedelta(minutes=int(minutes.to_integral_value(ROUND_HALF_UP)))
        # Through UTC so that "in 2 hours" across a DST change is two real hours.
        moment = (now.astimezone(UTC) + delta).astimezone(now.tzinfo)
        return moment.replace(second=0, microsecond=0)
    today = now.date()
    if unit in (_DAYS, _WEEKS):
        days = count * (7 if unit == _WEEKS else 1)
        return today + timedelta(days=int(days.to_integral_value(ROUND_HALF_UP)))
    months = count * (12 if unit == _YEARS else 1)
    if months != months.to_integral_value():
        raise ParseError(ErrorCode.DATE_INVALID)
    return today + relativedelta(months=int(months))


# -- calendar days ------------------------------------------------------------------------------


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ParseError(ErrorCode.DATE_INVALID) from exc


def _resolve_day(day: int, month: int, year: int | None, today: date) -> date:
    """An explicit year must not be in the past; without one the nearest such day ahead is meant."""
    if year is not None:
        found = _make_date(year, month, day)
        if found < today:
            raise ParseError(ErrorCode.DATE_PAST)
        return found
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ParseError(ErrorCode.DATE_INVALID)
    for candidate_year in (today.year, today.year + 1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    # 31.02 never exists; 29.02 does not in the coming twelve months either.
    raise ParseError(ErrorCode.DATE_INVALID)


def _full_year(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _numeric_date(words: Sequence[str], i: int, today: date) -> tuple[date, int] | None:
    word = _word(words, i)
    if match := _DMY.match(word):
        year = _full_year(match[3]) if match[3] else None
        return _resolve_day(int(match[1]), int(match[2]), year, today), i + 1
    if match := _ISO.match(word):
        return _resolve_day(int(match[3]), int(match[2]), int(match[1]), today), i + 1
    if match := _DMY_DASH.match(word):
        return _resolve_day(int(match[1]), int(match[2]), int(match[3]), today), i + 1
    return None


def _year_after(words: Sequence[str], i: int) -> tuple[int | None, int]:
    if match := _YEAR.match(_word(words, i)):
        end = i + 2 if _word(words, i + 1) in _YEAR_SUFFIX else i + 1
        return int(match[1]), end
    return None, i


def _named_month_date(words: Sequence[str], i: int, today: date) -> tuple[date, int] | None:
    months = _months()
    day_match = _DAY_NUMBER.match(_word(words, i))
    if day_match:
        # "15 декабря", "15 dec 2026", "15th of december".
        j = i + 2 if _word(words, i + 1) == "of" else i + 1
        if _word(words, j) in months:
            year, end = _year_after(words, j + 1)
            return _resolve_day(int(day_match[1]), months[words[j]], year, today), end
        return None
    if _word(words, i) in months and (day_match := _DAY_NUMBER.match(_word(words, i + 1))):
        year, end = _year_after(words, i + 2)
        month = months[words[i]]
        return _resolve_day(int(day_match[1]), month, year, today), end
    return None


def _weekday(words: Sequence[str], i: int, today: date) -> tuple[date, int] | None:
    j = i
    if _word(words, j) in _ON:
        j += 1
    if _word(words, j) in _NEXT:
        j += 1
    weekdays = _weekdays()
    if _word(words, j) not in weekdays:
        return None
    # Strictly after today: "friday" said on a Friday is a week away.
    ahead = (weekdays[words[j]] - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead), j + 1


def _keyword_day(words: Sequence[str], i: int, today: date) -> tuple[date, int] | None:
    if longest_phrase_at(words, i, _PAST_PHRASES):
        raise ParseError(ErrorCode.DATE_PAST)
    if phrase := longest_phrase_at(words, i, _DAY_PHRASES):
        return today + timedelta(days=_DAY_PHRASES[phrase]), i + len(phrase)
    if _word(words, i) in _TODAY_WORDS:
        return today + timedelta(days=_TODAY_WORDS[words[i]]), i + 1
    return None


_DayParser = Callable[[Sequence[str], int, date], tuple[date, int] | None]
_DAY_PARSERS: tuple[_DayParser, ...] = (_keyword_day, _weekday, _numeric_date, _named_month_date)


def _day(words: Sequence[str], i: int, now: datetime) -> tuple[date | datetime, int] | None:
    """A calendar day (date) or, for `in 2 hours`, an exact local moment (datetime)."""
    if found := _offset(words, i):
        offset, end = found
        return _apply_offset(offset, now), end
    today = now.date()
    for parser in _DAY_PARSERS:
        if day := parser(words, i, today):
            return day
    # "on friday", "на завтра", "на 15.12": the preposition adds nothing.
    if _word(words, i) in _ON:
        for parser in _DAY_PARSERS:
            if day := parser(words, i + 1, today):
                return day
    return None


# -- public -------------------------------------------------------------------------------------


_LONGEST = 12


def _floor_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _time_only(at: time, now: datetime) -> When:
    today = now.date()
    if datetime.combine(today, at, tzinfo=now.tzinfo) > now:
        return When(today, at)
    return When(today + timedelta(days=1), at)


def parse_when_prefix(tokens: Sequence[str], now: datetime) -> tuple[When, int] | None:
    """The longest date expression at the start of `tokens`, and how many tokens it took.

    `now` is aware and already in the member's zone. None when the tokens do not start a date;
    ParseError(DATE_INVALID or DATE_PAST) when they clearly do but it is impossible or past.
    """
    # No date expression is longer than a dozen words; long comments are not normalised whole.
    words = [norm(token) for token in tokens[:_LONGEST]]
    at: time | None = None
    i = 0
    if leading := _time(words, 0, after_date=False):
        at, i = leading
    found = _day(words, i, now)
    if found is None:
        if at is None:
            return None
        return _time_only(at, now), i
    day, end = found
    if isinstance(day, datetime):
        if at is not None:
            # "15:00 in 2 hours" names two moments; the first one wins, the rest is text.
            return _time_only(at, now), i
        return When(day.date(), day.time()), end
    if at is None and (trailing := _time(words, end, after_date=True)):
        at, end = trailing
    if at is not None and datetime.combine(day, at, tzinfo=now.tzinfo) < _floor_minute(now):
        raise ParseError(ErrorCode.DATE_PAST)
    return When(day, at), end


def parse_when(text: str, now: datetime) -> When:
    """The whole text must be one date expression."""
    tokens = tokenize(text)
    found = parse_when_prefix(tokens, now)
    if found is None or found[1] != len(tokens):
        raise ParseError(ErrorCode.DATE_INVALID)
    return found[0]
