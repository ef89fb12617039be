"""Authentication: API tokens (hashed, expiry, revocation, last use), sessions with CSRF, the
token CLI and the token admin."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from jobqueue.models import ApiToken
from jobqueue.services.tokens import create_token, revoke_token, verify

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", "jobqueue.view_job")


def test_only_a_hash_is_stored(viewer) -> None:
    issued = create_token(viewer, "ci")
    row = ApiToken.objects.get()
    assert row.key_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {row.prefix, row.key_hash, row.name}
    assert issued.secret.startswith(f"jq_{row.prefix}_")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer jq_00000000_nothing", "Bearer not-a-token", "Bearer \u00e9t\u00e9", "Token abc"],
)
def test_bad_credentials_get_401_with_a_challenge(viewer, header) -> None:
    client = APIClient()
    response = client.get("/api/jobs/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert set(response.json()) == {"detail"}


def test_a_wrong_secret_with_a_real_prefix_is_refused(viewer) -> None:
    issued = create_token(viewer, "ci")
    forged = issued.secret[:-4] + ("aaaa" if not issued.secret.endswith("aaaa") else "bbbb")
    assert bearer(forged).get("/api/jobs/").status_code == 401
    assert bearer(issued.secret).get("/api/jobs/").status_code == 200


def test_expired_and_revoked_tokens_are_refused(viewer) -> None:
    expired = create_token(viewer, "old", expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(expired.secret).get("/api/jobs/").status_code == 401
    live = create_token(viewer, "live", expires_at=timezone.now() + timedelta(days=1))
    assert bearer(live.secret).get("/api/jobs/").status_code == 200
    revoke_token(live.token, by="tests")
    assert bearer(live.secret).get("/api/jobs/").status_code == 401


def test_an_inactive_user_is_refused(viewer) -> None:
    issued = create_token(viewer, "ci")
    viewer.is_active = False
    viewer.save()
    assert bearer(issued.secret).get("/api/jobs/").status_code == 401


def test_last_use_is_written_at_most_once_a_minute(viewer) -> None:
    issued = create_token(viewer, "ci")
    now = timezone.now()
    verify(issued.secret, now=now)
    verify(issued.secret, now=now + timedelta(seconds=30))
    assert ApiToken.objects.get().last_used_at == now
    verify(issued.secret, now=now + timedelta(seconds=61))
    assert ApiToken.objects.get().last_used_at == now + timedelta(seconds=61)


def test_session_login_needs_csrf_for_unsafe_methods(make_user) -> None:
    make_user("alice", "jobqueue.view_job", "jobqueue.add_job", "jobqueue.enqueue_noop")
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="alice", password="pw-for-tests-only")
    assert client.get("/api/jobs/").status_code == 200
    body = {"type": "noop"}
    refused = client.post("/api/jobs/", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = "a" * 32  # any 32-character secret, as CSRF cookie and header alike
    client.cookies["csrftoken"] = token
    accepted = client.post("/api/jobs/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_cli_creates_lists_and_revokes(viewer) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("jobqueue", "token", "create", "--user", "viewer", "--name", "deploy", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert "not shown again" in err.getvalue()
    assert bearer(secret).get("/api/jobs/").status_code == 200
    token = ApiToken.objects.get(name="deploy")
    listing = io.StringIO()
    call_command("jobqueue", "token", "list", stdout=listing)
    assert token.prefix in listing.getvalue()
    assert secret not in listing.getvalue()
    call_command("jobqueue", "token", "revoke", token.prefix, stdout=io.StringIO())
    assert bearer(secret).get("/api/jobs/").status_code == 401
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="already revoked"):
        call_command("jobqueue", "token", "revoke", token.prefix)
    with pytest.raises(CommandError, match="no user"):
        call_command("jobqueue", "token", "create", "--user", "nobody")


def test_admin_shows_the_secret_once(make_user, viewer) -> None:
    make_user("root", superuser=True)
    client = Client()
    client.login(username="root", password="pw-for-tests-only")
    response = client.post(
        "/admin/jobqueue/apitoken/add/",
        {"user": viewer.pk, "name": "from-admin", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("jq_")
    assert secret in response.content.decode()
    token = ApiToken.objects.get(name="from-admin")
    assert bearer(secret).get("/api/jobs/").status_code == 200
    change_page = client.get(f"/admin/jobqueue/apitoken/{token.pk}/change/").content.decode()
    assert secret not in change_page
    assert token.key_hash not in change_page
    client.post(
        "/admin/jobqueue/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert bearer(secret).get("/api/jobs/").status_code == 401
