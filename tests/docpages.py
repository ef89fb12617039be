"""What docs/deploy.md and docs/install.md tell a reader to write, read from the pages themselves.

The production and install tests take their settings and code from here, so the pages and
the tests cannot disagree: a line the pages forget fails them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
DEPLOY_MD = DOCS / "deploy.md"
INSTALL_MD = DOCS / "install.md"

# `$(python3 -c '...')`: the only substitution the page uses; anything else is refused loudly.
_PYTHON_COMMAND = re.compile(r"^\$\(python3 -c '([^']*)'\)$")


def evaluate(raw: str) -> str:
    command = _PYTHON_COMMAND.match(raw)
    if command:
        # The interpreter running the tests stands in for the page's python3 (stdlib only).
        result = subprocess.run([sys.executable, "-c", command.group(1)], capture_output=True, text=True, check=True)
        return result.stdout.strip()
    if "$" in raw or "`" in raw:
        raise AssertionError(f"docs: cannot evaluate {raw!r}; use $(python3 -c '...') or a plain value")
    return raw


def assignments(lines: list[str], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith(prefix) or line.startswith("#"):
            continue
        name, sep, raw = line.removeprefix(prefix).partition("=")
        if sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            found[name] = evaluate(raw)
    return found


def env_file() -> dict[str, str]:
    """The variables of the page's `cat > .env <<EOF ... EOF` block, with their commands run."""
    block = re.search(r"^cat > \.env <<EOF\n(.*?)^EOF$", DEPLOY_MD.read_text(), re.MULTILINE | re.DOTALL)
    assert block, "docs/deploy.md has no `cat > .env <<EOF` block"
    return assignments(block.group(1).splitlines())


def compose_exports() -> dict[str, str]:
    """The variables the page's compose section exports before `docker compose up`."""
    section = DEPLOY_MD.read_text().partition("## compose.yaml")[2]
    assert section, "docs/deploy.md has no compose.yaml section"
    return assignments(section.splitlines(), prefix="export ")


def code_blocks(page: Path, language: str) -> list[str]:
    """The fenced code blocks of one language on a page, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", page.read_text(), re.MULTILINE | re.DOTALL)


def python_block(page: Path, heading: str) -> str:
    """The Python block whose first line is `# <heading>` (it names the file and where it goes)."""
    found = [block for block in code_blocks(page, "python") if block.startswith(f"# {heading}\n")]
    assert len(found) == 1, f"{page.name}: expected one python block starting with '# {heading}'"
    return found[0]
