"""Long replies are split below Telegram's limit into chunks that are each valid HTML."""

from __future__ import annotations

from html import escape

from bot.telegram.local_session import check_html
from bot.telegram.texts import MESSAGE_LIMIT, split_text


def test_many_lines_split_on_line_breaks_into_valid_chunks():
    lines = [f"• <b>{escape('Клиент <' + str(n) + '>')}</b> · note {'x' * 80}" for n in range(300)]
    chunks = split_text("\n".join(lines))
    assert len(chunks) > 1
    assert all(len(chunk) <= MESSAGE_LIMIT and check_html(chunk) is None for chunk in chunks)
    assert "\n".join(chunks).count("<b>") == 300


def test_one_overlong_line_with_markup_is_cut_without_breaking_tags():
    line = "<code>" + "слово " * 2000 + "</code>"
    chunks = split_text("Header\n" + line)
    assert all(len(chunk) <= MESSAGE_LIMIT and check_html(chunk) is None for chunk in chunks)
    assert sum(chunk.count("слово") for chunk in chunks) == 2000


def test_short_text_is_one_chunk_untouched():
    assert split_text("<b>Hi</b>\nthere") == ["<b>Hi</b>\nthere"]


def test_telegram_html_rules_are_enforced_by_the_local_api():
    assert check_html("<b>ok</b> &lt;tag&gt;") is None
    assert check_html("<b>open") is not None
    assert check_html("<div>x</div>") is not None
    assert check_html("x" * 4097) is not None
