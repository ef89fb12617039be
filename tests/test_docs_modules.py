"""docs/architecture.md's module table names every module of jobqueue/, so it cannot drift silently."""

from __future__ import annotations

import ast
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


# [`name`](../jobqueue/path.py): the docstring of that module, or of `name`'s last part in it
# (a function, a class, or a method: `Producer.fetch()`, `units.unit_size()`).
_LINK = re.compile(r"\[`([^`]+)`\]\(\.\./(jobqueue/[^)#]+\.py)\)")


def _docstrings(path: Path) -> dict[str, str | None]:
    """The module's docstring (under "") and those of its functions, classes and methods."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, str | None] = {"": ast.get_docstring(tree)}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = ast.get_docstring(node)
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{member.name}"] = ast.get_docstring(member)
    return found


def test_architecture_links_name_code_that_explains_itself() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    links = _LINK.findall(text)
    assert len(links) >= 20, "the page links mechanisms to their docstrings"
    problems = []
    for name, target in links:
        path = ROOT / target
        if not path.is_file():
            problems.append(f"{name}: {target} does not exist")
            continue
        docstrings = _docstrings(path)
        parts = name.removesuffix("()").split(".")
        module = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        if module.endswith((".".join(parts), name)):
            symbol = ""  # the module itself: `engine.lease`
        elif parts[0] == path.stem:
            symbol = ".".join(parts[1:])  # `lease.renew_after()`
        else:
            symbol = ".".join(parts)  # `Producer.fetch()`, `Reclaimer`
        if symbol not in docstrings:
            problems.append(f"{name}: no {symbol!r} in {target}")
        elif not (docstrings[symbol] or "").strip():
            problems.append(f"{name}: {symbol or 'the module'} in {target} has no docstring")
    assert not problems, problems
