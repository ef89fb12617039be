"""Production smoke test: `collectstatic`, gunicorn serving config.wsgi and a qcluster, all with
DEBUG off, as docs/deploy.md runs them; then an admin login, an enqueue with a token, the job
finished, and a static file served by whitenoise."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from jobqueue.services.tokens import create_token
from tests.conftest import ROOT, database_url, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def production_env(transactional_db: None, tmp_path: Path) -> dict[str, str]:
    """The environment of docs/deploy.md (DEBUG off, hashed static files), on the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "SECRET_KEY": "production-smoke-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "STATIC_MANIFEST": "true",
        "STATIC_ROOT": str(tmp_path / "static"),
        "JOBQUEUE_JOBQUEUE_ROLLUP_SCHEDULE": "off",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return env


@pytest.fixture
def gunicorn(production_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """gunicorn serving config.wsgi on a free port; yields its base URL."""
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=production_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{(tmp_path / 'gunicorn.log').read_text()}")
        try:
            return httpx.get(f"{url}/api/health/", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=60, interval=0.2, message="gunicorn did not answer")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def admin_login(http: httpx.Client, username: str, password: str) -> str:
    """Log in through the admin's form (CSRF token and all); return the admin index page."""
    form = http.get("/admin/login/", params={"next": "/admin/"})
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text
    response = http.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.text


def test_gunicorn_and_qcluster_serve_admin_api_and_static_files(
    gunicorn: str, production_env: dict[str, str], start_cluster: Callable[..., Any], django_user_model: Any
) -> None:
    admin = django_user_model.objects.create_superuser("ops", password="a-long-password-for-the-smoke-test")
    start_cluster(workers=1, **{k: v for k, v in production_env.items() if k in ("SECRET_KEY", "DEBUG")})

    with httpx.Client(base_url=gunicorn, timeout=10) as browser:
        index = admin_login(browser, "ops", "a-long-password-for-the-smoke-test")
        assert "jobqueue administration" in index
        assert "Log out" in index
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', index)
        assert stylesheet, "the admin does not link hashed static files (collectstatic's manifest)"
        css = browser.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "immutable" in css.headers["cache-control"]
        assert css.headers.get("content-encoding") == "gzip"
        assert index.count("/static/") > 1
        assert browser.get("/static/admin/css/no-such-file.css").status_code == 404
        headers = browser.get("/admin/login/").headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"

    token = create_token(admin, "smoke").secret
    with httpx.Client(base_url=f"{gunicorn}/api", headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        created = api.post("/jobs/", json={"type": "echo", "payload": {"value": 7, "label": "production"}})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        def succeeded() -> dict[str, Any] | None:
            body = api.get(f"/jobs/{job_id}/").json()
            return body if body["status"] == "succeeded" else None

        job = wait_for(succeeded, timeout=60, interval=0.2, message="the job did not finish")
        assert job["result"]["data"] == {"value": 7, "label": "production"}
        assert api.get("/jobs/does-not-exist/").status_code == 404


def test_development_key_is_refused_with_debug_off() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DEBUG": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_development_key_warning_is_printed_once_per_start() -> None:
    """A child process (runserver's, a cluster's workers) inherits that the warning was given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DEV_SECRET_KEY_WARNED")
    }
    load = "import django; django.setup()"
    parent = f"{load}; import subprocess, sys; subprocess.run([sys.executable, '-c', {load!r}], check=True)"
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", parent],
        cwd=ROOT,
        env={**env, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("insecure development key") == 1, result.stderr


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """config.settings as loaded from the given environment (a fresh module, not the live settings)."""
    for name in ("HTTPS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("settings_under_test", ROOT / "config" / "settings.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_https_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = settings_with(monkeypatch)
    assert plain.SECURE_SSL_REDIRECT is False
    assert plain.SECURE_HSTS_SECONDS == 0
    assert plain.SESSION_COOKIE_SECURE is plain.CSRF_COOKIE_SECURE is False
    assert not hasattr(plain, "SECURE_PROXY_SSL_HEADER")

    https = settings_with(monkeypatch, HTTPS="true", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    assert https.SECURE_SSL_REDIRECT is True
    assert https.SECURE_HSTS_SECONDS == 31536000
    assert https.SESSION_COOKIE_SECURE is https.CSRF_COOKIE_SECURE is True
    assert https.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")

    tuned = settings_with(monkeypatch, HTTPS="true", SECURE_HSTS_SECONDS="600", SECURE_SSL_REDIRECT="false")
    assert tuned.SECURE_HSTS_SECONDS == 600
    assert tuned.SECURE_SSL_REDIRECT is False

    with pytest.raises(ImproperlyConfigured, match="takes a header and a value"):
        settings_with(monkeypatch, SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")


def test_deploy_check_is_clean_with_https_on() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 2,
            "HTTPS": "true",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
            "ALLOWED_HOSTS": "jobs.example.com",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
