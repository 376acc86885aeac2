"""What `/campaign` answers once the follow-ups are created."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from bot.i18n import _, fmt_date, fmt_datetime
from bot.parsing.dates import When
from bot.services.campaigns import CampaignResult


def launched_text(result: CampaignResult, when: When, today: date) -> str:
    day = (
        fmt_datetime(datetime.combine(when.day, when.at), today)
        if when.at is not None
        else fmt_date(when.day, today)
    )
    return _(
        "📣 Campaign «{title}» for «{selector}» on {day}.\n"
        "Follow-ups created: {count}. Managers: {managers}."
    ).format(
        title=escape(result.title),
        selector=escape(result.selector),
        day=day,
        count=result.followups,
        managers=result.managers,
    )
