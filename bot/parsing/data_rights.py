"""Arguments of `/export`, `/audit` and `/consent`, in English or Russian, read into the requests
the export and audit services take."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.errors import ErrorCode
from bot.parsing.dates import within_range
from bot.parsing.errors import ParseError
from bot.parsing.new_client import clean_tag, consent_word
from storage.enums import Consent

XLSX, CSV = "xlsx", "csv"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    fmt: str = XLSX
    manager: str | None = None  # a member's name as typed
    segment: str | None = None
    tag: str | None = None
    activities: bool = False


@dataclass(frozen=True, slots=True)
class AuditQuery:
    member: str | None = None  # a name as typed; resolved by the audit service
    member_id: int | None = None  # already resolved (a page button)
    group: str | None = None  # a key of bot.services.audit.ACTION_GROUPS
    since: date | None = None  # local days, inclusive
    until: date | None = None


_WITH_ACTIVITIES = re.compile(
    r"(?:^|\s)(?:with\s+(?:activities|history)|с\s+(?:историей|активностями|действиями))(?=\s|$)",
    re.I,
)
_FORMATS = {"csv": CSV, "xlsx": XLSX, "excel": XLSX, "эксель": XLSX}
_SEGMENT_WORDS = ("segment", "сегмент")
_ALL_WORDS = ("all", "все", "всё")


def parse_export(args: str, *, max_tag_chars: int) -> ExportRequest:
    """`[csv|xlsx] [all | <manager> | segment <name> | #tag] [with activities | с историей]`."""
    activities = bool(_WITH_ACTIVITIES.search(args))
    text = _WITH_ACTIVITIES.sub(" ", args)
    fmt = XLSX
    words: list[str] = []
    for word in text.split():
        if word.casefold() in _FORMATS and not words:
            fmt = _FORMATS[word.casefold()]
        else:
            words.append(word)
    if words and words[-1].casefold() in _FORMATS:
        fmt = _FORMATS[words.pop().casefold()]
    if not words or (len(words) == 1 and words[0].casefold() in _ALL_WORDS):
        return ExportRequest(fmt=fmt, activities=activities)
    if words[0].casefold() in _SEGMENT_WORDS:
        segment = " ".join(words[1:]).strip()
        if not segment:
            raise ParseError(ErrorCode.EXPORT_USAGE)
        return ExportRequest(fmt=fmt, segment=segment, activities=activities)
    if words[0].startswith("#"):
        tag = clean_tag(words[0], max_tag_chars)
        if not tag or len(words) > 1:
            raise ParseError(ErrorCode.EXPORT_USAGE)
        return ExportRequest(fmt=fmt, tag=tag, activities=activities)
    return ExportRequest(fmt=fmt, manager=" ".join(words), activities=activities)


_ACTION_WORDS = {
    "views": "views",
    "view": "views",
    "cards": "views",
    "card_view": "views",
    "просмотры": "views",
    "карточки": "views",
    "search": "search",
    "searches": "search",
    "поиск": "search",
    "export": "export",
    "exports": "export",
    "экспорт": "export",
    "import": "import",
    "imports": "import",
    "импорт": "import",
    "transfer": "transfer",
    "transfers": "transfer",
    "передача": "transfer",
    "передачи": "transfer",
    "roles": "roles",
    "role": "roles",
    "роли": "roles",
    "erase": "erase",
    "forget": "erase",
    "erasures": "erase",
    "удаление": "erase",
    "удаления": "erase",
    "alerts": "alerts",
    "тревоги": "alerts",
    "consent": "consent",
    "согласие": "consent",
    "edits": "edits",
    "edit": "edits",
    "правки": "edits",
    "изменения": "edits",
}
_PERIODS = {
    "today": 0,
    "сегодня": 0,
    "week": 6,
    "неделя": 6,
    "неделю": 6,
    "month": 29,
    "месяц": 29,
}
_DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?$")


def _day(text: str, today: date) -> date:
    match = _DAY.match(text)
    if not match:
        raise ParseError(ErrorCode.PERIOD_INVALID, value=text)
    day, month, year = int(match[1]), int(match[2]), match[3]
    full_year = today.year if year is None else int(year) + (2000 if len(year) == 2 else 0)
    try:
        value = date(full_year, month, day)
    except ValueError as exc:
        raise ParseError(ErrorCode.PERIOD_INVALID, value=text) from exc
    if year is None and value > today:
        value = value.replace(year=value.year - 1)  # "15.12" said in November is last December
    if not within_range(value):
        raise ParseError(ErrorCode.PERIOD_INVALID, value=text)
    return value


def parse_audit(args: str, today: date) -> AuditQuery:
    """`/audit [member] [action] [today|week|month|dd.mm|dd.mm-dd.mm]`, in any order."""
    group: str | None = None
    since: date | None = None
    until: date | None = None
    rest: list[str] = []
    for word in args.split():
        folded = word.casefold()
        if folded in _ACTION_WORDS and group is None:
            group = _ACTION_WORDS[folded]
        elif folded in _PERIODS and since is None:
            since, until = today - timedelta(days=_PERIODS[folded]), today
        elif word[:1].isdigit() and since is None:
            first, _sep, second = word.partition("-")
            since = _day(first, today)
            until = _day(second, today) if second else since
            if since > until:
                raise ParseError(ErrorCode.PERIOD_INVALID, value=word)
        else:
            rest.append(word)
    return AuditQuery(member=" ".join(rest) or None, group=group, since=since, until=until)


def split_consent(args: str) -> tuple[str, Consent]:
    """`Ivanov yes` -> ("Ivanov", yes): the value is the last word."""
    words = args.split()
    if len(words) < 2 or consent_word(words[-1]) is None:
        raise ParseError(ErrorCode.CONSENT_USAGE)
    consent = consent_word(words[-1])
    assert consent is not None
    return " ".join(words[:-1]), consent
