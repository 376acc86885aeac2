"""The command menu Telegram shows next to the input field, in both languages."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, MenuButtonWebApp, WebAppInfo

from bot.config import SUPPORTED_LANGUAGES
from bot.i18n import N_, _, use_locale

MENU = (
    ("today", N_("Due today and overdue")),
    ("call", N_("Log a call: /call Ivanov done")),
    ("note", N_("Add a note to a client")),
    ("meet", N_("Plan or log a meeting")),
    ("next", N_("Set the next contact date")),
    ("deal", N_("Record a deal: /deal Ivanov 150000")),
    ("add", N_("Add a client")),
    ("client", N_("Open a client card")),
    ("find", N_("Search clients")),
    ("list", N_("Lists: hot, overdue, leads, #tag")),
    ("hot", N_("Mark a client hot")),
    ("warm", N_("Mark a client warm")),
    ("cold", N_("Mark a client cold")),
    ("portfolio", N_("Portfolio: the seven control points")),
    ("settings", N_("Time zone, language, working hours")),
    ("invite", N_("Invite a team member (owner)")),
    ("campaign", N_("Follow-ups for a segment or #tag (owner)")),
    ("import", N_("Import clients from Excel or CSV (owner)")),
    ("consent", N_("Client's consent: /consent Ivanov yes")),
    ("export", N_("Export clients to Excel or CSV (owner)")),
    ("audit", N_("Who viewed and exported what (owner)")),
    ("forget", N_("Erase a client's personal data (owner)")),
    ("team", N_("The team: roles, removal, reassigning (owner, head)")),
    ("transfer", N_("Move clients between managers (owner, head)")),
    ("owner", N_("Hand the team's ownership over (owner)")),
    ("help", N_("Help with examples")),
    ("cancel", N_("Stop the current step-by-step command")),
)


# The menu button that opens the Mini App (MINIAPP_URL): one for every chat, so in the team's
# default language (setChatMenuButton has no per-language variant).
MINIAPP_BUTTON = N_("Sales base")


def commands_for(language: str) -> list[BotCommand]:
    with use_locale(language):
        return [BotCommand(command=name, description=_(text)) for name, text in MENU]


async def register_commands(bot: Bot, default_language: str) -> None:
    scope = BotCommandScopeAllPrivateChats()
    for language in SUPPORTED_LANGUAGES:
        await bot.set_my_commands(commands_for(language), scope=scope, language_code=language)
    # Users whose Telegram is in a third language see the team's default.
    await bot.set_my_commands(commands_for(default_language), scope=scope)


async def set_miniapp_button(bot: Bot, url: str, default_language: str) -> None:
    """Every private chat's menu button opens the Mini App at `url`."""
    with use_locale(default_language):
        text = _(MINIAPP_BUTTON)
    await bot.set_chat_menu_button(
        menu_button=MenuButtonWebApp(text=text, web_app=WebAppInfo(url=url))
    )
