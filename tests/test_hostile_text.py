"""Text that looks like markup or hides characters: names keep what was typed, invisible
characters never split one client into two, and nothing shown cuts an HTML entity in half."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.parsing.names import clean_name
from bot.parsing.new_client import parse_new_client
from bot.telegram.paging import visible_length
from storage.models import Client
from tests.support.harness import BotHarness, Person
from tests.support.uploads import button, csv_bytes, upload

OWNER = Person(1, "Olga")
MANAGER = Person(2, "Max")
# Every character Unicode calls a format character that pasted text tends to carry.
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",  # zero-width space/joiners, LRM, RLM
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidirectional embeddings, overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # bidirectional isolates
    "\ufeff", "\u00ad", "\u2060",  # byte-order mark, soft hyphen, word joiner
]  # fmt: skip
# An `&` that does not start a whole entity is a cut entity.
_BROKEN_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#x27|#\d+);)")


async def _names(h: BotHarness) -> list[str]:
    async with h.uow_factory() as uow:
        return list(await uow.session.scalars(select(Client.name).order_by(Client.id)))


async def _client(h: BotHarness, name: str) -> Client:
    async with h.uow_factory() as uow:
        client = await uow.session.scalar(select(Client).where(Client.name == name))
    assert client is not None, name
    return client


# -- a name keeps what the user typed -----------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["Tom & Jerry <LLC>", "Tom &amp; Jerry &lt;LLC&gt;", "AT&T; Inc", "Ромашка &#59; & Co"],
)
def test_add_parses_markup_like_names_as_typed(typed: str):
    expected = "AT&T" if typed == "AT&T; Inc" else typed  # a bare `;` still separates
    parsed = parse_new_client(typed + ", Москва", max_amount=10**9, max_tag_chars=20)
    assert parsed.name == expected
    assert parsed.city == ("Inc" if typed == "AT&T; Inc" else "Москва")


async def test_add_keeps_a_name_with_ampersands_brackets_and_typed_entities(team: BotHarness):
    replies = await team.send(MANAGER, "/add Tom & Jerry <LLC>")
    assert "<b>Tom &amp; Jerry &lt;LLC&gt;</b> added" in replies[0].text
    # Typed entities are text too: stored as typed, shown as typed (escaped once more).
    replies = await team.send(MANAGER, "/add Tom &amp; Jerry &lt;LLC&gt;, Москва")
    assert "<b>Tom &amp;amp; Jerry &amp;lt;LLC&amp;gt;</b> added" in replies[0].text
    assert await _names(team) == ["Tom & Jerry <LLC>", "Tom &amp; Jerry &lt;LLC&gt;"]
    assert (await _client(team, "Tom &amp; Jerry &lt;LLC&gt;")).city == "Москва"
    card = (await team.send(MANAGER, "/client Tom & Jerry <LLC>"))[0].text
    assert card.startswith("<b>Tom &amp; Jerry &lt;LLC&gt;</b>")


# -- an audit query cut for display -------------------------------------------------------


@pytest.mark.parametrize("cut_at", range(26, 39))
async def test_audit_cuts_a_long_query_without_cutting_an_entity(team: BotHarness, cut_at: int):
    query = "x" * cut_at + "& <b>Jerry</b> & Co " * 3
    await team.send(OWNER, f"/find {query}")
    text = (await team.send(OWNER, "/audit search"))[0].text
    line = next(line for line in text.split("\n") if "🔎" in line)
    shown = line[line.index("«") + 1 : line.index("»")]
    assert not _BROKEN_ENTITY.search(shown), shown
    assert shown.startswith("x" * cut_at) and shown.endswith("…")
    assert visible_length(shown) <= 40


# -- invisible characters -----------------------------------------------------------------


@pytest.mark.parametrize("char", INVISIBLE)
def test_clean_name_drops_each_invisible_character(char: str):
    assert clean_name(f"{char}Iva{char}nov Petr{char}") == "Ivanov Petr"


def test_clean_name_normalises_compatibility_forms_and_keeps_the_rest():
    assert clean_name("Ｉｖａｎｏｖ\u00a0Petr") == "Ivanov Petr"  # full-width, no-break space
    assert clean_name("ﬁrma «Ёлка» & <Co>") == "firma «Ёлка» & <Co>"
    assert clean_name("\u200b\u202e") == ""


async def test_a_name_typed_with_invisible_characters_is_stored_clean_and_found_plainly(
    team: BotHarness,
):
    await team.send(MANAGER, "/add Iva\u200bnov Pe\u00adtr\u202e, contact: Ser\ufeffgei")
    client = await _client(team, "Ivanov Petr")
    assert client.contact_person == "Sergei"
    found = await team.send(MANAGER, "/find Ivanov Petr")
    assert found[0].buttons and found[0].buttons[0][0] == "Ivanov Petr"
    # A query carrying them finds the plain name too.
    replies = await team.send(MANAGER, "/client \u2066Iva\u200dnov\u2069")
    assert replies[0].text.startswith("<b>Ivanov Petr</b>")
    replies = await team.send(MANAGER, "/call Ivan\u200bov done")
    assert "Call with <b>Ivanov Petr</b> logged" in replies[0].text


async def test_an_imported_name_with_invisible_characters_is_stored_clean(team: BotHarness):
    rows = [["Название", "Контакт"], ["Гам\u200bма\ufeff", "Ан\u00adна"]]
    mapping = (await upload(team, OWNER, csv_bytes(rows, encoding="utf-8"), "c.csv"))[-1]
    replies = await team.press(OWNER, button(mapping, "go"))
    assert "Clients added: 1." in replies[-1].text
    client = await _client(team, "Гамма")
    assert client.contact_person == "Анна"
    assert (await team.send(OWNER, "/find Гамма"))[0].buttons[0][0] == "Гамма"
