"""Every error code has its sentence, in English and Russian, and every raise gives the sentence
what it needs: a code without a text, or a text missing a value, fails here rather than in
front of a member."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.errors import ErrorCode
from bot.i18n import Plural, use_locale
from bot.parsing.errors import ParseError
from bot.services.errors import DomainError
from bot.telegram.error_texts import ERROR_TEXTS, FIELD_LABELS, error_text
from bot.telegram.local_session import check_html

ROOT = Path(__file__).resolve().parent.parent
ERROR_CLASSES = {"DomainError", "ParseError"}
# Raises whose code is not written at the raise, each relaying codes whose parameters the
# relayed-from site already gives: (file, how many such raises it has).
RELAYED = {
    # `code` is TRANSFER_CLIENT_UNKNOWN or TRANSFER_NOT_THEIRS, both raised with value and name.
    "bot/services/team.py": 1,
    # mapping_problem(): codes without placeholders (bot/services/importing/mapping.py).
    "bot/services/importing/service.py": 1,
    # The worker process's refusal, raised again in the parent with its own code and params.
    "bot/services/importing/worker.py": 1,
}


def _placeholders(text: str | Plural | tuple[str, ...]) -> set[str]:
    """A text's placeholders; for a message with plural forms, those of every form."""
    forms = (text,) if isinstance(text, str) else tuple(text)
    return {name for form in forms for name in re.findall(r"\{(\w+)\}", form)}


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_every_code_has_a_text_and_every_text_a_code():
    assert set(ERROR_TEXTS) == set(ErrorCode)
    assert all(isinstance(code, ErrorCode) for code in ERROR_TEXTS)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_code_text_is_in_the_catalogue_with_its_placeholders(language: str):
    catalog = _catalog(language)
    for code, text in [*ERROR_TEXTS.items(), *FIELD_LABELS.items()]:
        message = catalog.get(text.singular if isinstance(text, Plural) else text)
        assert message is not None, (language, code)
        # A sentence that counts has plural forms in the catalogue too, and only such a one.
        assert isinstance(message.id, tuple) == isinstance(text, Plural), (language, code)
        if language == "ru":
            assert message.string and all(message.string) and not message.fuzzy, code
            assert _placeholders(message.string) == _placeholders(text), code


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_renders_as_valid_html_in_both_languages(language: str, code: ErrorCode):
    params: dict[str, object] = dict.fromkeys(_placeholders(ERROR_TEXTS[code]), "<Иванов & Co>")
    if "max" in params:
        params["max"] = 100000
    if code is ErrorCode.FIELD_TOO_LONG:
        params["field"] = "city"
    with use_locale(language):
        text = error_text(code, params)
    assert text and "{" not in text and check_html(text) is None, text
    assert "<Иванов" not in text  # echoed values are escaped
    if language == "ru" and code is not ErrorCode.LANGUAGE_INVALID:
        with use_locale("en"):
            assert text != error_text(code, params), code


def test_a_string_that_is_no_code_is_refused_where_it_is_raised():
    with pytest.raises(ValueError, match="is not a valid ErrorCode"):
        DomainError("no_such_code")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a valid ErrorCode"):
        ParseError("no_such_code")  # type: ignore[arg-type]
    # An old raise that still names a code by its string gets the member.
    assert DomainError("date_past").code is ErrorCode.DATE_PAST  # type: ignore[arg-type]


def _raises() -> list[tuple[str, int, ast.expr, set[str] | None]]:
    """(file, line, code argument, keyword names; None when the params are splatted) of every
    DomainError(...) and ParseError(...) in bot/ and handlers/."""
    found = []
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name not in ERROR_CLASSES or not node.args:
                    continue
                keywords = {k.arg for k in node.keywords}
                names = None if None in keywords else {k for k in keywords if k is not None}
                found.append((str(path.relative_to(ROOT)), node.lineno, node.args[0], names))
    return found


def _members(node: ast.expr) -> list[ErrorCode] | None:
    """The codes an argument names (`ErrorCode.X`, or a conditional of two), else None."""
    if isinstance(node, ast.IfExp):
        body, orelse = _members(node.body), _members(node.orelse)
        return None if body is None or orelse is None else body + orelse
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ErrorCode"
    ):
        return [ErrorCode[node.attr]]
    return None


def test_every_raise_names_a_member_and_gives_its_texts_placeholders():
    raises = _raises()
    assert len(raises) > 150  # the scan sees the raises (there are ~200)
    relayed: dict[str, int] = {}
    for path, line, argument, keywords in raises:
        where = f"{path}:{line}"
        assert not isinstance(argument, ast.Constant), f"{where}: raise with ErrorCode.X"
        codes = _members(argument)
        if codes is None:
            relayed[path] = relayed.get(path, 0) + 1
            continue
        for code in codes:
            needed = _placeholders(ERROR_TEXTS[code])
            assert keywords is not None, where
            # A raise may give more than its text shows (a value kept for the log or a test).
            assert needed <= keywords, f"{where}: {code} needs {sorted(needed - keywords)}"
    assert relayed == RELAYED


def test_the_codes_a_relay_raises_again_keep_their_parameters():
    # bot/services/team.py picks one of these two with the same value and name.
    for code in (ErrorCode.TRANSFER_CLIENT_UNKNOWN, ErrorCode.TRANSFER_NOT_THEIRS):
        assert _placeholders(ERROR_TEXTS[code]) <= {"value", "name"}
    # mapping_problem()'s codes are raised without parameters.
    for code in (
        ErrorCode.IMPORT_EXPIRED,
        ErrorCode.IMPORT_NAME_UNMAPPED,
        ErrorCode.IMPORT_FIELD_TWICE,
    ):
        assert _placeholders(ERROR_TEXTS[code]) == set()


def test_every_code_is_used_somewhere():
    used: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name not in ("errors.py", "error_texts.py"):
                used |= set(re.findall(r"ErrorCode\.([A-Z_]+)", path.read_text(encoding="utf-8")))
    assert {code.name for code in ErrorCode} - used == set()
