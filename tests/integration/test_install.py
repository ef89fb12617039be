"""docs/install.md, followed as written: the wheel in a fresh virtualenv, a fresh `startproject`,
the page's code blocks, migrate, one job through a real qcluster, the admin console and the
API's job list, and a SIGTERM that leaves no process of the cluster behind.

It runs once per Django version (on the SQLite legs): the project it builds has its own SQLite
file whatever database the leg uses. Packages come from the package index through pip's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import django
import httpx
import pytest

from tests import docpages
from tests.conftest import ROOT, wait_for
from tests.integration.test_production import free_port

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.timeout(600),
    # The project under test has its own SQLite file whatever the leg's database: once per
    # Django version, on the SQLite legs.
    pytest.mark.database_independent,
]

DISTRIBUTION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
# What a start-up must not print: Python warnings and Django's system check warnings.
WARNING = re.compile(r"\w*Warning\b|WARNINGS:|misconfigured")


def warnings_in(output: str) -> re.Match[str] | None:
    """The first warning in `output` (Python 3.12's multi-threaded fork warning among them: the
    cluster's processes fork from their only thread, jobqueue/djangoq/lifeline.py)."""
    return WARNING.search(output)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def build_wheel(tmp: Path) -> Path:
    """The wheel, built from a copy of what it is made of (the checkout stays clean)."""
    source = tmp / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "jobqueue", source / "jobqueue", ignore=shutil.ignore_patterns("__pycache__"))
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(source)],
        tmp,
        dict(os.environ),
    )
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (read from /proc; zombies count as gone)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.add(child)
            frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A `startproject` project with the page's lines, in a fresh virtualenv holding the wheel."""
    tmp = tmp_path_factory.mktemp("install")
    wheel = build_wheel(tmp)
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"jobqueue"}, f"the wheel installs more than the app: {sorted(top_level)}"
    assert any(name.endswith("jobqueue/py.typed") for name in archive.namelist())
    assert any("jobqueue/migrations/0001_" in name for name in archive.namelist())

    shell = docpages.code_blocks(docpages.INSTALL_MD, "sh")
    assert shell[0].strip() == f"pip install {DISTRIBUTION}", "docs/install.md's install step names another package"
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp, dict(os.environ))
    python = str(venv / "bin" / "python")
    # The wheel in place of `pip install <name>`; Django the version this leg tests.
    run([python, "-m", "pip", "install", "-q", str(wheel), f"django=={django.__version__}"], tmp, dict(os.environ))

    site = tmp / "site"
    site.mkdir()
    run([str(venv / "bin" / "django-admin"), "startproject", "mysite", str(site)], site, dict(os.environ))
    clean = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(tmp)),
        "LANG": "C.UTF-8",
    }
    run([python, "manage.py", "startapp", "shop"], site, clean)

    settings = site / "mysite" / "settings.py"
    page_settings = docpages.python_block(docpages.INSTALL_MD, "settings.py: add at the end")
    settings.write_text(
        settings.read_text() + "\n" + page_settings + '\nINSTALLED_APPS += ["shop"]  # the user\'s app\n'
    )
    urls = site / "mysite" / "urls.py"
    urls.write_text(urls.read_text() + "\n" + docpages.python_block(docpages.INSTALL_MD, "urls.py: add at the end"))
    (site / "shop" / "jobs.py").write_text(
        docpages.python_block(docpages.INSTALL_MD, "jobs.py: a new module in an installed app")
    )

    steps = [line.strip() for line in shell[1].splitlines() if line.strip()]
    exports = docpages.assignments(steps, prefix="export ")
    commands = [step for step in steps if not step.startswith("export ")]
    assert commands == [
        "python manage.py migrate",
        "python manage.py createsuperuser",
        "python manage.py runserver",
        "python manage.py qcluster",
    ], "docs/install.md's run steps changed: follow them here too"
    env = {**clean, **exports, "PYTHONWARNINGS": "default"}
    migrated = run([python, "manage.py", "migrate"], site, env)
    assert not warnings_in(migrated), migrated
    run(
        [python, "manage.py", "createsuperuser", "--no-input", "--username", "admin", "--email", "admin@example.com"],
        site,
        {**env, "DJANGO_SUPERUSER_PASSWORD": "a-long-password-for-the-install-test"},
    )
    return site, env


def test_the_install_page_followed_as_written(project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    site, env = project
    python = str(site.parent / "venv" / "bin" / "python")
    port = free_port()
    web_log, cluster_log = tmp_path / "runserver.log", tmp_path / "qcluster.log"
    with web_log.open("wb") as web_out, cluster_log.open("wb") as cluster_out:
        web = subprocess.Popen(
            [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=site,
            env=env,
            stdout=web_out,
            stderr=subprocess.STDOUT,
        )
        cluster = subprocess.Popen(
            [python, "manage.py", "qcluster"], cwd=site, env=env, stdout=cluster_out, stderr=subprocess.STDOUT
        )
        try:
            exercise(site, env, python, f"http://127.0.0.1:{port}", web, web_log)
            started = cluster_log.read_text(errors="replace")
            assert cluster.poll() is None, started
            assert not warnings_in(started), started
            assert not warnings_in(web_log.read_text(errors="replace")), web_log.read_text()

            processes = descendants(cluster.pid)
            assert len(processes) >= 3, "the cluster has no sentinel, pusher or workers"
            began = time.monotonic()
            cluster.send_signal(signal.SIGTERM)
            cluster.wait(20)
            wait_for(
                lambda: not any(alive(pid) for pid in processes),
                timeout=10,
                message=f"processes of the cluster outlived it: {[p for p in processes if alive(p)]}",
            )
            assert time.monotonic() - began < 20
            assert cluster.returncode == 0, cluster_log.read_text()
        finally:
            for process in (cluster, web):
                if process.poll() is None:
                    for pid in descendants(process.pid):
                        os.kill(pid, signal.SIGKILL)
                    process.kill()
                    process.wait(10)


def exercise(site: Path, env: dict[str, str], python: str, url: str, web: subprocess.Popen[bytes], log: Path) -> None:
    """Admin console and API job list answer 200; a job enqueued over the API succeeds."""

    def answers() -> bool:
        assert web.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/api/health/", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    wait_for(answers, timeout=60, interval=0.2, message="runserver did not answer")
    with httpx.Client(base_url=url, timeout=10) as browser:
        form = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        browser.post(
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": "admin",
                "password": "a-long-password-for-the-install-test",
            },
        )
        for page in ("/admin/", "/admin/jobqueue/job/", "/admin/jobqueue/jobtype/"):
            response = browser.get(page)
            assert response.status_code == 200, f"{page}: {response.status_code}\n{response.text[:2000]}"
        assert "send_receipt" in browser.get("/admin/jobqueue/jobtype/").text

    created = subprocess.run(
        [python, "manage.py", "jobqueue", "token", "create", "--user", "admin"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secret = created.stdout.strip()  # the secret alone on stdout; the notice goes to stderr
    with httpx.Client(base_url=f"{url}/api", headers={"Authorization": f"Bearer {secret}"}, timeout=10) as api:
        job = api.post("/jobs/", json={"type": "send_receipt", "payload": {"order_id": 42, "email": "a@example.com"}})
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]
        done = wait_for(
            lambda: (body := api.get(f"/jobs/{job_id}/").json())["status"] == "succeeded" and body,
            timeout=60,
            interval=0.2,
            message="the job did not succeed through the cluster",
        )
        assert done["result"]["data"] == {"order_id": 42}
        # Of its type: the app's own schedules (the rollup every minute) may have added a job.
        listing = api.get("/jobs/", params={"type": "send_receipt"})
        assert listing.status_code == 200, listing.text
        assert [item["id"] for item in listing.json()["results"]] == [job_id]
