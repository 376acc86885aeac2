"""Typed callback data. Every id in here is re-checked by the services: buttons can be forged."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class PickClient(CallbackData, prefix="pk"):
    """One of several clients matching what the member typed, for the pending command.

    `pid` names the list the button belongs to: a button from an older list is refused, so it
    cannot run the arguments of a newer command."""

    cmd: str
    cid: int
    pid: str


class CardAction(CallbackData, prefix="ca"):
    """Quick actions under a client card: done, no_answer, tomorrow, week, hot, warm, cold, open.

    `fid` is the pending follow-up the card showed (0: none). Logging buttons act only while it
    is still pending, so a double tap or an old card cannot log the same call twice."""

    act: str
    cid: int
    fid: int = 0


class Remind(CallbackData, prefix="rm"):
    """Buttons under a follow-up push: done, no_answer, hour, tomorrow, twoweeks, other, open.
    Act only while follow-up `fid` is still pending: a push can be answered once."""

    act: str
    fid: int


class ListPage(CallbackData, prefix="lp"):
    flt: str
    off: int


class SetLanguage(CallbackData, prefix="lg"):
    code: str


class PortfolioView(CallbackData, prefix="pf"):
    """A /portfolio view: period key (bot/services/portfolio/periods.py), member id (0: the
    team, or oneself for a manager), section. All three are re-checked on every press."""

    p: str
    m: int
    s: str


class PortfolioAct(CallbackData, prefix="pa"):
    """On a /portfolio view: `chart`, `xlsx` or `csv`."""

    a: str
    p: str
    m: int
    s: str
