"""What a newcomer reads on every `make run`: only what matters. The locales step prints
Russian's statistics and nothing about English (the source language translates nothing), and
the editable install takes the layout setuptools installs without its warning box."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def recipe(target: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line[1:].lstrip("@"))
    return body


def test_the_locales_step_reports_russian_only(tmp_path: Path):
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    bin_dir = str(Path(sys.executable).parent)
    output = ""
    for command in recipe("locales"):
        shell = command.replace("$(BIN)", bin_dir).replace("$$", "$")
        done = subprocess.run(
            shell, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        output += done.stdout + done.stderr
    assert re.fullmatch(r"\d+ of \d+ messages \(100%\) translated in locales/ru\S+\n", output)
    assert (tmp_path / "locales" / "en" / "LC_MESSAGES" / "messages.mo").exists()


def test_the_editable_install_is_a_plain_path_entry():
    """setuptools picks its meta-path finder (and prints a warning box) unless every package
    sits under one declared root; the packages live at the repository's root."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["package-dir"] == {"": "."}
    included = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in included:
        assert (ROOT / pattern.rstrip("*") / "__init__.py").exists()
