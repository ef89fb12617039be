"""mypy's configuration in pyproject.toml: the engine is checked with every flag that the
installed mypy's `--strict` turns on (a per-module section cannot say `strict = true`), so a
flag that a new mypy adds to `--strict` fails here until the engine's section has it too."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from mypy.main import define_options

from tests.conftest import ROOT

pytestmark = pytest.mark.database_independent  # reads pyproject.toml and mypy's option list


def _flags(section: dict[str, Any]) -> dict[str, Any]:
    """A section's options as mypy's option names: `no_implicit_reexport = true` is
    `implicit_reexport = False`."""
    flags = {}
    for key, value in section.items():
        if key.startswith("no_") and isinstance(value, bool):
            flags[key.removeprefix("no_")] = not value
        else:
            flags[key] = value
    return flags


def _engine_flags() -> dict[str, Any]:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    (engine,) = [section for section in mypy["overrides"] if "jobqueue.engine.*" in section["module"]]
    general = {key: value for key, value in mypy.items() if key != "overrides"}
    return _flags(general) | _flags(engine)


def test_the_engine_is_checked_with_everything_strict_turns_on() -> None:
    _, _, strict = define_options()
    assert len(strict) >= 10, strict  # mypy still reports its --strict list this way
    flags = _engine_flags()
    missing = [f"{dest} = {value}" for dest, value in strict if flags.get(dest) != value]
    assert not missing, f"add to the jobqueue.engine.* section of [tool.mypy]: {missing}"


def test_the_engine_is_checked_beyond_strict() -> None:
    flags = _engine_flags()
    assert flags.get("warn_unreachable") is True
    assert flags.get("disallow_any_unimported") is True
    assert {"truthy-bool", "redundant-expr", "possibly-undefined"} <= set(flags.get("enable_error_code", []))
