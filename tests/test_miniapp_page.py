"""The Mini App's page as files: every word it shows is a key the server translates, it never
writes markup from data, and it refers only to files it ships with (nothing fetched at run time
but Telegram's own script)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import use_locale
from bot.miniapp.texts import PLURALS, TEXTS, labels

STATIC = Path(__file__).resolve().parent.parent / "bot" / "miniapp" / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))


def _source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SCRIPTS)


def test_every_text_the_page_looks_up_is_served():
    source = _source()
    plain = set(re.findall(r"""\bt\(\s*"([^"]+)"\s*[,)]""", source))
    counted = set(re.findall(r"""\btn\(\s*"([^"]+)"\s*,""", source))
    prefixes = set(re.findall(r"""\bt\(\s*`([^`$]+)\$\{""", source))
    assert plain and counted and prefixes  # the patterns still match the page's style
    assert sorted(plain - set(TEXTS)) == []
    assert sorted(counted - set(PLURALS)) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in TEXTS), prefix


def test_every_label_group_the_page_reads_is_served():
    with use_locale("en"):
        served = labels()
    groups = set(re.findall(r"""\blabel\(\s*"(\w+)"\s*,""", _source()))
    # A field's kind names its group too (label(field.kind, value) for the choices).
    groups |= {"temperature", "stage", "consent"}
    assert groups and sorted(groups - set(served)) == []
    assert set(served["section"]) >= {str(n) for n in range(10)}


def test_the_page_never_turns_data_into_markup():
    source = _source()
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert risky not in source, risky


def test_the_page_refers_only_to_its_own_files():
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    for ref in re.findall(r"""(?:src|href)="([^"#]+)\"""", page):
        if ref.startswith("https://telegram.org/") or ref.startswith("data:"):
            continue  # Telegram's script, loaded from Telegram as its docs ask; inline data
        assert not re.match(r"^[a-z]+:|^//", ref), ref
        assert (STATIC.parent / ref).is_file() or (STATIC / ref.removeprefix("static/")).is_file()
    for path in SCRIPTS:
        for module in re.findall(r"""from\s+"([^"]+)\"""", path.read_text(encoding="utf-8")):
            assert module.startswith("./") and (STATIC / module[2:]).is_file(), (path, module)
        # Addresses are the API's, relative to the page; SVG's namespace is a name, not a fetch.
        text = path.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, path
