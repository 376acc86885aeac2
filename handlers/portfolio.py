"""`/portfolio [period] [manager]`: the seven control points, with buttons for period, manager,
section, a chart and an export. Every press is re-checked by the service."""

from __future__ import annotations

from datetime import date

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from bot.errors import ErrorCode
from bot.services.context import Actor
from bot.services.errors import DomainError
from bot.services.hub import Services
from bot.services.portfolio.periods import Period, current, parse_period, period_from_key
from bot.telegram.callbacks import PortfolioAct, PortfolioOpen, PortfolioOutput, PortfolioView
from bot.telegram.replies import Replies
from bot.telegram.views import portfolio as view
from bot.telegram.views import portfolio_chart as chart


def parse_args(text: str, today: date) -> tuple[Period, str]:
    """The period (first or last word, or a `01.09 - 30.11` span anywhere; this month if none)
    and the rest as a member's name."""
    words = text.split()
    if not words:
        return current("M", today), ""
    whole = parse_period(text, today)
    if whole is not None:
        return whole, ""
    for n in (3, 1):  # "01.09 - 30.11" is three words; try it before single words
        for start in (0, len(words) - n):
            if start < 0 or start + n > len(words):
                continue
            found = parse_period(" ".join(words[start : start + n]), today)
            if found is not None:
                rest = words[:start] + words[start + n :]
                return found, " ".join(rest)
    return current("M", today), text.strip()


async def _render(
    actor: Actor, services: Services, period: Period, manager_id: int | None, section: str
) -> tuple[str, InlineKeyboardMarkup]:
    portfolio = services.portfolio
    report = await portfolio.report(actor, period, manager_id)
    top = services.portfolio.top_clients
    text = view.report_text(report, section, top)
    markup = view.keyboard(
        report,
        section,
        await portfolio.choices(actor),
        portfolio.today(actor),
        portfolio.may_export(actor),
    )
    return text, markup


async def portfolio(
    message: Message, command: CommandObject, actor: Actor, services: Services, replies: Replies
) -> None:
    today = services.portfolio.today(actor)
    period, name = parse_args(command.args or "", today)
    manager_id = await services.portfolio.find_member(actor, name) if name else None
    text, markup = await _render(actor, services, period, manager_id, view.SUMMARY)
    replies.answer(text, reply_markup=markup)


def _checked(data: PortfolioView | PortfolioAct) -> tuple[Period, int | None, str]:
    period = period_from_key(data.p)
    if period is None or data.s not in view.SECTIONS or data.m < 0:
        raise DomainError(ErrorCode.PICK_EXPIRED)
    return period, (data.m or None), data.s


async def switch(
    query: CallbackQuery,
    callback_data: PortfolioView,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    period, manager_id, section = _checked(callback_data)
    text, markup = await _render(actor, services, period, manager_id, section)
    replies.answer_callback()
    replies.edit(text, markup)


async def open_report(
    query: CallbackQuery,
    callback_data: PortfolioOpen,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    """From the weekly report: the summary as a new message, so the report stays readable."""
    period = period_from_key(callback_data.p)
    if period is None:
        raise DomainError(ErrorCode.PICK_EXPIRED)
    text, markup = await _render(actor, services, period, None, view.SUMMARY)
    replies.answer_callback()
    replies.answer(text, reply_markup=markup)


async def _chart(
    actor: Actor, services: Services, period: Period, manager_id: int | None, section: str
) -> tuple[bytes, str]:
    portfolio = services.portfolio
    if section == "2":
        return await chart.abc_xyz(await portfolio.report(actor, period, manager_id), period)
    if section == "3":
        series = await portfolio.quality_series(actor, period, manager_id)
        names = {c.id: c.name for c in await portfolio.choices(actor)}
        names.setdefault(actor.member.id, actor.member.full_name)
        return await chart.quality(series, names)
    weeks, per_kind = await portfolio.activity_weeks(actor, period, manager_id)
    return await chart.activity(weeks, per_kind, period)


async def send_chart(
    query: CallbackQuery,
    callback_data: PortfolioAct,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    period, manager_id, section = _checked(callback_data)
    if section not in view.CHART_SECTIONS:
        raise DomainError(ErrorCode.PICK_EXPIRED)
    png, filename = await _chart(actor, services, period, manager_id, section)
    replies.answer_callback()
    replies.photo(BufferedInputFile(png, filename=filename), view.section_title(section))


async def send_export(
    query: CallbackQuery,
    callback_data: PortfolioAct,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    """The section as .xlsx (every sheet) or .csv (the first)."""
    period, manager_id, section = _checked(callback_data)
    # Imported on first use: the spreadsheet library is heavy and exports are rare.
    from bot.services.tabular import write_csv, write_xlsx
    from bot.telegram import portfolio_export

    portfolio = services.portfolio
    portfolio.check_export(actor)
    report = await portfolio.report(actor, period, manager_id)
    sheets = portfolio_export.sheets(report, section)
    exported = sheets if callback_data.a is PortfolioOutput.XLSX else sheets[:1]
    content = (
        write_xlsx(exported) if callback_data.a is PortfolioOutput.XLSX else write_csv(exported[0])
    )
    rows = sum(len(list(sheet.rows)) for sheet in exported)
    await portfolio.record_export(actor, report, section, callback_data.a, rows)
    replies.answer_callback()
    replies.document(
        BufferedInputFile(
            content, filename=portfolio_export.file_name(report, section, callback_data.a)
        ),
        view.export_caption(section, period),
    )


def build_router() -> Router:
    router = Router(name="portfolio")
    router.message.register(portfolio, Command("portfolio"))
    router.callback_query.register(switch, PortfolioView.filter())
    router.callback_query.register(open_report, PortfolioOpen.filter())
    router.callback_query.register(send_chart, PortfolioAct.filter(F.a == PortfolioOutput.CHART))
    router.callback_query.register(
        send_export, PortfolioAct.filter(F.a.in_({PortfolioOutput.XLSX, PortfolioOutput.CSV}))
    )
    return router
