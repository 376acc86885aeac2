"""`/campaign VIP 07.03 "8 March offer"`: a follow-up for every client of a segment or #tag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.errors import ErrorCode
from bot.parsing.dates import When, parse_when_prefix
from bot.parsing.errors import ParseError
from bot.parsing.tokens import scan, tail
from bot.services.context import Actor
from bot.services.hub import Services
from bot.telegram.replies import Replies
from bot.telegram.views import campaigns as view

_OPENING_QUOTES = "\"'«“„"
_CLOSING_QUOTES = "\"'»”“"


@dataclass(frozen=True)
class CampaignCommand:
    selector: str
    when: When
    title: str


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPENING_QUOTES and text[-1] in _CLOSING_QUOTES:
        return text[1:-1].strip()
    return text


def parse_campaign(args: str, now: datetime) -> CampaignCommand:
    """`<segment or #tag> <date> <title>`: the selector is every word before the first date
    (a segment may have several words), the title everything after it, quotes optional."""
    tokens = scan(args)
    words = [token.text for token in tokens]
    for start in range(1, len(words)):
        found = parse_when_prefix(words[start:], now)
        if found is None:
            continue
        when, used = found
        selector = _unquote(" ".join(words[:start]))
        title = _unquote(tail(args, tokens, start + used))
        if not selector or not title:
            break
        return CampaignCommand(selector=selector, when=when, title=title)
    raise ParseError(ErrorCode.CAMPAIGN_USAGE)


async def campaign(
    message: Message,
    command: CommandObject,
    actor: Actor,
    services: Services,
    replies: Replies,
) -> None:
    # A manager or head hears "not allowed", not how to use a command they may not run.
    services.campaigns.check_allowed(actor)
    local_now = services.local_now(actor)
    parsed = parse_campaign(command.args or "", local_now)
    result = await services.campaigns.launch(actor, parsed.selector, parsed.when, parsed.title)
    replies.answer(view.launched_text(result, parsed.when, local_now.date()))


def build_router() -> Router:
    router = Router(name="campaigns")
    router.message.register(campaign, Command("campaign"))
    return router
