"""The one way the bot measures, cuts and pages its HTML messages against Telegram's length limits
(bot/telegram_limits.py).

Telegram counts a message after parsing its HTML: tags count nothing, an entity such as `&amp;`
counts as the one character it stands for, and characters are counted in UTF-16 code units (an
emoji outside the Basic Multilingual Plane counts two). A message over the limit is refused and
the member gets nothing, so every long or paged view is built by this measure, never by a count
of rows or of raw characters. The in-memory Bot API (`local_session`) judges with the same
function, so a test fails exactly where Telegram would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser

# Views measure against these here, beside the measure itself.
from bot.telegram_limits import ALERT_LIMIT as ALERT_LIMIT
from bot.telegram_limits import CAPTION_LIMIT as CAPTION_LIMIT
from bot.telegram_limits import TEXT_LIMIT as TEXT_LIMIT

ELLIPSIS = "…"
ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "blockquote"}
)
# A page index that means "the last part of this chunk of rows" (the Back button from a
# chunk's first part does not know how the chunk before it splits).
LAST_PART = -1

# One token of Telegram HTML: a tag, an entity, a run of plain text, or a stray `<` or `&`
# (counted as text, as Telegram's and Python's HTML parsers do).
_TOKEN = re.compile(
    r"</?[A-Za-z][^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});"
    r"|[^<&]+|[<&]"
)
_TAGS = re.compile(r"</?[A-Za-z][^<>]*>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def cut_plain(text: str, limit: int) -> str:
    """Plain text (no HTML) cut to at most `limit` UTF-16 units, never inside a character."""
    if utf16_len(text) <= limit:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _tokens(html: str) -> list[str]:
    return _TOKEN.findall(html)


def _entity_width(entity: str) -> int:
    return utf16_len(entity) - _entity_saving(entity)


@lru_cache(maxsize=4096)
def _width(token: str) -> int:
    if len(token) > 1:
        if token[0] == "<":
            return 0
        if token[0] == "&":
            return _entity_width(token)
    return utf16_len(token)


def visible_length(html: str) -> int:
    """What Telegram counts of this HTML text: the shown characters in UTF-16 code units, an
    entity as the character it stands for, tags as nothing. The pager and the in-memory Bot
    API both measure with this."""
    # Regular expressions and a cache do the work, not a parser: every row of every page is
    # measured, and a name may hold two hundred entities.
    text = _TAGS.sub("", html)
    length = utf16_len(text)
    if "&" in text:
        length -= sum(map(_entity_saving, _ENTITY.findall(text)))
    return length


@lru_cache(maxsize=512)
def _entity_saving(entity: str) -> int:
    """How much shorter an entity is shown than written: `&amp;` 5 written, 1 shown."""
    return utf16_len(entity) - utf16_len(unescape(entity))


class _Parser(HTMLParser):
    """Telegram's HTML rules: known tags only, properly nested, something visible."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.blank = True
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"unsupported start tag {tag!r}"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"unexpected end tag {tag!r}"

    def handle_data(self, data: str) -> None:
        self.blank = self.blank and not data.strip()


@dataclass(frozen=True, slots=True)
class Measured:
    visible: int  # UTF-16 code units of the text Telegram shows
    blank: bool  # nothing but white space is shown (Telegram refuses such a message)
    error: str | None  # why Telegram could not parse the HTML, or None


def measure(html: str) -> Measured:
    """What Telegram makes of this HTML text: its visible length and any parse error."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    error = parser.error
    if error is None and parser.stack:
        error = f"unclosed tag {parser.stack[-1]!r}"
    return Measured(visible_length(html), parser.blank, error)


# -- cutting ---------------------------------------------------------------------------------


def _tag(token: str) -> tuple[bool, str] | None:
    """(is a closing tag, name) for a tag token, None for text."""
    if not token.startswith("<") or len(token) == 1:
        return None
    found = _TAG_NAME.match(token)
    return None if found is None else (found.group(1) == "/", found.group(2).lower())


def _update(stack: list[tuple[str, str]], token: str) -> None:
    if token[:1] != "<":
        return
    tag = _tag(token)
    if tag is None:
        return
    closing, name = tag
    if not closing:
        stack.append((name, token))
    elif stack and stack[-1][0] == name:
        stack.pop()


def _closers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _raw in reversed(stack))


def _openers(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(raw for _name, raw in stack)


def _split_tokens(
    tokens: list[str], limit: int, stack: Sequence[tuple[str, str]] = ()
) -> tuple[list[str], list[str], list[tuple[str, str]], int]:
    """(head, rest, tags open after head, head's width): head shows at most `limit`
    characters, cut between tokens or inside plain text (never inside a tag or an entity),
    preferably at a space.

    Tags open at the cut are left open in head (the caller closes them) and are not repeated
    in rest (the caller reopens them): `stack` holds the tags open before the tokens."""
    open_tags = list(stack)
    used = 0
    for index, token in enumerate(tokens):
        width = _width(token)
        if used + width <= limit:
            used += width
            _update(open_tags, token)
            continue
        if len(token) > 1 and token[0] in "<&":
            return tokens[:index], tokens[index:], open_tags, used
        # Plain text: the characters that still fit, breaking at a space if one is near the
        # end, so a word is not cut in two.
        room, taken, cut = limit - used, 0, 0
        for position, char in enumerate(token):
            taken += utf16_len(char)
            if taken > room:
                break
            cut = position + 1
        space = token.rfind(" ", 0, cut)
        if space > 0 and cut - space < 40:
            cut = space
        head, rest = token[:cut], token[cut:].lstrip(" ")
        return (
            [*tokens[:index], head],
            [rest, *tokens[index + 1 :]],
            open_tags,
            used + utf16_len(head),
        )
    return tokens, [], open_tags, used


def _blank(html: str) -> bool:
    text = _TAGS.sub("", html)
    # Unescaped only when nothing but entities and spaces is left (rare, and short then).
    return not _ENTITY.sub("", text).strip() and not unescape(text).strip()


def truncate(html: str, limit: int) -> str:
    """The line itself if it fits, else its start with an ellipsis: shown text at most `limit`
    characters, every tag the cut leaves open closed."""
    if visible_length(html) <= limit:
        return html
    head, _rest, open_tags, _width = _split_tokens(
        _tokens(html), max(limit - utf16_len(ELLIPSIS), 0)
    )
    return "".join(head).rstrip() + ELLIPSIS + _closers(open_tags)


def fit_lines(lines: Sequence[str], limit: int = TEXT_LIMIT) -> str:
    """Lines joined, dropping whole lines from the end (marked with an ellipsis line) until
    the text fits; a first line too long on its own is cut."""
    text = "\n".join(lines)
    if visible_length(text) <= limit:
        return text
    kept: list[str] = []
    used = utf16_len("\n" + ELLIPSIS)
    for line in lines:
        width = visible_length(line) + (1 if kept else 0)
        if used + width > limit:
            if not kept:
                kept.append(truncate(line, limit - used))
            break
        kept.append(line)
        used += width
    return "\n".join([*kept, ELLIPSIS])


# -- long texts: several messages ------------------------------------------------------------


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """One text as as few messages as needed, each within the limit and valid HTML on its own.

    Split at line breaks; a tag open across a break is closed at the end of one message and
    reopened at the start of the next. A single line longer than a message (a huge note) goes
    on in the next message, cut at a space where one is near; nothing is lost."""
    if visible_length(text) <= limit:
        return [text]
    chunks: list[str] = []
    stack: list[tuple[str, str]] = []  # tags open where the current chunk starts
    prefix = ""
    body: list[str] = []
    used = 0

    def flush(open_at_end: list[tuple[str, str]]) -> None:
        nonlocal prefix, body, used
        chunk = (prefix + "\n".join(body)).strip("\n") + _closers(open_at_end)
        if not _blank(chunk):
            chunks.append(chunk)
        prefix, body, used = _openers(open_at_end), [], 0

    for line in text.split("\n"):
        width = visible_length(line)
        joint = 1 if body else 0
        if body and used + joint + width > limit:
            flush(stack)
            joint = 0
        tokens = _tokens(line) if used + joint + width > limit else []
        while used + joint + width > limit:
            # Too long even for a message of its own: what fits goes here, the rest on.
            head, tokens, open_tags, shown = _split_tokens(tokens, limit - used - joint, stack)
            if shown == 0:
                break  # nothing fits at all (a limit below one character): give up cutting
            body.append("".join(head))
            flush(open_tags)
            # The rest reopens the tags itself: the next chunk starts with none open.
            stack, prefix = [], ""
            tokens = [raw for _name, raw in open_tags] + tokens
            joint, width = 0, width - shown
            line = "".join(tokens)
        body.append(line)
        used += joint + width
        for tag in _TAGS.findall(line):
            _update(stack, tag)
    if body:
        flush(stack)
    return chunks


# -- paged views: a chunk of rows split into parts by measured length ------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """The rows of one page: a part of the chunk of rows a service returned for one offset."""

    rows: list[str]
    first: int  # index in the chunk of the first row shown
    index: int  # which part of the chunk this is, from 0
    count: int  # how many parts the chunk makes


def parts(rows: Sequence[str], budget: int, sep: str = "\n") -> list[tuple[int, list[str]]]:
    """The rows packed greedily into parts whose joined text shows at most `budget`
    characters; a row too long for a part of its own is cut with an ellipsis."""
    joint = visible_length(sep)
    packed: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first, used = 0, 0
    for index, row in enumerate(rows):
        width = visible_length(row)
        if width > budget:
            row = truncate(row, budget)
            width = visible_length(row)
        extra = joint if current else 0
        if current and used + extra + width > budget:
            packed.append((first, current))
            first, current, used, extra = index, [], 0, 0
        current.append(row)
        used += extra + width
    if current or not packed:
        packed.append((first, current))
    return packed


def part_of(rows: Sequence[str], index: int, budget: int, sep: str = "\n") -> Part:
    """Part `index` of the rows (LAST_PART or beyond the end: the last one; forged or stale
    buttons land on a real page)."""
    packed = parts(rows, budget, sep)
    if index < 0 or index >= len(packed):
        index = len(packed) - 1
    first, shown = packed[index]
    return Part(shown, first, index, len(packed))


def budget_for(*fixed: str, limit: int = TEXT_LIMIT, joints: int = 0) -> int:
    """What is left for rows once the fixed pieces (header, footer) and `joints` line breaks
    between pieces are counted."""
    return limit - sum(visible_length(piece) for piece in fixed) - joints


@dataclass(frozen=True, slots=True)
class PageRef:
    """Where a page button leads: the chunk's row offset and the part within it."""

    offset: int
    part: int


def neighbours(
    offset: int, part: Part, chunk_rows: int, total: int, chunk_size: int
) -> tuple[PageRef | None, PageRef | None]:
    """(back, more) of a page: the neighbouring part in this chunk, or the next chunk's first
    part and the previous chunk's last one. The same (offset, part) always shows the same rows
    while the data stays the same."""
    back: PageRef | None = None
    more: PageRef | None = None
    if part.index > 0:
        back = PageRef(offset, part.index - 1)
    elif offset > 0:
        back = PageRef(max(offset - chunk_size, 0), LAST_PART)
    if part.index < part.count - 1:
        more = PageRef(offset, part.index + 1)
    elif offset + chunk_rows < total:
        more = PageRef(offset + chunk_size, 0)
    return back, more
