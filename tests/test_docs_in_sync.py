"""The docs follow the code: the configuration reference and `.env.example` are what
`bot.config_reference` generates from the Settings model, and the README stays a user's guide."""

from __future__ import annotations

from pathlib import Path

from bot import config_reference
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `python -m bot.config_reference` and commit the result"


def test_every_setting_has_exactly_one_meaning():
    model = [setting.name for setting in config_reference.settings()]
    documented = [name for _title, rows in config_reference.SECTIONS for name in rows]
    assert sorted(documented) == sorted(model)
    assert len(set(documented)) == len(documented)


def test_the_operations_reference_is_generated_from_the_model():
    document = (ROOT / "docs" / "operations.md").read_text()
    assert config_reference.reference() in document, REGENERATE


def test_env_example_is_generated_from_the_model():
    assert (ROOT / ".env.example").read_text() == config_reference.env_example(), REGENERATE


def test_env_example_sets_nothing_but_the_defaults(tmp_path, monkeypatch):
    """Copied to .env as it is, it changes nothing."""
    monkeypatch.chdir(tmp_path)
    for name in [s.name for s in config_reference.settings()]:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    assert Settings() == Settings(_env_file=None)


def test_test_services_are_documented_beside_each_other():
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "`TEST_DATABASE_URL`" in operations and "`TEST_REDIS_URL`" in operations


def test_readme_is_the_users_guide_not_the_internals():
    readme = (ROOT / "README.md").read_text()
    for internal in ("FOR UPDATE", "SKIP LOCKED", "_total", "LEASE_SECONDS", "GROUP BY"):
        assert internal not in readme, internal
    assert "docs/operations.md" in readme and "docs/architecture.md" in readme
