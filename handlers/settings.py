"""`/settings`: the member's time zone, language and working hours; the owner's team periods
and weekly report."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings
from bot.errors import ErrorCode
from bot.i18n import _, current_locale, fmt_time, set_locale
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.telegram.callbacks import SetLanguage
from bot.telegram.replies import Replies
from bot.telegram.views.weekly import weekly_settings_text
from storage.dto import MemberDTO, TeamDTO

_KEYS = {
    "tz": "tz",
    "timezone": "tz",
    "зона": "tz",
    "пояс": "tz",
    "часовой": "tz",
    "lang": "lang",
    "language": "lang",
    "язык": "lang",
    "hours": "hours",
    "digest": "digest",
    "дайджест": "digest",
    "сводка": "digest",
    "часы": "hours",
    "время": "hours",
}


# `/settings weekly …`: the owner's weekly report.
_WEEKLY = frozenset({"weekly", "week", "report", "отчёт", "отчет", "неделя", "еженедельный"})

LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}


def settings_text(member: MemberDTO) -> str:
    return _(
        "<b>Your settings</b>\n"
        "Time zone: {tz}\n"
        "Language: {lang}\n"
        "Working hours: {start}–{end}\n"
        "Morning digest: {digest}\n\n"
        "Change:\n"
        "<code>/settings tz Europe/Moscow</code> (or a city, or <code>+3</code>)\n"
        "<code>/settings hours 9-18</code>\n"
        "<code>/settings digest 8:30</code>\n"
        "<code>/settings lang en</code> or the buttons below"
    ).format(
        tz=member.timezone,
        lang=LANGUAGE_NAMES.get(member.language or current_locale(), "—"),
        start=fmt_time(member.work_start),
        end=fmt_time(member.work_end),
        digest=fmt_time(member.digest_time),
    )


def team_settings_text(team: TeamDTO) -> str:
    return _(
        "<b>Team periods, in days</b> (owner: <code>/settings team quiet 10</code>)\n"
        "Next contact after a talk: hot {hot}, warm {warm}, cold {cold} "
        "(<code>hot</code>, <code>warm</code>, <code>cold</code>)\n"
        "Retry after no answer: {retry} (<code>retry</code>)\n"
        "Hot client going quiet: {quiet} (<code>quiet</code>)\n"
        "Hot cools to warm without activity: {cool} (<code>cool</code>)\n"
        "Stuck lead: nudge after {stuck}, tell the owner {escalate} later, archive {archive} "
        "after that (<code>stuck</code>, <code>escalate</code>, <code>archive</code>)"
    ).format(
        hot=team.followup_hot_days,
        warm=team.followup_warm_days,
        cold=team.followup_cold_days,
        retry=team.no_answer_retry_days,
        quiet=team.quiet_hot_days,
        cool=team.hot_to_warm_days,
        stuck=team.stuck_lead_days,
        escalate=team.stuck_escalate_days,
        archive=team.stuck_archive_days,
    )


async def _weekly_settings(args: str, actor: Actor, services: Services, replies: Replies) -> None:
    team_settings = services.team_settings
    if not args:
        team_settings.check_weekly_view(actor)
        replies.answer(weekly_settings_text(actor.team, actor.member))
        return
    team = await team_settings.set_weekly(actor, args)
    replies.answer(_("Saved.") + "\n\n" + weekly_settings_text(team, actor.member))


async def _team_settings(args: str, actor: Actor, services: Services, replies: Replies) -> None:
    if not args:
        replies.answer(team_settings_text(actor.team))
        return
    word, _sep, value = args.partition(" ")
    team = await services.team_settings.set_period(actor, word, value.strip())
    replies.answer(_("Saved.") + "\n\n" + team_settings_text(team))


def language_keyboard() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        b.button(text=name, callback_data=SetLanguage(code=code))
    return b.as_markup()


async def change_settings(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    settings: Settings,
    replies: Replies,
) -> None:
    args = (command.args or "").strip()
    if not args:
        replies.answer(settings_text(actor.member), reply_markup=language_keyboard())
        return
    word, _sep, value = args.partition(" ")
    if word.casefold() in ("team", "команда"):
        await _team_settings(value.strip(), actor, services, replies)
        return
    if word.casefold() in _WEEKLY:
        await _weekly_settings(value.strip(), actor, services, replies)
        return
    key = _KEYS.get(word.casefold())
    value = value.strip()
    if key is None or not value:
        raise DomainError(ErrorCode.SETTINGS_USAGE)
    member_settings = services.member_settings
    if key == "tz":
        member = await member_settings.set_timezone(actor, value)
    elif key == "hours":
        member = await member_settings.set_hours(actor, value)
    elif key == "digest":
        member = await member_settings.set_digest_time(actor, value)
    else:
        member = await member_settings.set_language(actor, value)
        set_locale(member.language or settings.default_language)
    # The text offers "the buttons below": they are always there.
    replies.answer(_("Saved.") + "\n\n" + settings_text(member), reply_markup=language_keyboard())


async def choose_language(
    query: CallbackQuery,
    callback_data: SetLanguage,
    actor: Actor,
    services: Services,
    settings: Settings,
    replies: Replies,
) -> None:
    member = await services.member_settings.set_language(actor, callback_data.code)
    set_locale(member.language or settings.default_language)
    replies.answer_callback(_("Saved."))
    replies.edit(settings_text(member), language_keyboard())


def build_router() -> Router:
    router = Router(name="settings")
    router.message.register(change_settings, Command("settings"))
    router.callback_query.register(choose_language, SetLanguage.filter())
    return router
