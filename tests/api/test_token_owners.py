"""Tokens for oneself: issuing, revoking or editing another user's token needs issue_token_for_others."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from jobqueue.models import ApiToken
from jobqueue.services.tokens import change_expiry, create_token, revoke_token

pytestmark = pytest.mark.django_db

TOKEN_ADMIN = ("jobqueue.add_apitoken", "jobqueue.change_apitoken", "jobqueue.view_apitoken")


@pytest.fixture
def staff(make_user: Any) -> Any:
    return make_user("tokenadmin", *TOKEN_ADMIN)


@pytest.fixture
def root(make_user: Any) -> Any:
    return make_user("root", superuser=True)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_form(owner: Any, name: str = "t") -> dict[str, Any]:
    return {"user": owner.pk, "name": name, "expires_at_0": "", "expires_at_1": ""}


def test_the_admin_issues_a_token_for_oneself_only(staff: Any, root: Any) -> None:
    client = logged_in(staff)
    form = client.get("/admin/jobqueue/apitoken/add/").content.decode()
    assert f'value="{root.pk}"' not in form  # the superuser is not even offered
    refused = client.post("/admin/jobqueue/apitoken/add/", add_form(root, "stolen"))
    assert refused.status_code == 200  # the form refuses a choice it does not offer
    assert not ApiToken.objects.filter(user=root).exists()
    issued = client.post("/admin/jobqueue/apitoken/add/", add_form(staff, "mine"))
    assert issued.status_code == 200
    assert ApiToken.objects.get(name="mine").user == staff


def test_the_service_refuses_a_token_for_another_user_without_the_permission(staff: Any, root: Any) -> None:
    with pytest.raises(PermissionDenied, match="issue_token_for_others"):
        create_token(root, "stolen", by=staff)
    assert create_token(root, "cli", by="cli").token.user == root  # shell access to the database already


def test_with_the_permission_a_token_for_another_user_is_issued_and_audited(make_user: Any, root: Any) -> None:
    admin = make_user("issuer", *TOKEN_ADMIN, "jobqueue.issue_token_for_others")
    response = logged_in(admin).post("/admin/jobqueue/apitoken/add/", add_form(root, "for-root"))
    assert response.status_code == 200
    token = ApiToken.objects.get(name="for-root")
    assert token.user == root
    entry = json.loads(LogEntry.objects.get(object_id=str(token.pk), user=admin).change_message)
    assert entry["action"] == "create token"
    assert "for another user (root)" in entry["reason"]


def test_revoking_and_editing_expiry_are_scoped_to_ones_own_tokens(staff: Any, root: Any) -> None:
    theirs = create_token(root, "root-token").token
    mine = create_token(staff, "mine").token
    client = logged_in(staff)
    listing = client.get("/admin/jobqueue/apitoken/").content.decode()
    assert "root-token" not in listing
    assert "mine" in listing
    client.post("/admin/jobqueue/apitoken/", {"action": "revoke", "_selected_action": [theirs.pk, mine.pk]})
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.revoked_at is None
    assert mine.revoked_at is not None
    page = client.get(f"/admin/jobqueue/apitoken/{theirs.pk}/change/")
    assert page.status_code == 302  # "doesn't exist": not in this user's tokens
    later = timezone.now() + timedelta(days=400)
    client.post(
        f"/admin/jobqueue/apitoken/{theirs.pk}/change/",
        {"name": "root-token", "expires_at_0": f"{later:%Y-%m-%d}", "expires_at_1": "00:00:00"},
    )
    theirs.refresh_from_db()
    assert theirs.expires_at is None
    with pytest.raises(PermissionDenied):
        revoke_token(theirs, by=staff)
    with pytest.raises(PermissionDenied):
        change_expiry(theirs, later, by=staff)


def test_an_expiry_edit_of_ones_own_token_is_audited(staff: Any) -> None:
    mine = create_token(staff, "mine").token
    client = logged_in(staff)
    response = client.post(
        f"/admin/jobqueue/apitoken/{mine.pk}/change/",
        {"name": "mine", "expires_at_0": "2030-01-02", "expires_at_1": "03:04:05"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.expires_at is not None
    assert mine.expires_at.year == 2030
    messages = [json.loads(e.change_message) for e in LogEntry.objects.filter(object_id=str(mine.pk))]
    assert "change token expiry" in [m.get("action") for m in messages if isinstance(m, dict)]
