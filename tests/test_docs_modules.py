"""docs/architecture.md's module table names every module of jobqueue/, so it cannot drift silently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jobqueue"
# Packages whose modules the table may name as a whole (`admin/`: the interfaces, read
# models and the like); the engine and the adapter name each module, since each is a mechanism.
NAMED_WHOLE = ("admin", "api", "services", "models", "observability", "management", "templatetags", "migrations")


def _table() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Modules", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def _named(table: str) -> set[str]:
    names: set[str] = set()
    for cell in re.findall(r"`([^`]+)`", table):
        names.add(cell.removeprefix("jobqueue/"))
    return names


def test_every_module_of_jobqueue_is_in_the_module_table() -> None:
    named = _named(_table())
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        top = relative.split("/", 1)[0]
        if path.name == "__init__.py" and relative != "__init__.py":
            continue  # a package is named by its modules (or as a whole, below)
        if top in NAMED_WHOLE and f"{top}/" in named:
            continue
        if relative not in named:
            missing.append(relative)
    assert not missing, f"add these modules to the table in docs/architecture.md: {missing}"
