"""Discovery of installed apps' jobs modules; a broken module stops start-up loudly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.apps import apps

from jobqueue.exceptions import ConfigurationError
from jobqueue.registry import autodiscover, registry
from tests.conftest import ROOT

pytestmark = pytest.mark.database_independent


def test_the_test_apps_jobs_module_was_discovered() -> None:
    assert {"echo", "noop", "typed_settings"} <= set(registry.names())
    assert {"heartbeat", "discord"} <= set(registry.names())  # tasks/jobs.py


class _App:
    def __init__(self, name: str) -> None:
        self.name = name


def test_missing_jobs_module_is_skipped_and_broken_one_raises(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "brokenapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text("import does_not_exist_anywhere\n")
    (tmp_path / "plainapp").mkdir()
    (tmp_path / "plainapp" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert autodiscover("jobs", [_App("plainapp")]) == []
    with pytest.raises(ConfigurationError, match=r"brokenapp\.jobs.*does_not_exist_anywhere"):
        autodiscover("jobs", [_App("brokenapp")])
    assert apps.ready


def _run_django(tmp_path: Path, jobs_source: str, command: list[str]) -> subprocess.CompletedProcess:
    app = tmp_path / "extraapp"
    app.mkdir(exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "jobs.py").write_text(textwrap.dedent(jobs_source))
    (tmp_path / "extra_settings.py").write_text(
        "from tests.settings import *\nINSTALLED_APPS = [*INSTALLED_APPS, 'extraapp']\n"
        f"DATABASES['default'] = {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': r'{tmp_path / 'x.sqlite3'}'}}\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "extra_settings", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    return subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_new_jobs_module_makes_a_record_appear_after_migrate(tmp_path: Path) -> None:
    source = """
        from jobqueue import job

        @job
        def greet(name: str) -> str:
            '''Say hello.'''
            return f"hello {name}"
    """
    result = _run_django(tmp_path, source, ["migrate", "-v0"])
    assert result.returncode == 0, result.stderr
    shown = _run_django(
        tmp_path,
        source,
        ["shell", "-c", "from jobqueue.models import JobType; print(JobType.objects.get(name='greet').description)"],
    )
    assert "Say hello." in shown.stdout, shown.stderr


def test_a_broken_jobs_module_stops_startup_naming_it(tmp_path: Path) -> None:
    result = _run_django(tmp_path, "raise RuntimeError('boom in jobs')\n", ["check"])
    assert result.returncode != 0
    assert "extraapp.jobs" in result.stderr
    assert "boom in jobs" in result.stderr
