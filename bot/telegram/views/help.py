"""`/help`: what the bot does, with examples that can be copied, and the team's own periods."""

from __future__ import annotations

from bot.i18n import _, ngettext
from bot.services.access import sees_whole_team
from bot.services.context import Actor
from bot.telegram.menu import MINIAPP_BUTTON
from bot.telegram.views.lists import filters_line
from storage.enums import Role


def help_text(actor: Actor, *, miniapp: bool = False) -> str:
    """`miniapp`: the bot's menu button opens the Mini App (MINIAPP_URL is set)."""
    team = actor.team
    text = _(
        "<b>Salesbot</b> keeps your clients and never lets a follow-up slip.\n\n"
        "<b>Clients</b>\n"
        "<code>/add Ivanov Petr, +7 999 123-45-67, Moscow, #vip, hot</code> — new client\n"
        "<code>/client Ivanov</code> — card with the last notes and calls\n"
        "<code>/find Ivanov</code>, <code>/find 4567</code> — search by name, contact or the "
        "last digits of a phone\n"
        "<code>/hot Ivanov</code>, <code>/warm</code>, <code>/cold</code> — temperature"
    )
    if miniapp:
        text += "\n" + _(
            "The «{button}» menu button opens the base as a table with search and filters, "
            "each card as a form with its history, and the portfolio with charts."
        ).format(button=_(MINIAPP_BUTTON))
    # The team's own periods (/settings team), not the defaults.
    text += "\n\n" + _(
        "<b>Log in one line</b>\n"
        "<code>/call Ivanov done</code> — talked; the next contact follows the temperature, "
        "in days: hot {hot}, warm {warm}, cold {cold}"
    ).format(hot=team.followup_hot_days, warm=team.followup_warm_days, cold=team.followup_cold_days)
    text += "\n" + ngettext(
        "<code>/call Ivanov no answer</code> — try again in {count} day",
        "<code>/call Ivanov no answer</code> — try again in {count} days",
        team.no_answer_retry_days,
    ).format(count=team.no_answer_retry_days)
    text += "\n" + _(
        "<code>/call Ivanov callback in 2 weeks</code> — asked to call back\n"
        "<code>/call Ivanov refused</code> · <code>/call Ivanov deal 150k</code>\n"
        "<code>/note Ivanov wants a discount for 8 March</code>\n"
        "<code>/meet Ivanov tomorrow 15:00</code> · <code>/meet Ivanov done</code>\n"
        "<code>/next Ivanov 15.12 10:00 send the price</code>\n"
        "<code>/deal Ivanov 150000 margin 30%</code>"
    )
    text += "\n\n" + _("<b>Your day</b>\n/today — due today and overdue")
    text += "\n" + filters_line()
    text += "\n" + _(
        "/settings — time zone, language, working hours\n"
        "/cancel — stop a step-by-step command\n\n"
        "Dates: <code>tomorrow</code>, <code>in 3 days</code>, <code>2w</code>, "
        "<code>friday</code>, <code>15.12</code>, <code>15.12 10:00</code>, <code>14:30</code>. "
        "Amounts: <code>150000</code>, <code>150 000</code>, <code>150k</code>, "
        "<code>1.5m</code>, <code>150 тыс</code>. Names may be typed in Latin or Cyrillic, "
        "with typos; any command without arguments asks step by step."
    )
    text += "\n\n" + _(
        "<b>Reminders</b>\n"
        "When a follow-up falls due you get a push with buttons: Talked, No answer, +1 hour, "
        "Tomorrow, In 2 weeks, Other date. Every morning a digest: today, overdue, hot clients "
        "going quiet, stuck leads, birthdays, yesterday's numbers. "
        "<code>/settings digest 8:30</code> sets its time."
    )
    text += "\n" + _(
        "<code>/consent Ivanov yes</code> — the client's consent to data processing "
        "(yes, no, unknown); <code>source: exhibition</code> in /add records where they came from"
    )
    if actor.member.can_export and actor.member.role != Role.OWNER:
        text += "\n" + _("<code>/export</code> — the owner allowed you to export clients")
    text += "\n\n" + _(
        "<b>Portfolio</b>\n"
        "<code>/portfolio</code> · <code>quarter</code> · <code>year</code> · "
        "<code>01.09-30.11</code> — revenue, ABC-XYZ, quality, activity, ROS, turnover, LTV, "
        "clients gained and lost, base health. Revenue: deals by closing date, team currency. "
        "ABC by share of revenue; XYZ by how monthly revenue varies over 12 months (one month "
        "of sales is Z, no sales: no class). LTV = S×C×P×T, T: months from a client's first "
        "deal to the last one."
    )
    if sees_whole_team(actor):
        text += "\n" + _("<code>/portfolio Petrov</code> — one member's numbers.")
    if sees_whole_team(actor):
        text += "\n\n" + _(
            "<b>Team</b>\n"
            "<code>/invite manager</code>, <code>/invite head</code> — a single-use link "
            "for a new member. You see every client of the team in lists and search."
        )
        text += "\n" + _(
            "/team — members, their clients, overdue follow-ups and last activity; "
            "reassign a member's clients\n"
            "<code>/transfer Max Nina</code> — all of Max's clients to Nina, with their "
            "follow-ups and open leads; <code>/transfer Max Nina Ivanov, Petrov</code> — only "
            "these"
        )
        if actor.member.role == Role.OWNER:
            text += "\n" + _(
                "<code>/campaign VIP 07.03 8 March offer</code> — a follow-up on that day "
                "for every client with this segment or #tag, for its manager."
            )
            text += "\n" + _(
                "<code>/settings team</code> — the team's periods for follow-ups and nudges."
            )
            text += "\n" + _(
                "/import — send an Excel (.xlsx) or CSV file with clients: I show where each "
                "column goes, check every row and import all of it or nothing."
            )
            text += "\n\n" + _(
                "<b>Protecting the base</b>\n"
                "<code>/export</code> · <code>/export Petrov</code> · "
                "<code>/export segment VIP</code> · <code>/export #vip csv with activities</code> "
                "— clients to Excel or CSV\n"
                "<code>/grant export Petrov</code>, <code>/revoke export Petrov</code> — "
                "let a member export (you are told about each export)\n"
                "<code>/audit</code> · <code>/audit Petrov</code> · <code>/audit export</code> · "
                "<code>/audit week</code> · <code>/audit 01.11-23.11</code> — who viewed, "
                "searched, exported\n"
                "<code>/forget Ivanov</code> — erase a person's data on request (152-FZ)"
            )
            text += "\n" + _(
                "In /team you change roles and remove a member (their access ends at once, "
                "their history stays). <code>/owner Nina</code> — hand the ownership over."
            )
    return text
