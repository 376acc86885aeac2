"""The rooms of the house, read from the source: handlers parse and reply, services decide, storage
persists, parsing reads text. Each rule names what may not be imported or reached, and where."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic revisions are frozen history, not a room of the house
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offenders(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, tree in _modules(*folders):
        bad = sorted(
            imported
            for imported in _imports(tree)
            if any(imported == f or imported.startswith(f + ".") for f in forbidden)
        )
        if bad:
            found[name] = bad
    return found


def test_no_service_parser_job_chart_or_storage_module_imports_aiogram():
    folders = ("bot/services", "bot/parsing", "bot/jobs", "bot/charts", "storage")
    assert _offenders(folders, ("aiogram",)) == {}


# The client field registry is plain data (names, lengths, which columns are personal) that the
# models, the export query and the erasure read; it imports nothing but the gettext marker.
STORAGE_MAY_READ = ("bot.fields",)


def test_storage_imports_neither_the_bot_nor_the_handlers():
    found = {
        name: [i for i in bad if not any(i == a or i.startswith(a + ".") for a in STORAGE_MAY_READ)]
        for name, bad in _offenders(("storage",), ("bot", "handlers")).items()
    }
    assert {name: bad for name, bad in found.items() if bad} == {}


def test_the_field_registry_stays_plain_data():
    (registry,) = (tree for name, tree in _modules("bot") if name == "bot/fields.py")
    assert {i for i in _imports(registry) if i.split(".")[0] in ("bot", "storage", "aiogram")} <= {
        "bot.i18n",
        "bot.i18n.N_",
    }


def test_parsing_does_not_import_services_or_telegram():
    assert _offenders(("bot/parsing",), ("bot.services", "bot.telegram", "handlers")) == {}


def test_services_do_not_import_the_telegram_layer_or_handlers():
    assert _offenders(("bot/services", "bot/jobs"), ("bot.telegram", "handlers")) == {}


def test_services_and_handlers_leave_queries_to_the_repositories():
    """Every query is a repository's: no session, no select() above storage."""
    folders = ("bot/services", "bot/jobs", "handlers", "bot/telegram/views")
    assert _offenders(folders, ("sqlalchemy",)) == {}
    assert _offenders(("handlers", "bot/telegram/views"), ("storage.models", "storage.uow")) == {}


def test_services_do_not_read_the_orm_models():
    assert _offenders(("bot/services",), ("storage.models",)) == {}


def test_views_call_no_service_and_touch_no_storage_session():
    """A view is handed a result; it never fetches one (no hub, no unit of work)."""
    found = _offenders(("bot/telegram/views",), ("bot.services.hub", "storage.uow", "handlers"))
    assert found == {}


def _ctx_readers() -> set[str]:
    readers = set()
    for name, tree in _modules("handlers", "bot/telegram"):
        if any(isinstance(n, ast.Attribute) and n.attr == "ctx" for n in ast.walk(tree)):
            readers.add(name)
    return readers


def test_handlers_and_views_do_not_reach_into_the_service_context():
    """Handlers get what they need from the services' own methods, never from their context
    (and through it the unit of work)."""
    assert _ctx_readers() == set()
