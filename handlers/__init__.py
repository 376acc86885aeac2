"""Feature routers, assembled in the order they must see updates."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    calendar,
    campaigns,
    cancel,
    capture,
    chat_scope,
    clients,
    data_rights,
    errors,
    fallback,
    help,
    importing,
    invite,
    lists,
    portfolio,
    reminders,
    reply_log,
    settings,
    start,
    steps,
    team,
    today,
    transfer,
)


def get_routers() -> list[Router]:
    # chat_scope first (groups never reach features), cancel before steps (it must win over an
    # open question), capture before importing (a forwarded photo or captioned file is a
    # note, not a table), fallback last.
    return [
        errors.build_router(),
        chat_scope.build_router(),
        start.build_router(),
        cancel.build_router(),
        help.build_router(),
        # Before every open question: a reply to a push is about that push's client.
        reply_log.build_router(),
        invite.build_router(),
        calendar.build_router(),
        campaigns.build_router(),
        data_rights.build_router(),
        team.build_router(),
        transfer.build_router(),
        portfolio.build_router(),
        clients.build_router(),
        capture.build_router(),
        importing.build_router(),
        reminders.build_router(),
        lists.build_router(),
        today.build_router(),
        settings.build_router(),
        steps.build_router(),
        fallback.build_router(),
    ]
