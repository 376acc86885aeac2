"""`/list`: the filters a member may type, the list's pages and their buttons.

The filter words live here once: `/list` reads them, its footer and `/help` print them."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import _, fmt_date, fmt_datetime
from bot.parsing.new_client import clean_tag
from bot.services.clients import LEAD_FILTER, ClientFilter, ClientPage
from bot.telegram.callbacks import ListPage
from bot.telegram.paging import budget_for, neighbours, part_of
from bot.telegram.views.common import TEMPERATURE_ICONS, Viewer, stage_label, temperature_label
from storage.dto import ClientListItem
from storage.enums import Stage, Temperature

WORDS = {
    "hot": "t.hot",
    "горячие": "t.hot",
    "горячий": "t.hot",
    "warm": "t.warm",
    "теплые": "t.warm",
    "тёплые": "t.warm",
    "cold": "t.cold",
    "холодные": "t.cold",
    "overdue": "o",
    "просроченные": "o",
    "просрочка": "o",
    "leads": "s.leads",
    "лиды": "s.leads",
    "all": "a",
    "все": "a",
    "new": "s.new",
    "новые": "s.new",
    "contacted": "s.contacted",
    "proposal": "s.proposal",
    "кп": "s.proposal",
    "negotiation": "s.negotiation",
    "переговоры": "s.negotiation",
    "won": "s.won",
    "клиенты": "s.won",
    "lost": "s.lost",
    "архив": "s.lost",
    "archive": "s.lost",
}


def filters_line() -> str:
    """The filters, as `/help` and the list's footer show them."""
    return _(
        "<code>/list hot</code> · <code>warm</code> · <code>cold</code> · <code>overdue</code> · "
        "<code>leads</code> · <code>won</code> · <code>lost</code> · <code>#tag</code>"
    )


def filters_text() -> str:
    return _("Filters: {filters}").format(filters=filters_line())


def filter_key(word: str, max_tag_chars: int) -> str:
    word = word.strip().casefold()
    if not word:
        return "a"
    if word in WORDS:
        return WORDS[word]
    # The same normal form /add gives tags; it never holds "." or ":" (key and callback
    # separators).
    tag = clean_tag(word, max_tag_chars)
    return "g." + tag if tag else "a"


def is_filter_word(word: str) -> bool:
    """A word `/list` knows, or a #tag; a bare other word may be a tag or a typo."""
    word = word.strip().casefold()
    return not word or word in WORDS or word.startswith("#")


def decode(key: str) -> tuple[ClientFilter, str]:
    kind, _sep, value = key.partition(".")
    if kind == "t" and value in Temperature.__members__.values():
        return ClientFilter(temperatures=(value,)), temperature_label(value)
    if kind == "o":
        return ClientFilter(overdue=True), _("Overdue")
    if kind == "s" and value == "leads":
        return LEAD_FILTER, _("Open leads")
    if kind == "s" and value in Stage.__members__.values():
        return ClientFilter(stages=(value,), archived=value == Stage.LOST), stage_label(value)
    if kind == "g" and value:
        return ClientFilter(tag=value), "#" + value
    return ClientFilter(), _("All clients")


def unknown_filter_text(word: str) -> str:
    return _("There is no list «{word}» and no client tagged with it.").format(
        word=escape(word.strip()[:60])
    ) + ("\n\n" + filters_text())


def _list_row(item: ClientListItem, page: ClientPage, viewer: Viewer, show_manager: bool) -> str:
    icon = TEMPERATURE_ICONS.get(item.temperature, "•")
    if item.next_due_at is None:
        nxt = _("no next contact")
    else:
        local = item.next_due_at.astimezone(viewer.zone)
        nxt = (
            fmt_date(local.date(), viewer.today)
            if item.next_date_only
            else fmt_datetime(local, viewer.today)
        )
        if local.date() < viewer.today:
            nxt = "⚠️ " + nxt
    who = f" · {escape(page.manager_names.get(item.manager_id, ''))}" if show_manager else ""
    return f"{icon} <b>{escape(item.name)}</b> · {nxt}{who}"


def _list_header(title: str, start: int, end: int, total: int) -> str:
    return _("<b>{title}</b>: {start}–{end} of {total}").format(
        title=escape(title), start=start, end=end, total=total
    )


def list_view(
    page: ClientPage,
    flt: str,
    title: str,
    viewer: Viewer,
    *,
    show_manager: bool,
    part: int,
    chunk_size: int,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of `/list`: the rows from `page.offset` that fit one message (part `part` of
    them), with Back/More buttons that lead to the neighbouring parts.

    Every page of one list has the same header and footer widths, so a button's part holds the
    same rows however the page was reached."""
    tail = "\n\n" + filters_text() if flt == "a" else ""
    if page.total == 0:
        return _("No clients match this list.") + tail, None
    # The widest header this list can have (the numbers never have more digits than total).
    widest = _list_header(title, page.total, page.total, page.total)
    budget = budget_for(widest, tail, joints=1)
    rows = [_list_row(item, page, viewer, show_manager) for item in page.items]
    shown = part_of(rows, part, budget)
    start = page.offset + shown.first + 1
    header = _list_header(title, start, start + len(shown.rows) - 1, page.total)
    text = "\n".join([header, *shown.rows]) + tail
    back, more = neighbours(page.offset, shown, len(page.items), page.total, chunk_size)
    buttons: list[InlineKeyboardButton] = []
    if back is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("◀ Back"),
                callback_data=ListPage(flt=flt, off=back.offset, pt=back.part).pack(),
            )
        )
    if more is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("More ▶"),
                callback_data=ListPage(flt=flt, off=more.offset, pt=more.part).pack(),
            )
        )
    return text, InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None
