"""The settings docs/deploy.md tells an operator to write, read from the page itself.

The production tests take their environment from here, so the page and the tests cannot
disagree: a variable the settings require that the page forgets fails them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DEPLOY_MD = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"

# `$(python3 -c '...')`: the only substitution the page uses; anything else is refused loudly.
_PYTHON_COMMAND = re.compile(r"^\$\(python3 -c '([^']*)'\)$")


def _value(raw: str) -> str:
    command = _PYTHON_COMMAND.match(raw)
    if command:
        # The interpreter running the tests stands in for the page's python3 (stdlib only).
        result = subprocess.run([sys.executable, "-c", command.group(1)], capture_output=True, text=True, check=True)
        return result.stdout.strip()
    if "$" in raw or "`" in raw:
        raise AssertionError(f"docs/deploy.md: cannot evaluate {raw!r}; use $(python3 -c '...') or a plain value")
    return raw


def _assignments(lines: list[str], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith(prefix) or line.startswith("#"):
            continue
        name, sep, raw = line.removeprefix(prefix).partition("=")
        if sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            found[name] = _value(raw)
    return found


def env_file() -> dict[str, str]:
    """The variables of the page's `cat > .env <<EOF ... EOF` block, with their commands run."""
    block = re.search(r"^cat > \.env <<EOF\n(.*?)^EOF$", DEPLOY_MD.read_text(), re.MULTILINE | re.DOTALL)
    assert block, "docs/deploy.md has no `cat > .env <<EOF` block"
    return _assignments(block.group(1).splitlines())


def compose_exports() -> dict[str, str]:
    """The variables the page's compose section exports before `docker compose up`."""
    section = DEPLOY_MD.read_text().partition("## compose.yaml")[2]
    assert section, "docs/deploy.md has no compose.yaml section"
    return _assignments(section.splitlines(), prefix="export ")
