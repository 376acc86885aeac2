"""A member's own preferences (language, time zone, working hours), and what their writing to
the bot tells us about them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.config import SUPPORTED_LANGUAGES, RuleDefaults
from bot.errors import ErrorCode
from bot.services.access import require_role, sees_whole_team
from bot.services.context import Actor, ServiceContext
from bot.services.errors import DomainError
from storage.dto import MemberDTO, TeamDTO
from storage.enums import Role

_OFFSET = re.compile(r"^(?:utc|gmt|мск)?\s*([+-])\s*(\d{1,2})$", re.I)
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")
_HOURS = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-–—]\s*(\d{1,2})(?::(\d{2}))?$")
_CITY_ALIASES = {
    "москва": "Europe/Moscow",
    "moscow": "Europe/Moscow",
    "мск": "Europe/Moscow",
    "msk": "Europe/Moscow",
    "питер": "Europe/Moscow",
    "санкт-петербург": "Europe/Moscow",
    "екатеринбург": "Asia/Yekaterinburg",
    "новосибирск": "Asia/Novosibirsk",
    "калининград": "Europe/Kaliningrad",
    "самара": "Europe/Samara",
    "омск": "Asia/Omsk",
    "красноярск": "Asia/Krasnoyarsk",
    "иркутск": "Asia/Irkutsk",
    "владивосток": "Asia/Vladivostok",
    "минск": "Europe/Minsk",
    "алматы": "Asia/Almaty",
    "ташкент": "Asia/Tashkent",
    "киев": "Europe/Kyiv",
    "london": "Europe/London",
    "berlin": "Europe/Berlin",
}


def parse_timezone(text: str) -> str:
    """IANA name ("Europe/Berlin"), a known city, or a whole-hour offset ("+3", "UTC+5")."""
    raw = text.strip()
    if not raw:
        raise DomainError(ErrorCode.TIMEZONE_INVALID, value=text)
    alias = _CITY_ALIASES.get(raw.casefold())
    if alias:
        return alias
    offset = _OFFSET.match(raw)
    if offset:
        hours = int(offset.group(2))
        if hours > 14:
            raise DomainError(ErrorCode.TIMEZONE_INVALID, value=text)
        if hours == 0:
            return "UTC"
        # IANA's Etc zones invert the sign: Etc/GMT-3 is UTC+3.
        sign = "-" if offset.group(1) == "+" else "+"
        return f"Etc/GMT{sign}{hours}"
    lookup = {name.casefold(): name for name in available_timezones()}
    name = lookup.get(raw.casefold()) or lookup.get(raw.casefold().replace(" ", "_"))
    if name is None:
        suffix = "/" + raw.casefold().replace(" ", "_")
        matches = [full for folded, full in lookup.items() if folded.endswith(suffix)]
        name = matches[0] if len(matches) == 1 else None
    if name is None:
        raise DomainError(ErrorCode.TIMEZONE_INVALID, value=text)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(ErrorCode.TIMEZONE_INVALID, value=text) from exc
    return name


def parse_clock_time(text: str) -> time:
    """`8`, `08:30`, `8.30`: a time of day."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise DomainError(ErrorCode.DIGEST_TIME_INVALID, value=text)
    try:
        return time(int(match.group(1)), int(match.group(2) or 0))
    except ValueError as exc:
        raise DomainError(ErrorCode.DIGEST_TIME_INVALID, value=text) from exc


def parse_hours(text: str) -> tuple[time, time]:
    match = _HOURS.match(text.strip())
    if not match:
        raise DomainError(ErrorCode.HOURS_INVALID, value=text)
    h1, m1, h2, m2 = match.groups()
    try:
        start = time(int(h1), int(m1 or 0))
        end = time(int(h2), int(m2 or 0))
    except ValueError as exc:
        raise DomainError(ErrorCode.HOURS_INVALID, value=text) from exc
    if start >= end:
        raise DomainError(ErrorCode.HOURS_INVALID, value=text)
    return start, end


class PresenceService:
    """A member wrote to the bot: that is news about them, applied before their update is
    handled (bot/telegram/middlewares.py calls `seen` for every update of an active member)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def seen(self, member: MemberDTO, telegram_language: str | None) -> MemberDTO:
        """The member as they are now: reachable again if they had blocked the bot (the pushes
        dropped because of the block are owed again, marked late), and with the language their
        Telegram app uses now (the fallback until they choose one in /settings)."""
        uow = self._ctx.uow
        if member.unreachable_at is not None:
            # They wrote to us, so they unblocked the bot: deliveries resume.
            await uow.members.update(member.team_id, member.id, unreachable_at=None)
            await uow.outbox.reopen_blocked(member.id, self._ctx.now())
            member = replace(member, unreachable_at=None)
        if telegram_language and telegram_language != member.telegram_language:
            await uow.members.update(member.team_id, member.id, telegram_language=telegram_language)
            member = replace(member, telegram_language=telegram_language)
        return member


class MemberSettingsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _save(self, actor: Actor, **values: object) -> MemberDTO:
        await self._ctx.uow.members.update(actor.team.id, actor.member.id, **values)
        return replace(actor.member, **values)  # type: ignore[arg-type]

    async def set_language(self, actor: Actor, language: str) -> MemberDTO:
        code = language.strip().casefold()[:2]
        if code not in SUPPORTED_LANGUAGES:
            raise DomainError(ErrorCode.LANGUAGE_INVALID, value=language)
        return await self._save(actor, language=code)

    async def set_timezone(self, actor: Actor, text: str) -> MemberDTO:
        return await self._save(actor, timezone=parse_timezone(text))

    async def set_digest_time(self, actor: Actor, text: str) -> MemberDTO:
        return await self._save(actor, digest_time=parse_clock_time(text))

    async def set_hours(self, actor: Actor, text: str) -> MemberDTO:
        start, end = parse_hours(text)
        return await self._save(actor, work_start=start, work_end=end)


# `/settings team <word> <days>`: the owner's names for the team's periods (RuleDefaults).
TEAM_PERIODS = {
    "hot": "followup_hot_days",
    "warm": "followup_warm_days",
    "cold": "followup_cold_days",
    "retry": "no_answer_retry_days",
    "quiet": "quiet_hot_days",
    "cool": "hot_to_warm_days",
    "stuck": "stuck_lead_days",
    "escalate": "stuck_escalate_days",
    "archive": "stuck_archive_days",
}


_SWITCH = {
    "on": True,
    "yes": True,
    "вкл": True,
    "включить": True,
    "да": True,
    "off": False,
    "no": False,
    "выкл": False,
    "выключить": False,
    "нет": False,
}
_HEADS = frozenset({"heads", "head", "руководители", "руководитель", "руководителям"})
_DIGEST_TIME = frozenset({"digest", "дайджест", "сводка", "сводки"})
_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("monday", "mon", "понедельник", "пн", "пнд"),
        ("tuesday", "tue", "вторник", "вт"),
        ("wednesday", "wed", "среда", "среду", "ср"),
        ("thursday", "thu", "четверг", "чт"),
        ("friday", "fri", "пятница", "пятницу", "пт"),
        ("saturday", "sat", "суббота", "субботу", "сб"),
        ("sunday", "sun", "воскресенье", "вс"),
    )
):
    for _name in _names:
        _WEEKDAYS[_name] = _number


@dataclass(frozen=True, slots=True)
class WeeklyChange:
    """What `/settings weekly …` asks to change; None: leave as it is."""

    enabled: bool | None = None
    day: int | None = None
    at: time | None = None
    digest_time: bool = False  # back to each recipient's own digest time
    heads: bool | None = None

    @property
    def empty(self) -> bool:
        return self == WeeklyChange()


def parse_weekly(text: str) -> WeeklyChange:
    """`on`, `off`, a day (`monday`, `пн`), a time (`9:30`), `digest` (each one's digest
    time), `heads on|off`, in any order; every word must be understood."""
    words = text.replace(",", " ").casefold().split()
    change = WeeklyChange()
    index = 0
    while index < len(words):
        word = words[index].strip(".")
        if word in _HEADS:
            following = words[index + 1] if index + 1 < len(words) else ""
            if following not in _SWITCH:
                raise DomainError(ErrorCode.WEEKLY_USAGE)
            change = replace(change, heads=_SWITCH[following])
            index += 2
            continue
        if word in _SWITCH:
            change = replace(change, enabled=_SWITCH[word])
        elif word in _WEEKDAYS:
            change = replace(change, day=_WEEKDAYS[word])
        elif word in _DIGEST_TIME:
            change = replace(change, digest_time=True, at=None)
        elif word[:1].isdigit():
            try:
                at = parse_clock_time(word)
            except DomainError as exc:
                raise DomainError(ErrorCode.WEEKLY_TIME_INVALID, value=word) from exc
            change = replace(change, at=at, digest_time=False)
        else:
            raise DomainError(ErrorCode.WEEKLY_USAGE)
        index += 1
    return change


class TeamSettingsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def set_period(self, actor: Actor, word: str, value: str) -> TeamDTO:
        require_role(actor, Role.OWNER)
        field = TEAM_PERIODS.get(word.casefold())
        if field is None:
            raise DomainError(ErrorCode.TEAM_PERIOD_UNKNOWN, value=word)
        bounds = RuleDefaults.model_fields[field].metadata
        low = next((b.ge for b in bounds if hasattr(b, "ge")), 1)
        high = next((b.le for b in bounds if hasattr(b, "le")), 3650)
        if not value.isdigit() or not low <= int(value) <= high:
            raise DomainError(ErrorCode.TEAM_PERIOD_INVALID, low=low, high=high)
        changed: dict[str, Any] = {field: int(value)}
        await self._ctx.uow.teams.update(actor.team.id, **changed)
        return replace(actor.team, **changed)

    def check_weekly_view(self, actor: Actor) -> None:
        """The weekly report goes to owners and heads: they may see how it is set."""
        if not sees_whole_team(actor):
            raise DomainError(ErrorCode.NOT_ALLOWED_TEAM)

    async def set_weekly(self, actor: Actor, text: str) -> TeamDTO:
        """The owner's choice of the weekly report: on or off, day, time, heads."""
        require_role(actor, Role.OWNER)
        change = parse_weekly(text)
        if change.empty:
            raise DomainError(ErrorCode.WEEKLY_USAGE)
        team = actor.team
        changed: dict[str, Any] = {}
        if change.enabled is not None and change.enabled != team.weekly_enabled:
            changed["weekly_enabled"] = change.enabled
        if change.day is not None:
            changed["weekly_day"] = change.day
        if change.at is not None or change.digest_time:
            changed["weekly_time"] = change.at
        if change.heads is not None:
            changed["weekly_heads"] = change.heads
        stored = dict(changed)
        if changed.get("weekly_enabled"):
            # Turned on now: weeks it was off are not owed (bot/services/weekly.py).
            stored["weekly_since"] = self._ctx.now()
        if stored:
            await self._ctx.uow.teams.update(team.id, **stored)
        return replace(team, **changed)
