"""The grammar of the client commands once the handler has cut off `/call`, `/deal`, `/meet`,
`/next`: where the client's name ends and what follows it.

The name is free text resolved later by someone else; here it is only split off, in its
original case. Comments are cut from the source text, so line breaks and spacing survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from bot.errors import ErrorCode
from bot.parsing.amounts import Margin, parse_amount_prefix, parse_margin
from bot.parsing.dates import When, parse_when_prefix
from bot.parsing.errors import ParseError
from bot.parsing.tokens import Token, longest_phrase_at, norm, scan, tail


class Outcome(StrEnum):
    DONE = "done"
    NO_ANSWER = "no_answer"
    CALLBACK = "callback"
    REFUSED = "refused"
    DEAL = "deal"


def _phrases(*variants: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(variant.split()) for variant in variants)


_OUTCOME_PHRASES: dict[Outcome, tuple[tuple[str, ...], ...]] = {
    Outcome.DONE: _phrases(
        "done",
        "ok",
        "okay",
        "talked",
        "spoke",
        "reached",
        "сделано",
        "готово",
        "дозвонился",
        "дозвонилась",
        "поговорили",
        "поговорил",
        "поговорила",
        "созвонились",
        "созвонился",
        "созвонилась",
    ),
    Outcome.NO_ANSWER: _phrases(
        "no answer",
        "no-answer",
        "no_answer",
        "not answering",
        "no reply",
        "busy",
        "не дозвонился",
        "не дозвонилась",
        "недозвон",
        "не ответил",
        "не ответила",
        "не отвечает",
        "нет ответа",
        "не берет",
        "не берет трубку",
        "не берут",
        "занято",
    ),
    Outcome.CALLBACK: _phrases(
        "callback",
        "call-back",
        "call back",
        "call me",
        "перезвонить",
        "перезвон",
        "перезвоню",
        "перезвонит",
        "перезвоните",
        "перезвоним",
    ),
    Outcome.REFUSED: _phrases(
        "refused",
        "refuse",
        "not interested",
        "отказ",
        "отказался",
        "отказалась",
        "отказались",
        "не интересно",
        "неинтересно",
        "не интересует",
    ),
    Outcome.DEAL: _phrases(
        "deal",
        "sale",
        "sold",
        "bought",
        "сделка",
        "продажа",
        "купил",
        "купила",
        "купили",
    ),
}
_DEAL_WORDS = {phrase[0] for phrase in _OUTCOME_PHRASES[Outcome.DEAL]}
_HELD_PHRASES = _phrases(
    "done",
    "held",
    "took place",
    "happened",
    "состоялась",
    "состоялось",
    "провели",
    "проведена",
    "прошла",
    "прошло",
    "была",
)
# "/meet Иванов встреча состоялась": the word for the meeting itself is not part of the name.
_MEETING_WORDS = {"встреча", "meeting"}
# A lone dash or arrow between parts is a separator someone typed, not content.
_SEPARATORS = {"", "-", "—", "–", "→", "->", "=", "|"}


@dataclass(frozen=True)
class CallCommand:
    name: str  # words before the outcome, original case, single spaces; "" if none
    outcome: Outcome | None  # None: no outcome word found, then name is the whole text
    when: When | None  # explicit next contact (callback date, or "done tomorrow")
    amount: Decimal | None  # for deal
    margin: Margin | None  # for "deal 150k margin 20%"
    comment: str  # free text after outcome/date/amount


@dataclass(frozen=True)
class DealCommand:
    name: str
    amount: Decimal
    margin: Margin | None
    comment: str


@dataclass(frozen=True)
class ScheduleCommand:
    name: str
    when: When | None
    comment: str


# -- helpers ------------------------------------------------------------------------------------


def _texts(tokens: Sequence[Token]) -> list[str]:
    return [token.text for token in tokens]


def _join(tokens: Sequence[Token]) -> str:
    return " ".join(token.text for token in tokens)


def _outcome_at(words: Sequence[str], i: int) -> tuple[Outcome, int] | None:
    """The outcome spelled at position i (the longest phrase), and where it ends."""
    best: tuple[Outcome, int] | None = None
    for outcome, phrases in _OUTCOME_PHRASES.items():
        phrase = longest_phrase_at(words, i, phrases)
        if phrase and (best is None or i + len(phrase) > best[1]):
            best = (outcome, i + len(phrase))
    return best


def _skip_separators(words: Sequence[str], i: int) -> int:
    while i < len(words) and words[i] in _SEPARATORS:
        i += 1
    return i


def _comment(text: str, tokens: Sequence[Token], words: Sequence[str], i: int) -> str:
    return tail(text, list(tokens), _skip_separators(words, i))


# -- /call --------------------------------------------------------------------------------------


def parse_call(args: str, now: datetime, *, max_amount: Decimal) -> CallCommand:
    """`Ivanov done`, `Иванов перезвонить через 2 недели`, `Ivanov deal 150k margin 20%`."""
    tokens = scan(args)
    words = [norm(token.text) for token in tokens]
    found: tuple[Outcome, int] | None = None
    start = 0
    for i in [*range(1, len(words)), 0]:
        if found := _outcome_at(words, i):
            start = i
            break
    if found is None:
        return CallCommand(_join(tokens), None, None, None, None, "")
    outcome, end = found
    name = _join(tokens[:start])
    rest = _texts(tokens)
    when: When | None = None
    amount: Decimal | None = None
    margin: Margin | None = None
    i = _skip_separators(words, end)

    if outcome is Outcome.DEAL:
        priced = parse_amount_prefix(rest[i:], max_amount=max_amount)
        if priced is None:
            # "deal" alone asks for the sum; "deal abc" is a sum that could not be read.
            raise ParseError(
                ErrorCode.AMOUNT_INVALID if i < len(rest) else ErrorCode.AMOUNT_MISSING
            )
        amount, used = priced
        i = _skip_separators(words, i + used)
        # Margin and the next contact may come in either order: "deal 150k 20% tomorrow".
        for _ in range(2):
            if margin is None and (margined := parse_margin(rest[i:], max_amount=max_amount)):
                margin, used = margined
                i = _skip_separators(words, i + used)
            elif when is None and (dated := parse_when_prefix(rest[i:], now)):
                when, used = dated
                i = _skip_separators(words, i + used)
    elif outcome is not Outcome.REFUSED:
        if dated := parse_when_prefix(rest[i:], now):
            when, used = dated
            i += used
        elif outcome is Outcome.CALLBACK:
            raise ParseError(ErrorCode.DATE_MISSING)

    comment = _comment(args, tokens, words, i)
    return CallCommand(name, outcome, when, amount, margin, comment)


def starts_with_outcome(text: str) -> bool:
    """Whether `text` opens with a call's outcome (`done`, `no answer`, `перезвонить …`,
    `deal 150k`): what a reply to a push logs as a call; any other text is a note. Only the
    first words count: "asked about the deal" is a note, not a deal without a sum."""
    words = [norm(token.text) for token in scan(text)]
    return bool(words) and _outcome_at(words, _skip_separators(words, 0)) is not None


# -- /deal --------------------------------------------------------------------------------------


def parse_deal(args: str, *, max_amount: Decimal) -> DealCommand:
    """`Ivanov 150000 margin 30%`, `Иванов 1,2 млн маржа 25%`, `ООО Ромашка 150 000 руб`."""
    tokens = scan(args)
    if not tokens:
        raise ParseError(ErrorCode.NAME_MISSING)
    texts = _texts(tokens)
    words = [norm(text) for text in texts]
    for i in range(1, len(tokens)):
        priced = parse_amount_prefix(texts[i:], max_amount=max_amount)
        if priced is None:
            continue
        amount, used = priced
        name_end = i
        if words[i - 1] in _DEAL_WORDS and i >= 2:
            # "/deal Ivanov сделка 150000": the keyword belongs to no name.
            name_end = i - 1
        end = _skip_separators(words, i + used)
        margin: Margin | None = None
        if margined := parse_margin(texts[end:], max_amount=max_amount):
            margin, used = margined
            end += used
        return DealCommand(
            name=_join(tokens[:name_end]),
            amount=amount,
            margin=margin,
            comment=_comment(args, tokens, words, end),
        )
    if parse_amount_prefix(texts, max_amount=max_amount) is not None:
        raise ParseError(ErrorCode.NAME_MISSING)
    raise ParseError(ErrorCode.AMOUNT_MISSING)


# -- /next and /meet ----------------------------------------------------------------------------


def parse_schedule(args: str, now: datetime) -> ScheduleCommand:
    """`Ivanov 15.12 10:00 send the price`, `ООО Ромашка через неделю`, `Ivanov tomorrow 15:00`.

    The name ends where the first date starts; with no date at all the whole text is the name
    and the handler asks for the date.
    """
    tokens = scan(args)
    texts = _texts(tokens)
    words = [norm(text) for text in texts]
    for i in [*range(1, len(tokens)), 0]:
        if dated := parse_when_prefix(texts[i:], now):
            when, used = dated
            return ScheduleCommand(
                name=_join(tokens[:i]),
                when=when,
                comment=_comment(args, tokens, words, i + used),
            )
    return ScheduleCommand(name=_join(tokens), when=None, comment="")


# Whether a date starts somewhere does not depend on the moment; an impossible or past date
# raises, and still counts as a date.
_ANY_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


def _starts_date(texts: Sequence[str], i: int) -> bool:
    try:
        return parse_when_prefix(texts[i:], _ANY_MOMENT) is not None
    except ParseError:
        return True


def split_meeting_done(args: str) -> tuple[str, str] | None:
    """(name, comment) when the args log a meeting that took place: `Ivanov done notes`,
    `Иванов состоялась ...`, `Иванов провели ...`; None when they plan one.

    A held-word after a date is part of a plan's comment ("завтра, обсудить как прошла
    поставка"), so a date before the word means None.
    """
    tokens = scan(args)
    texts = _texts(tokens)
    words = [norm(text) for text in texts]
    for i in [*range(1, len(tokens)), 0]:
        phrase = longest_phrase_at(words, i, _HELD_PHRASES)
        if phrase is None:
            continue
        if any(_starts_date(texts, j) for j in range(1, i)):
            return None
        name_end = i
        if i >= 2 and words[i - 1] in _MEETING_WORDS:
            name_end = i - 1
        return _join(tokens[:name_end]), _comment(args, tokens, words, i + len(phrase))
    return None
