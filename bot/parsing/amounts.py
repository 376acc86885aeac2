"""Money and margins as managers write them: `150000`, `150 000`, `150k`, `1,5 млн`, `99 999,50`,
`150 тыс. руб`, `$100`; `margin 30%`, `маржа 45 тыс`.

Money is Decimal from the digits typed; no float ever touches it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.errors import ErrorCode
from bot.parsing.errors import ParseError
from bot.parsing.tokens import norm, tokenize

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)

_THOUSAND, _MILLION, _BILLION = Decimal(10) ** 3, Decimal(10) ** 6, Decimal(10) ** 9
_SCALES: dict[str, Decimal] = {}
for _scale, _words in {
    _THOUSAND: "k к тыс тысяч тысячи тысяча thousand thousands",
    _MILLION: "m м млн mln mn mio million millions миллион миллиона миллионов",
    _BILLION: "b bn млрд billion billions миллиард миллиарда миллиардов",
}.items():
    _SCALES.update(dict.fromkeys(_words.split(), _scale))
# The team has one currency; a currency mark is decoration and is only skipped.
_CURRENCIES = {
    *("₽", "р", "руб", "рубль", "рубля", "рублей", "rub", "rur"),
    *("$", "usd", "долл", "доллар", "доллара", "долларов", "€", "eur", "евро"),
    *("₸", "тг", "тенге", "kzt", "₴", "грн", "uah", "byn"),
}
# "150 т.р." and "150тр" are "150 thousand roubles" in Russian business shorthand.
_SCALED_CURRENCIES = {"т.р": _THOUSAND, "тр": _THOUSAND, "тыс.р": _THOUSAND, "тыс.руб": _THOUSAND}
_PREFIX_CURRENCIES = "$€₽₸₴"
_MINUS = "-−–"
_LONGEST = 24

_TOKEN = re.compile(
    rf"^(?P<cur>[{_PREFIX_CURRENCIES}])?(?P<sign>[{_MINUS}])?(?P<cur2>[{_PREFIX_CURRENCIES}])?"
    r"(?P<num>\d[\d.,]*)(?P<suffix>[^\d.,].*)?$"
)
_GROUP = re.compile(r"^(?P<num>\d{3}(?:[.,]\d+)?)(?P<suffix>[^\d.,].*)?$")


@dataclass(frozen=True)
class _Number:
    digits: str  # as typed: "150", "1,5", "150,000", "1.500.000,50"
    suffix: str  # glued letters after the digits: "k", "млн", "₽", "kр"
    negative: bool


def _split_suffix(suffix: str) -> tuple[Decimal, bool] | None:
    """Glued suffix -> (scale, has currency); None when it is not money (`1e9`, `30%`)."""
    if not suffix:
        return Decimal(1), False
    if suffix in _SCALED_CURRENCIES:
        return _SCALED_CURRENCIES[suffix], True
    if suffix in _SCALES:
        return _SCALES[suffix], False
    if suffix in _CURRENCIES:
        return Decimal(1), True
    for scale_word in sorted(_SCALES, key=len, reverse=True):
        if suffix.startswith(scale_word) and suffix[len(scale_word) :].lstrip(".") in _CURRENCIES:
            return _SCALES[scale_word], True
    return None


def _digits_value(digits: str, *, scaled: bool) -> Decimal | None:
    """Read "150", "1,5", "150,000", "1.500.000,50"; None when the separators make no sense."""
    separators = [ch for ch in digits if ch in ".,"]
    if not separators:
        return Decimal(digits)
    parts = re.split(r"[.,]", digits)
    if any(not part for part in parts):
        return None
    kinds = set(separators)
    if len(kinds) == 2:
        # "1,500,000.50" / "1.500.000,50": the last separator is the decimal one.
        decimal_sep = separators[-1]
        if separators.count(decimal_sep) != 1:
            return None
        whole, fraction = digits.rsplit(decimal_sep, 1)
        groups = re.split(r"[.,]", whole)
        if len(groups[0]) > 3 or any(len(group) != 3 for group in groups[1:]):
            return None
        return Decimal(f"{''.join(groups)}.{fraction}")
    if len(separators) > 1:
        if len(parts[0]) > 3 or any(len(part) != 3 for part in parts[1:]):
            return None
        return Decimal("".join(parts))
    whole, fraction = parts
    # "150,000" is a thousands group for money; "1,500 млн" and "0,125" are fractions.
    if len(fraction) == 3 and not scaled and whole != "0" and len(whole) <= 3:
        return Decimal(whole + fraction)
    return Decimal(f"{whole}.{fraction}")


def _finish(value: Decimal, negative: bool, max_amount: Decimal) -> Decimal:
    if negative or value <= 0:
        raise ParseError(ErrorCode.AMOUNT_NEGATIVE)
    # Compared before rounding: quantize() fails on numbers longer than the Decimal precision.
    if value > max_amount:
        raise ParseError(ErrorCode.AMOUNT_TOO_LARGE, max=max_amount)
    value = _cents(value)
    if value <= 0:
        raise ParseError(ErrorCode.AMOUNT_NEGATIVE)
    return value


def _cents(value: Decimal) -> Decimal:
    """Whole amounts lose a meaningless ".0" from scaling; more than two decimals round."""
    if value == value.to_integral_value():
        return value.to_integral_value()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return value.quantize(_CENT, rounding=ROUND_HALF_UP)
    return value


def parse_amount_prefix(
    tokens: Sequence[str], *, max_amount: Decimal
) -> tuple[Decimal, int] | None:
    """The longest amount at the start of `tokens`, and how many tokens it took; None when
    tokens[0] does not start an amount."""
    # Enough for any real amount ("1 500 000 000,50 руб"); long comments are not normalised.
    words = [norm(token) for token in tokens[:_LONGEST]]
    if not words:
        return None
    i = 0
    has_currency = False
    if words[0] and words[0] in _PREFIX_CURRENCIES and len(words) > 1:
        # "$ 100": a currency sign standing alone before the number.
        has_currency, i = True, 1
    match = _TOKEN.match(words[i])
    if match is None:
        return None
    has_currency = has_currency or bool(match["cur"] or match["cur2"])
    negative = bool(match["sign"])
    suffix = _split_suffix(match["suffix"] or "")
    if suffix is None:
        return None
    scale, glued_currency = suffix
    has_currency = has_currency or glued_currency
    digits = match["num"]
    end = i + 1
    if not match["suffix"] and digits.isdigit() and len(digits) <= 3:
        # "150 000", "1 500 000", "99 999,50", "150 000р": whitespace between thousands.
        while end < len(words) and (group := _GROUP.match(words[end])):
            group_suffix = _split_suffix(group["suffix"] or "")
            if group_suffix is None:
                break
            digits += group["num"]
            end += 1
            if group["suffix"] or not group["num"].isdigit():
                scale, glued_currency = group_suffix
                has_currency = has_currency or glued_currency
                break
    scaled = scale != 1
    if not scaled and end < len(words) and words[end] in _SCALES:
        scale, scaled, end = _SCALES[words[end]], True, end + 1
    if not has_currency and end < len(words):
        if words[end] in _CURRENCIES:
            end += 1
        elif not scaled and words[end] in _SCALED_CURRENCIES:
            scale, scaled, end = _SCALED_CURRENCIES[words[end]], True, end + 1
    value = _digits_value(digits, scaled=scaled)
    if value is None:
        return None
    return _finish(value * scale, negative, max_amount), end


def parse_amount(text: str, *, max_amount: Decimal) -> Decimal:
    """The whole text must be one amount."""
    tokens = tokenize(text)
    if not tokens:
        raise ParseError(ErrorCode.AMOUNT_MISSING)
    found = parse_amount_prefix(tokens, max_amount=max_amount)
    if found is None or found[1] != len(tokens):
        raise ParseError(ErrorCode.AMOUNT_INVALID)
    return found[0]


# -- margin -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Margin:
    percent: Decimal | None  # 30 for "30%"; -100..100, negative for a loss-making deal
    amount: Decimal | None  # absolute profit, written without %: "margin 45000", "маржа 45 тыс"


# These words cannot mean anything else after a deal, so a bad value after them is an error.
_MARGIN_WORDS = {
    "margin",
    "маржа",
    "маржу",
    "маржи",
    "маржой",
    "маржинальность",
    "маржинальностью",
}
# These can start an ordinary comment ("прибыль обсудим позже"); without a value they are text.
_PROFIT_WORDS = {"profit", "прибыль", "прибылью"}
_WITH = {"with", "с"}
_FILLERS = {"", "-", "—", "–", "="}
_PERCENT = re.compile(r"^(?P<sign>[-−–+])?(?P<num>\d{1,9}(?:[.,]\d+)?)%$")
_PERCENT_WORDS = {"%", "процентов", "процента", "процент", "проц", "pct", "percent", "percents"}
_SIGNED_NUMBER = re.compile(r"^(?P<sign>[-−–+])?(?P<num>\d{1,9}(?:[.,]\d+)?)$")


def _percent(words: Sequence[str], i: int) -> tuple[Decimal, int] | None:
    word = words[i] if i < len(words) else ""
    if match := _PERCENT.match(word):
        end = i + 1
    elif (match := _SIGNED_NUMBER.match(word)) and i + 1 < len(words):
        if words[i + 1] not in _PERCENT_WORDS:
            return None
        end = i + 2
    else:
        return None
    value = Decimal(match["num"].replace(",", "."))
    if match["sign"] and match["sign"] != "+":
        value = -value
    if not -_HUNDRED <= value <= _HUNDRED:
        raise ParseError(ErrorCode.MARGIN_INVALID)
    return _cents(value), end


def _profit(tokens: Sequence[str], i: int, max_amount: Decimal) -> tuple[Decimal, int] | None:
    """An absolute profit; unlike a deal amount it may be negative (a loss) or zero."""
    rest = list(tokens[i:])
    if not rest:
        return None
    first = norm(rest[0])
    negative = bool(first) and first[0] in _MINUS and len(first) > 1
    if negative:
        rest[0] = first[1:]
    if norm(rest[0]) in {"0", "0%"}:
        return Decimal(0), i + 1
    found = parse_amount_prefix(rest, max_amount=max_amount)
    if found is None:
        return None
    value, used = found
    return (-value if negative else value), i + used


def parse_margin(tokens: Sequence[str], *, max_amount: Decimal) -> tuple[Margin, int] | None:
    """`margin 30%`, `маржа 25 %`, `с маржой 20%`, `прибыль 45 тыс`, or a bare `30%` (as in
    `/deal Ivanov 150000 30%`), and how many tokens it took."""
    words = [norm(token) for token in tokens[:_LONGEST]]
    i = 0
    if words[:1] and words[0] in _WITH and len(words) > 1 and words[1] in _MARGIN_WORDS:
        i = 1
    keyword = words[i] if i < len(words) else ""
    if keyword not in _MARGIN_WORDS and keyword not in _PROFIT_WORDS:
        # Only a percentage may stand without a keyword; a bare number is not a margin.
        found = _percent(words, 0)
        if found is None:
            return None
        percent, end = found
        if end < len(words) and words[end] in _MARGIN_WORDS:
            end += 1
        return Margin(percent=percent, amount=None), end
    j = i + 1
    while j < len(words) and words[j] in _FILLERS:
        j += 1
    if percent_found := _percent(words, j):
        percent, end = percent_found
        return Margin(percent=percent, amount=None), end
    if profit_found := _profit(tokens, j, max_amount):
        amount, end = profit_found
        return Margin(percent=None, amount=amount), end
    if keyword in _MARGIN_WORDS:
        raise ParseError(ErrorCode.MARGIN_INVALID)
    return None
