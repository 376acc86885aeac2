"""Long replies are split below Telegram's limit, measured as Telegram measures (visible UTF-16
code units after the HTML is parsed), into chunks that are each valid HTML."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram.local_session import check_html
from bot.telegram.paging import (
    ELLIPSIS,
    LAST_PART,
    TEXT_LIMIT,
    fit_lines,
    measure,
    neighbours,
    part_of,
    split_text,
    truncate,
    utf16_len,
    visible_length,
)


def _valid(chunk: str) -> bool:
    return visible_length(chunk) <= TEXT_LIMIT and check_html(chunk) is None


def test_many_lines_split_on_line_breaks_into_valid_chunks():
    lines = [f"• <b>{escape('Клиент <' + str(n) + '>')}</b> · note {'x' * 80}" for n in range(300)]
    chunks = split_text("\n".join(lines))
    assert len(chunks) > 1
    assert all(_valid(chunk) for chunk in chunks)
    assert "\n".join(chunks).count("<b>") == 300


def test_one_overlong_line_with_markup_is_cut_without_breaking_tags():
    line = "<code>" + "слово " * 2000 + "</code>"
    chunks = split_text("Header\n" + line)
    assert all(_valid(chunk) for chunk in chunks)
    assert sum(chunk.count("слово") for chunk in chunks) == 2000


def test_short_text_is_one_chunk_untouched():
    assert split_text("<b>Hi</b>\nthere") == ["<b>Hi</b>\nthere"]


def test_telegram_html_rules_are_enforced_by_the_local_api():
    assert check_html("<b>ok</b> &lt;tag&gt;") is None
    assert check_html("<b>open") is not None
    assert check_html("<div>x</div>") is not None
    assert check_html("x" * 4097) is not None
    assert check_html(" \n ") is not None  # nothing visible: Telegram says "text is empty"


def test_length_is_counted_as_telegram_counts_it():
    # Tags count nothing, an entity one character, an emoji outside the BMP two.
    assert visible_length("<b>a&amp;b</b>") == 3
    assert visible_length("🙂") == 2 == utf16_len("🙂")
    assert check_html("&amp;" * TEXT_LIMIT) is None  # 20,480 raw characters, 4,096 shown
    assert check_html("🙂" * 2049) is not None  # 2,049 characters, 4,098 code units


def test_split_counts_utf16_units_and_entities_not_raw_characters():
    # Raw length under 4,096 per line, but emoji count two: the old split let these through.
    emoji = "\n".join("🙂" * 1500 for _ in range(3))
    assert all(_valid(chunk) for chunk in split_text(emoji))
    # Raw length far over 4,096, but shown it fits: one message, as Telegram would take it.
    entities = "&amp;" * 4000
    assert split_text(entities) == [entities]


def test_a_tag_open_across_line_breaks_is_closed_and_reopened_at_each_split():
    text = "<pre>" + "\n".join(f"line {n} &amp; more" for n in range(1000)) + "</pre>"
    chunks = split_text(text)
    assert len(chunks) > 1 and all(_valid(chunk) for chunk in chunks)
    assert all(chunk.startswith("<pre>") and chunk.endswith("</pre>") for chunk in chunks)
    assert sum(chunk.count("more") for chunk in chunks) == 1000


def test_truncate_never_cuts_an_entity_or_leaves_a_tag_open():
    line = "<b>" + escape("Tom & Jerry <LLC> ") * 50 + "</b> · tail"
    for limit in range(1, 80):
        cut = truncate(line, limit)
        checked = measure(cut)
        assert checked.error is None, (limit, cut)
        assert checked.visible <= limit
        assert cut.endswith(ELLIPSIS + "</b>")
        # Every `&` left is the start of a whole entity.
        assert cut.count("&") == cut.count("&amp;") + cut.count("&lt;") + cut.count("&gt;")


def test_fit_lines_drops_whole_lines_and_marks_it():
    lines = ["<b>Title</b>", *(f"row {n} " + "x" * 200 for n in range(40))]
    text = fit_lines(lines)
    assert _valid(text) and text.endswith("\n" + ELLIPSIS)
    assert text.startswith("<b>Title</b>\nrow 0 ")


def test_parts_cover_every_row_once_and_each_fits_the_budget():
    rows = [f"<b>{escape('N&' * (n % 90))}</b> {n}" for n in range(60)]
    budget = 700
    first = part_of(rows, 0, budget)
    seen: list[str] = []
    for index in range(first.count):
        part = part_of(rows, index, budget)
        assert part.index == index and part.first == len(seen)
        assert visible_length("\n".join(part.rows)) <= budget
        seen.extend(part.rows)
    assert seen == rows
    assert part_of(rows, LAST_PART, budget).index == first.count - 1
    assert part_of(rows, 10**6, budget).index == first.count - 1


def test_page_buttons_lead_to_the_neighbouring_parts_and_chunks():
    rows = ["x" * 300] * 25
    budget = 1000  # three rows a part: parts 0..8
    middle = part_of(rows, 4, budget)
    back, more = neighbours(50, middle, len(rows), 200, 25)
    assert (back.offset, back.part) == (50, 3) and (more.offset, more.part) == (50, 5)
    first = part_of(rows, 0, budget)
    back, _more = neighbours(50, first, len(rows), 200, 25)
    assert (back.offset, back.part) == (25, LAST_PART)
    last = part_of(rows, LAST_PART, budget)
    _back, more = neighbours(50, last, len(rows), 200, 25)
    assert (more.offset, more.part) == (75, 0)
    _back, more = neighbours(175, last, len(rows), 200, 25)
    assert more is None


class _Reference(HTMLParser):
    """Python's HTML parser, counting text between tags: the fast measure must agree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.visible = 0

    def handle_data(self, data: str) -> None:
        self.visible += utf16_len(data)


_pieces = st.one_of(
    st.text(max_size=30).map(escape),
    st.sampled_from(["<b>", "</b>", "<code>", "</code>", '<a href="x?a=1&amp;b=2">', "</a>"]),
    st.sampled_from(["&amp;", "&lt;", "&#59;", "&#x1F642;", "&quot;", "🙂", "\n", " "]),
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_the_fast_measure_agrees_with_an_html_parser(html: str):
    reference = _Reference()
    reference.feed(html)
    reference.close()
    assert visible_length(html) == reference.visible


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(_pieces, max_size=60).map("".join), st.integers(20, 300))
def test_split_and_truncate_keep_any_markup_valid_and_within_the_limit(html: str, limit: int):
    html = html.replace("<b>", "").replace("</b>", "")  # only well-nested tags from here on
    html = "<b>" + re.sub(r"<[^>]*>", "", html) + "</b>"
    for chunk in split_text(html, limit):
        assert measure(chunk).error is None and visible_length(chunk) <= limit
    cut = truncate(html, limit)
    assert measure(cut).error is None and visible_length(cut) <= limit
