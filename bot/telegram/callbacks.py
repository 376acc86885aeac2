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
    """A page of `/list`: the rows a service returns from `off`, part `pt` of them as they fit
    in one message (-1: the last part; see bot/telegram/paging.py)."""

    flt: str
    off: int
    pt: int = 0


class SetLanguage(CallbackData, prefix="lg"):
    code: str


class ImportAction(CallbackData, prefix="im"):
    """Buttons of an import in progress: col (choose a column's field), set, back, go, skip,
    merge, stop. `tok` names the upload: a button of an older file does nothing."""

    act: str
    tok: str
    col: int = -1
    fld: str = ""


class AuditPage(CallbackData, prefix="au"):
    """A page of `/audit`: the filter travels in the button (member id, action group, local
    days as ordinals, 0 for none) and is re-checked: only the owner gets an answer."""

    mid: int = 0
    grp: str = ""
    since: int = 0
    until: int = 0
    off: int = 0
    pt: int = 0  # part of the rows from `off` that fits one message (-1: the last)


class ForgetClient(CallbackData, prefix="fg"):
    """`/forget`: ask (a client picked among several), yes (erase), no (keep)."""

    act: str
    cid: int


class SetConsent(CallbackData, prefix="cs"):
    """`/consent` when several clients matched: the pick, with the value typed."""

    cid: int
    val: str


class TeamAct(CallbackData, prefix="tm"):
    """`/team` buttons: page, open, role, rm, rmok, give, to, own, ownok.

    `mid` is the member acted on, `arg` a role or the receiving member's id, `off` a roster page
    and `pt` its part that fits one message (-1: the last). The service re-checks all of them:
    a button may be forged or outlive a removal."""

    act: str
    mid: int = 0
    arg: str = ""
    off: int = 0
    pt: int = 0


class TransferPick(CallbackData, prefix="tf"):
    """Step-by-step `/transfer`: `step` is from, to or all; `mid` the member picked."""

    step: str
    mid: int = 0


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
