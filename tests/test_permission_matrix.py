"""The permission matrix of docs/admin.md, performed: every action as every role, compared with the table."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from rest_framework.test import APIClient

from jobqueue import enqueue
from jobqueue.models import ApiToken, DeadLetter, JobType
from jobqueue.secrets.sealing import open_settings
from jobqueue.services import update_job_type
from jobqueue.services.tokens import create_token
from tasks.models import Chainhook
from tests.helpers import drain

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parent.parent / "docs" / "admin.md"
CLEAR = "clear-secret-value-for-the-matrix-0123456789"
VIEWER = [
    "jobqueue.view_job",
    "jobqueue.view_attempt",
    "jobqueue.view_deadletter",
    "jobqueue.view_jobtype",
    "tasks.view_chainhook",
    "tasks.view_xaccount",
]
ROLES: dict[str, list[str]] = {
    "viewer": VIEWER,
    "operator": [
        *VIEWER,
        "jobqueue.add_job",
        "jobqueue.rerun_job",
        "jobqueue.cancel_job",
        "jobqueue.requeue_deadletter",
        "jobqueue.discard_deadletter",
        "jobqueue.enqueue_echo",
        "jobqueue.enqueue_permanent_failure",
    ],
    "job-type admin": [*VIEWER, "jobqueue.change_jobtype", "tasks.change_chainhook"],
    "token admin": ["jobqueue.add_apitoken", "jobqueue.change_apitoken", "jobqueue.view_apitoken"],
    "superuser": [],
}


def documented() -> dict[str, dict[str, bool]]:
    text = DOC.read_text()
    table = text.split("<!-- permission-matrix -->")[1].split("<!-- /permission-matrix -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    header, body = rows[0], rows[2:]
    return {row[0]: {role: row[i] == "yes" for i, role in enumerate(header[1:], 1)} for row in body}


class Actor:
    def __init__(self, user: User) -> None:
        self.user = user
        self.web = Client()
        self.web.force_login(user)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'matrix').secret}")


def make(role: str) -> Actor:
    user = User.objects.create_user(role.replace(" ", "-"), is_staff=True, is_superuser=role == "superuser")
    for perm in ROLES[role]:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return Actor(User.objects.get(pk=user.pk))


def list_jobs(actor: Actor) -> bool:
    return actor.api.get("/api/jobs/").status_code == 200


def enqueue_job(actor: Actor) -> bool:
    return actor.api.post("/api/jobs/", {"type": "echo", "payload": {"value": 1}}, format="json").status_code == 201


def rerun_job(actor: Actor) -> bool:
    job = enqueue("echo", {"value": 1})
    drain()
    return actor.api.post(f"/api/jobs/{job.pk}/rerun/", {"reason": "matrix"}, format="json").status_code == 201


def requeue_dead_letter(actor: Actor) -> bool:
    enqueue("permanent_failure", {})
    drain()
    letter = DeadLetter.objects.unresolved().latest("created_at")
    return actor.api.post(f"/api/dead-letters/{letter.pk}/requeue/", {"reason": "m"}, format="json").status_code == 201


def edit_settings(actor: Actor) -> bool:
    response = actor.api.patch("/api/job-types/typed_settings/", {"settings": {"retries": 9}}, format="json")
    return (
        response.status_code == 200
        and open_settings(JobType.objects.get(name="typed_settings").settings).get("retries") == 9
    )


def replace_chainhook_secret(actor: Actor) -> bool:
    hook = Chainhook.objects.create(name="matrix", secret=CLEAR)
    new = "Bearer a-replacement-secret-long-enough-0123456789"
    actor.web.post(
        f"/admin/tasks/chainhook/{hook.pk}/change/",
        {"name": "matrix", "secret": new, "network": "mainnet", "is_active": "on"},
    )
    return Chainhook.objects.get(pk=hook.pk).secret == new


def see_a_secret(actor: Actor) -> bool:
    hook = Chainhook.objects.create(name="seen", secret=CLEAR)
    record = update_job_type(JobType.objects.get(name="typed_settings"), {"settings": {"token": CLEAR}})
    pages = [
        actor.web.get(f"/admin/tasks/chainhook/{hook.pk}/change/"),
        actor.web.get(f"/admin/jobqueue/jobtype/{record.pk}/change/"),
        actor.api.get("/api/job-types/typed_settings/"),
        actor.api.get("/api/job-types/"),
    ]
    return any(CLEAR in page.content.decode() for page in pages)


def _issue(actor: Actor, owner: User) -> bool:
    before = ApiToken.objects.filter(user=owner).count()
    actor.web.post(
        "/admin/jobqueue/apitoken/add/", {"user": owner.pk, "name": "x", "expires_at_0": "", "expires_at_1": ""}
    )
    return ApiToken.objects.filter(user=owner).count() > before


def issue_own_token(actor: Actor) -> bool:
    return _issue(actor, actor.user)


def issue_token_for_another(actor: Actor) -> bool:
    return _issue(actor, User.objects.create_user("someone-else", is_superuser=True))


ACTIONS: dict[str, Callable[[Actor], bool]] = {
    "list and read jobs": list_jobs,
    "enqueue a job of a type": enqueue_job,
    "re-run a finished job": rerun_job,
    "re-queue a dead letter": requeue_dead_letter,
    "edit a job type's settings": edit_settings,
    "replace a chainhook's secret": replace_chainhook_secret,
    "see a stored secret in clear": see_a_secret,
    "issue an API token for oneself": issue_own_token,
    "issue an API token for another user": issue_token_for_another,
}


def test_the_documented_matrix_names_every_action_and_role() -> None:
    table = documented()
    assert set(table) == set(ACTIONS)
    assert all(set(row) == set(ROLES) for row in table.values())
    roles_doc = re.findall(r"^\| (viewer|operator|job-type admin|token admin|superuser) \|", DOC.read_text(), re.M)
    assert set(roles_doc) == set(ROLES)


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_can_do_what_the_matrix_says_and_nothing_more(role: str) -> None:
    actor = make(role)
    expected = {action: allowed[role] for action, allowed in documented().items()}
    actual = {action: perform(actor) for action, perform in ACTIONS.items()}
    assert actual == expected
