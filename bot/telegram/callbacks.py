"""Typed callback data.

Buttons can be forged, so every field is range-checked when a press is parsed: ids within the
database's integer range, pages non-negative and bounded, days within the range the bot works
with, actions and other choices within their values. A field out of range fails pydantic's
validation, aiogram's `CallbackData.filter()` then does not match, and the press falls through
to the fallback router's "This button is no longer active", like any unknown button: no handler
runs, nothing is logged as an error. The services still re-check every id (ownership, state).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from bot.config import SUPPORTED_LANGUAGES
from bot.parsing.dates import EARLIEST_DAY, LATEST_DAY
from bot.services.audit import ACTION_GROUPS
from bot.services.importing.mapping import FIELDS
from bot.services.portfolio.periods import period_from_key
from storage.enums import Consent, Role
from storage.types import MAX_ROW_ID

# A list's, a roster's or the audit log's offset: far beyond any real page, far below overflow.
MAX_OFFSET = 10_000_000
# A page of rows splits into at most one part per row.
MAX_PARTS = 1_000
# A column of an imported table: Excel's sheets end at column 16,384.
MAX_COLUMN = 16_383


def _known(values: Iterable[str]) -> AfterValidator:
    choices = frozenset(values)

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError("not one of the known values")
        return value

    return AfterValidator(check)


def _day_or_none(value: int) -> int:
    if value != 0 and not EARLIEST_DAY.toordinal() <= value <= LATEST_DAY.toordinal():
        raise ValueError(f"a day between {EARLIEST_DAY} and {LATEST_DAY}, or 0")
    return value


def _period_key(value: str) -> str:
    if period_from_key(value) is None:
        raise ValueError("not a period key")
    return value


RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
RowIdOrNone = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]  # 0: none (the team, no follow-up)
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
# A page's part that fits one message; -1: the last part (bot/telegram/paging.py).
Part = Annotated[int, Field(ge=-1, le=MAX_PARTS)]
DayOrNone = Annotated[int, AfterValidator(_day_or_none)]  # date.toordinal(); 0: none
# The random names of a pick list or an upload (secrets.token_hex).
Token = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,32}$")]


class ClientCommand(StrEnum):
    """The commands a pick among several clients can finish (handlers.flow.CLIENT_COMMANDS)."""

    CALL = "call"
    NOTE = "note"
    MEET = "meet"
    NEXT = "next"
    DEAL = "deal"
    CLIENT = "client"
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class CardAct(StrEnum):
    DONE = "done"
    NO_ANSWER = "no_answer"
    TOMORROW = "tomorrow"
    WEEK = "week"
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    OPEN = "open"


class RemindAct(StrEnum):
    DONE = "done"
    NO_ANSWER = "no_answer"
    HOUR = "hour"
    TOMORROW = "tomorrow"
    TWOWEEKS = "twoweeks"
    OTHER = "other"
    OPEN = "open"


class ImportAct(StrEnum):
    COL = "col"
    SET = "set"
    BACK = "back"
    MGR = "mgr"
    GO = "go"
    SKIP = "skip"
    MERGE = "merge"
    STOP = "stop"


class ForgetAct(StrEnum):
    ASK = "ask"
    YES = "yes"
    NO = "no"


class TeamStep(StrEnum):
    PAGE = "page"
    OPEN = "open"
    ROLE = "role"
    RM = "rm"
    RMOK = "rmok"
    GIVE = "give"
    TO = "to"
    OWN = "own"
    OWNOK = "ownok"


class TransferStep(StrEnum):
    FROM = "from"
    TO = "to"
    ALL = "all"


class CalendarAct(StrEnum):
    OFF = "off"
    NEW = "new"


class PortfolioOutput(StrEnum):
    CHART = "chart"
    XLSX = "xlsx"
    CSV = "csv"


class PickClient(CallbackData, prefix="pk"):
    """One of several clients matching what the member typed, for the pending command.

    `pid` names the list the button belongs to: a button from an older list is refused, so it
    cannot run the arguments of a newer command."""

    cmd: ClientCommand
    cid: RowId
    pid: Token


class CardAction(CallbackData, prefix="ca"):
    """Quick actions under a client card: done, no_answer, tomorrow, week, hot, warm, cold, open.

    `fid` is the pending follow-up the card showed (0: none). Logging buttons act only while it
    is still pending, so a double tap or an old card cannot log the same call twice."""

    act: CardAct
    cid: RowId
    fid: RowIdOrNone = 0


class Remind(CallbackData, prefix="rm"):
    """Buttons under a follow-up push: done, no_answer, hour, tomorrow, twoweeks, other, open.
    Act only while follow-up `fid` is still pending: a push can be answered once."""

    act: RemindAct
    fid: RowId


class ListPage(CallbackData, prefix="lp"):
    """A page of `/list`: the rows a service returns from `off`, part `pt` of them as they fit
    in one message (-1: the last part; see bot/telegram/paging.py)."""

    flt: str  # bot.telegram.views.lists.decode reads anything it does not know as "all clients"
    off: Offset
    pt: Part = 0


class SetLanguage(CallbackData, prefix="lg"):
    code: Annotated[str, _known(SUPPORTED_LANGUAGES)]


class ImportAction(CallbackData, prefix="im"):
    """Buttons of an import in progress: col (choose a column's field), set, back, go, skip,
    merge, stop. `tok` names the upload: a button of an older file does nothing."""

    act: ImportAct
    tok: Token
    col: Annotated[int, Field(ge=-1, le=MAX_COLUMN)] = -1
    fld: Annotated[str, _known((*FIELDS, "-", ""))] = ""


class AuditPage(CallbackData, prefix="au"):
    """A page of `/audit`: the filter travels in the button (member id, action group, local
    days as ordinals, 0 for none) and is re-checked: only the owner gets an answer."""

    mid: RowIdOrNone = 0
    grp: Annotated[str, _known((*ACTION_GROUPS, ""))] = ""
    since: DayOrNone = 0
    until: DayOrNone = 0
    off: Offset = 0
    pt: Part = 0  # part of the rows from `off` that fits one message (-1: the last)


class ForgetClient(CallbackData, prefix="fg"):
    """`/forget`: ask (a client picked among several), yes (erase), no (keep)."""

    act: ForgetAct
    cid: RowId


class SetConsent(CallbackData, prefix="cs"):
    """`/consent` when several clients matched: the pick, with the value typed."""

    cid: RowId
    val: Consent


class TeamAct(CallbackData, prefix="tm"):
    """`/team` buttons: page, open, role, rm, rmok, give, to, own, ownok.

    `mid` is the member acted on, `arg` a role or the receiving member's id, `off` a roster page
    and `pt` its part that fits one message (-1: the last). The service re-checks all of them:
    a button may be forged or outlive a removal."""

    act: TeamStep
    mid: RowIdOrNone = 0
    arg: str = ""
    off: Offset = 0
    pt: Part = 0

    @model_validator(mode="after")
    def _arg_is_a_role_or_an_id(self) -> TeamAct:
        arg = self.arg
        if arg in ("", *Role) or (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= MAX_ROW_ID):
            return self
        raise ValueError("arg is a role or a member id")


class TransferPick(CallbackData, prefix="tf"):
    """Step-by-step `/transfer`: `step` is from, to or all; `mid` the member picked."""

    step: TransferStep
    mid: RowIdOrNone = 0


# A /portfolio section: "0".."9" (bot.telegram.views.portfolio.SECTIONS, which imports this).
Section = Annotated[str, StringConstraints(pattern=r"^[0-9]$")]
# A period key (bot/services/portfolio/periods.py) that names a real period within the bot's
# range of days.
PeriodKey = Annotated[str, AfterValidator(_period_key)]


class PortfolioView(CallbackData, prefix="pf"):
    """A /portfolio view: period key (bot/services/portfolio/periods.py), member id (0: the
    team, or oneself for a manager), section. All three are re-checked on every press."""

    p: PeriodKey
    m: RowIdOrNone
    s: Section


class PortfolioAct(CallbackData, prefix="pa"):
    """On a /portfolio view: `chart`, `xlsx` or `csv`."""

    a: PortfolioOutput
    p: PeriodKey
    m: RowIdOrNone
    s: Section


class PortfolioOpen(CallbackData, prefix="pw"):
    """The weekly report's button: `/portfolio`'s summary of this period as a new message (the
    report itself stays). Who sees what is decided again on the press."""

    p: PeriodKey


class AddAnyway(CallbackData, prefix="ad"):
    """ "Add anyway" under `/add`'s likely-duplicate warning. `tok` pairs the press with the
    `/add` text kept in the member's step data: an older warning's button adds nothing."""

    tok: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}$")]


class ContactAct(StrEnum):
    ALL = "all"
    ONE = "one"
    DROP = "drop"


class NoteAct(StrEnum):
    TO = "to"
    OTHER = "other"
    DROP = "drop"


# How many shared contacts or forwarded messages one answer gathers (handlers/capture.py).
CAPTURE_BATCH_MAX = 50


class SharedContacts(CallbackData, prefix="sh"):
    """The answer to contacts shared from the phone: add all new ones, add contact `i` of the
    batch, or drop the batch. `tok` names the batch kept in the step data: an older answer's
    buttons add nothing."""

    act: ContactAct
    tok: Token
    i: Annotated[int, Field(ge=0, lt=CAPTURE_BATCH_MAX)] = 0


class ForwardedNote(CallbackData, prefix="fw"):
    """The question under forwarded messages: save them as notes about client `cid`, name
    another client, or drop them. `tok` names the messages kept in the step data; the service
    re-checks that the member sees the client."""

    act: NoteAct
    tok: Token
    cid: RowIdOrNone = 0


class CalendarAction(CallbackData, prefix="cf"):
    """Under a `/calendar` message: off (revoke the feed) or new (a new URL, the old one dead).
    The service acts on the presser's own feed only: nothing in the button names a member."""

    act: CalendarAct


class ReplyPick(CallbackData, prefix="rp"):
    """Which client of a digest a reply without a quote is about. `tok` pairs the press with
    the reply's text kept in the member's step data: an older question's button logs nothing."""

    tok: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{6}$")]
    cid: RowId
