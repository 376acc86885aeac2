"""Report periods: calendar month, quarter, year, or any span of days (`01.09-30.11`).

A period is a closed range of local dates [start, end]. Its "previous" period is the one of the
same kind right before it (the month before, the quarter before, the year before); for a custom
span it is the span of the same number of days ending the day before it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.errors import ErrorCode
from bot.parsing.dates import within_range
from bot.parsing.errors import ParseError

MONTH, QUARTER, YEAR, CUSTOM = "M", "Q", "Y", "C"

_WORDS = {
    "month": MONTH,
    "m": MONTH,
    "месяц": MONTH,
    "мес": MONTH,
    "quarter": QUARTER,
    "q": QUARTER,
    "квартал": QUARTER,
    "кв": QUARTER,
    "year": YEAR,
    "y": YEAR,
    "год": YEAR,
}
_DAY = r"(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?"
_SPAN = re.compile(rf"^{_DAY}\s*[-–—]\s*{_DAY}$")
_KEY = re.compile(r"^(?:M(\d{4})(\d{2})|Q(\d{4})([1-4])|Y(\d{4})|C(\d{8})-(\d{8}))$")
# A span longer than this is a typo rather than a question (and a heavy query).
MAX_SPAN_DAYS = 366 * 3


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def key(self) -> str:
        """Compact and stable: goes into callback data and cache keys."""
        if self.kind == MONTH:
            return f"M{self.start:%Y%m}"
        if self.kind == QUARTER:
            return f"Q{self.start.year}{(self.start.month - 1) // 3 + 1}"
        if self.kind == YEAR:
            return f"Y{self.start.year}"
        return f"C{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def previous(self) -> Period:
        if self.kind == MONTH:
            return month_of(self.start - timedelta(days=1))
        if self.kind == QUARTER:
            return quarter_of(self.start - timedelta(days=1))
        if self.kind == YEAR:
            return year_of(self.start - timedelta(days=1))
        end = self.start - timedelta(days=1)
        return Period(CUSTOM, end - timedelta(days=self.days - 1), end)

    def ended(self, today: date) -> bool:
        return self.end < today

    def elapsed_days(self, today: date) -> int:
        """Days of the period up to today (all of them once it has ended); at least one."""
        last = min(self.end, today)
        return max((last - self.start).days + 1, 1)


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return Period(MONTH, start, nxt - timedelta(days=1))


def quarter_of(day: date) -> Period:
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    nxt = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return Period(QUARTER, start, nxt - timedelta(days=1))


def year_of(day: date) -> Period:
    return Period(YEAR, date(day.year, 1, 1), date(day.year, 12, 31))


def current(kind: str, today: date) -> Period:
    return {MONTH: month_of, QUARTER: quarter_of, YEAR: year_of}[kind](today)


def _day(d: str, m: str, y: str | None, default_year: int) -> date:
    year = default_year if y is None else (int(y) + 2000 if len(y) == 2 else int(y))
    try:
        day = date(year, int(m), int(d))
    except ValueError as exc:
        raise ParseError(ErrorCode.PORTFOLIO_PERIOD_INVALID) from exc
    if not within_range(day):
        raise ParseError(ErrorCode.PORTFOLIO_PERIOD_INVALID)
    return day


def parse_period(text: str, today: date) -> Period | None:
    """The period a word names, relative to `today`; None when the text is no period at all.

    Raises ParseError for something that looks like a span but is not a valid one."""
    word = text.strip().casefold()
    if word in _WORDS:
        return current(_WORDS[word], today)
    found = _SPAN.match(word)
    if found is None:
        return None
    d1, m1, y1, d2, m2, y2 = found.groups()
    end = _day(d2, m2, y2, today.year)
    start = _day(d1, m1, y1, end.year)
    if start > end and y1 is None:
        # `01.11-31.01`: the span crosses New Year, the start is in the year before.
        start = _day(d1, m1, None, end.year - 1)
    if start > end:
        raise ParseError(ErrorCode.PORTFOLIO_PERIOD_INVALID)
    if (end - start).days + 1 > MAX_SPAN_DAYS:
        raise ParseError(ErrorCode.PERIOD_TOO_LONG)
    return Period(CUSTOM, start, end)


def period_from_key(key: str) -> Period | None:
    """Back from callback data; None for anything malformed (buttons can be forged)."""
    found = _KEY.match(key)
    if found is None:
        return None
    my, mm, qy, qn, yy, c1, c2 = found.groups()
    try:
        if my:
            period = month_of(date(int(my), int(mm), 1))
        elif qy:
            period = quarter_of(date(int(qy), (int(qn) - 1) * 3 + 1, 1))
        elif yy:
            period = year_of(date(int(yy), 1, 1))
        else:
            start = date(int(c1[:4]), int(c1[4:6]), int(c1[6:]))
            end = date(int(c2[:4]), int(c2[4:6]), int(c2[6:]))
            if start > end or (end - start).days + 1 > MAX_SPAN_DAYS:
                return None
            period = Period(CUSTOM, start, end)
    except (ValueError, OverflowError):  # M999912: its month ends past date.max
        return None
    # Y0001 is well-formed, but its previous year is not a date.
    return period if within_range(period.start) and within_range(period.end) else None


def months_back(day: date, months: int) -> date:
    """First day of the month `months - 1` months before `day`'s month (a window of `months`)."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1
