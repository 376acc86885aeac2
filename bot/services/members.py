"""A member's own preferences (language, time zone, working hours), and what their writing to
the bot tells us about them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.config import SUPPORTED_LANGUAGES, RuleDefaults
from bot.errors import ErrorCode
from bot.services.access import require_role
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
