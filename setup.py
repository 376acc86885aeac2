"""Build hook: the wheel carries the compiled translations (bot/locales/<lang>/LC_MESSAGES/*.mo).

Everything else about the package is in pyproject.toml. The catalogues' sources are the .po
files under locales/ (the .mo files are build output and never committed), so build_py compiles
them into the package it builds: a broken catalogue fails the build instead of the bot's
start, and the installed bot reads them as they are, without writing to site-packages.
A source checkout (and an editable install) reads locales/ directly: see bot/i18n.py.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


class build_py_with_catalogues(build_py):  # noqa: N801 - named like the command it extends
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # bot/i18n.py finds the checkout's locales/
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        target = Path(self.build_lib) / "bot" / "locales"
        sources = sorted(SOURCES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
        if not sources:
            raise SystemExit(f"no {DOMAIN}.po catalogues under {SOURCES}")
        for po_path in sources:
            language = po_path.parent.parent.name
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            mo_path = target / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            # Fuzzy entries too, as `make locales` compiles them (pybabel compile --use-fuzzy).
            with mo_path.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=True)


setup(cmdclass={"build_py": build_py_with_catalogues})
