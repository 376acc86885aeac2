"""The built package is complete: its wheel carries the compiled translations, and a bot whose
catalogues are missing refuses to start instead of answering in untranslated English."""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from babel.support import Translations

import bot.i18n as i18n
from bot.__main__ import main
from bot.config import SUPPORTED_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
# What the package is built from; the copy keeps build/ and *.egg-info out of the tree.
SOURCES = ["pyproject.toml", "setup.py", "README.md", "bot", "handlers", "storage", "locales"]


def _can_build_wheels() -> bool:
    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _a_translated_message(language: str) -> tuple[str, str]:
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
            assert isinstance(message.string, str)
            return message.id, message.string
    raise AssertionError(f"the {language} catalogue translates nothing")


def test_the_wheel_carries_every_catalogue_compiled(tmp_path: Path):
    # Not a skip: without this the suite could not tell a wheel that answers in English.
    assert _can_build_wheels(), "install the dev extras: setuptools>=70.1 builds wheels offline"
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.mo", "*.pyc")
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    out = tmp_path / "dist"
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = out.glob("salesbot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for language in SUPPORTED_LANGUAGES:
            name = f"bot/locales/{language}/LC_MESSAGES/messages.mo"
            assert name in archive.namelist(), f"{name} is not in the wheel"
            catalogue = Translations(io.BytesIO(archive.read(name)), domain="messages")
            if language != "en":  # English is the msgids themselves
                msgid, translated = _a_translated_message(language)
                assert catalogue.gettext(msgid) == translated
        # The Mini App's page ships in the package (bot/miniapp/server.py serves it from there).
        static = ROOT / "bot" / "miniapp" / "static"
        for path in sorted(p for p in static.rglob("*") if p.is_file()):
            name = path.relative_to(ROOT).as_posix()
            if "__pycache__" not in name:
                assert name in archive.namelist(), f"{name} is not in the wheel"
    with (ROOT / "pyproject.toml").open("rb") as handle:
        package_data = tomllib.load(handle)["tool"]["setuptools"]["package-data"]
    assert "static/**/*" in package_data["bot.miniapp"]


def test_the_checkout_has_a_catalogue_for_every_language():
    assert i18n.missing_catalogues() == []


@pytest.fixture
def bare_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env from the tree
    for name in ("BOT_TOKEN", "BOT_MODE", "DATABASE_URL", "REDIS_URL", "MIGRATE_ON_START"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    return tmp_path


@pytest.mark.parametrize("command", ["run", "console"])
def test_start_refuses_without_the_catalogues(
    command: str,
    bare_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # An installed package whose build left the translations out: only English survives.
    empty = bare_environment / "locales"
    shutil.copytree(ROOT / "locales" / "en", empty / "en")
    monkeypatch.setattr(i18n, "LOCALES_DIR", empty)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert "Cannot start: no translations for ru" in err
    assert str(empty) in err
    assert not (bare_environment / "db.sqlite3").exists()  # refused before migrating
