"""`POST /api/chainhooks/<name>/`: authentication, validation, one job per block, redeliveries, rollbacks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobqueue.models import Job, Status
from jobqueue.services.tokens import create_token
from tasks.models import DAO, Chainhook, ChainState, Proposal
from tests.tasks.conftest import run
from tests.tasks.recorded import load

SECRET = "Bearer 9f2c1e7a-4b1d-hook-secret-of-48-chars"
APPLY = "chainhook/apply_block_150000_creating_proposal_7.json"
ROLLBACK = "chainhook/rollback_block_150000.json"
URL = "/api/chainhooks/dao-events/"


@pytest.fixture
def hook(configure: Callable[..., Any]) -> Chainhook:
    configure("chainhook_block")
    return Chainhook.objects.create(name="dao-events", secret=SECRET)


def deliver(body: Any, secret: str | None = SECRET, url: str = URL) -> Any:
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=secret)
    return client.post(url, body, format="json")


def block_jobs() -> list[Job]:
    return list(Job.objects.filter(job_type__name="chainhook_block").order_by("created_at"))


def test_an_unknown_hook_and_a_wrong_secret_get_the_same_401(hook: Chainhook) -> None:
    unknown = deliver(load(APPLY), url="/api/chainhooks/nope/")
    assert unknown.status_code == 401
    for secret in (None, "Bearer wrong", SECRET + "x", SECRET.lower()):
        response = deliver(load(APPLY), secret=secret)
        assert response.status_code == 401, secret
        assert "WWW-Authenticate" in response.headers
        assert response.json() == unknown.json()  # nothing tells an existing name from an unknown one
    Chainhook.objects.filter(pk=hook.pk).update(is_active=False)
    assert deliver(load(APPLY)).status_code == 401
    assert block_jobs() == []


def test_guessing_is_rate_limited_per_hook_and_per_address(hook: Chainhook) -> None:
    from tasks.hookguard import FAILURES_ALLOWED

    codes = [deliver(load(APPLY), secret=f"Bearer guess-{i}").status_code for i in range(FAILURES_ALLOWED)]
    assert set(codes) == {401}
    blocked = deliver(load(APPLY))  # even the right secret waits: the hook is under attack
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    other = APIClient(REMOTE_ADDR="10.9.9.9")  # another address, the same hook: still blocked
    other.credentials(HTTP_AUTHORIZATION=SECRET)
    assert other.post(URL, load(APPLY), format="json").status_code == 429
    assert block_jobs() == []


def test_a_right_secret_spends_no_attempt(hook: Chainhook) -> None:
    from tasks.hookguard import FAILURES_ALLOWED

    for _ in range(FAILURES_ALLOWED + 2):  # more deliveries than failures allowed: none refused
        assert deliver(load(APPLY)).status_code == 202


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_in_parallel_are_counted_before_any_is_compared() -> None:
    import threading

    from django.db import connection
    from rest_framework.exceptions import Throttled

    from tasks.hookguard import FAILURES_ALLOWED, reserve_attempt

    admitted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(3 * FAILURES_ALLOWED)

    def guess(i: int) -> None:
        barrier.wait()
        try:
            reserve_attempt("dao-events", f"10.0.0.{i % 3}")  # one hook, three addresses
            admitted.append(i)
        except Throttled:
            refused.append(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(3 * FAILURES_ALLOWED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == FAILURES_ALLOWED  # the hook's allowance, not one more
    assert len(refused) == 2 * FAILURES_ALLOWED


def test_a_short_secret_is_never_accepted(hook: Chainhook, admin_client: Any) -> None:
    Chainhook.objects.filter(pk=hook.pk).delete()
    Chainhook.objects.create(name="dao-events", secret="Bearer short")
    assert deliver(load(APPLY), secret="Bearer short").status_code == 401
    refused = admin_client.post(
        "/admin/tasks/chainhook/add/", {"name": "weak", "secret": "Bearer short", "network": "mainnet"}
    )
    assert refused.status_code == 200
    assert "at least 32 characters" in refused.content.decode()
    assert not Chainhook.objects.filter(name="weak").exists()


def test_a_bad_delivery_is_400_with_field_paths_and_nothing_written(hook: Chainhook) -> None:
    body = load(APPLY)
    del body["apply"][0]["block_identifier"]["index"]
    body["apply"][0]["transactions"][1]["metadata"]["success"] = "maybe"
    body["apply"].append(copy.deepcopy(load(APPLY)["apply"][0]))  # a good block beside the bad one
    response = deliver(body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"apply.0.block_identifier.index", "apply.0.transactions.1.metadata.success"}
    assert block_jobs() == []
    assert deliver({"apply": []}).json()["errors"].keys() == {"rollback", "chainhook"}
    assert deliver([1, 2]).status_code == 400


def test_a_delivery_enqueues_one_job_per_block_and_a_redelivery_nothing(hook: Chainhook, face: DAO) -> None:
    response = deliver(load(APPLY))
    assert response.status_code == 202, response.content
    assert response.json()["enqueued"] == 1
    (job,) = block_jobs()
    assert job.payload["action"] == "apply"
    assert [tx["tx_id"] for tx in job.payload["block"]["txs"]] == [f"0x{'2' * 64}"]  # the coinbase is left out
    assert deliver(load(APPLY)).json() == {"enqueued": 0, "duplicates": 1, "jobs": [str(job.pk)]}
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    proposal = Proposal.objects.get()
    assert (proposal.onchain_id, proposal.starts_at_block) == (7, 870012)
    assert Job.objects.filter(job_type__name="dao_proposal_evaluation").count() == 1
    assert ChainState.objects.get().last_height == 150_000
    # Delivered again after it ran: still the same job, nothing new.
    assert deliver(load(APPLY)).json()["duplicates"] == 1
    assert len(block_jobs()) == 1


def test_a_rollback_undoes_what_nothing_acted_on_and_says_so(hook: Chainhook, face: DAO) -> None:
    run(Job.objects.get(pk=deliver(load(APPLY)).json()["jobs"][0]))
    proposal = Proposal.objects.get()
    follow_ups = list(Job.objects.filter(created_by="block:0x" + "a" * 64))
    # The proposal's lifecycle: one voter's evaluation and vote, the conclusion, the announcement.
    assert sorted(j.job_type.name for j in follow_ups) == [
        "dao_proposal_announcement",
        "dao_proposal_conclude",
        "dao_proposal_evaluation",
        "dao_proposal_vote",
    ]
    assert {str(j.workflow_id) for j in follow_ups} == {str(proposal.workflow_id)}
    response = deliver(load(ROLLBACK))
    assert response.json()["enqueued"] == 1
    job = run(Job.objects.get(pk=response.json()["jobs"][0]))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert not Proposal.objects.filter(pk=proposal.pk).exists()
    assert {j.status for j in Job.objects.filter(pk__in=[j.pk for j in follow_ups])} == {Status.CANCELLED}
    assert job.result["data"]["removed"] == [f"proposal {proposal.pk}"]
    assert job.result["message"].startswith("rolled back: 4 job(s) cancelled, 1 record(s) removed")
    assert ChainState.objects.get().last_height == 149_999


def test_a_rollback_keeps_what_was_already_acted_on(hook: Chainhook, face: DAO) -> None:
    run(Job.objects.get(pk=deliver(load(APPLY)).json()["jobs"][0]))
    proposal = Proposal.objects.get()
    evaluation = Job.objects.get(job_type__name="dao_proposal_evaluation")
    Job.objects.filter(pk=evaluation.pk).update(status=Status.SUCCEEDED)  # as if a worker had evaluated it
    job = run(Job.objects.get(pk=deliver(load(ROLLBACK)).json()["jobs"][0]))
    assert Proposal.objects.filter(pk=proposal.pk).exists()
    assert job.result["data"]["kept"] == [f"proposal {proposal.pk}: already evaluated or voted on"]
    assert "1 kept because already acted on" in job.result["message"]


def test_the_endpoint_is_in_the_schema_with_its_own_security(make_user: Callable[..., Any]) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(make_user('reader'), 'tests').secret}")
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/chainhooks/{name}/"]["post"]
    assert operation["security"] == [{"chainhookSecret": []}]
    assert schema["components"]["securitySchemes"]["chainhookSecret"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "the hook's secret: the exact authorization_header its chainhook is configured to send",
    }
    assert {"202", "400", "401"} <= set(operation["responses"])


def test_the_admin_never_shows_the_secret_and_keeps_it_when_left_empty(admin_client: Any, hook: Chainhook) -> None:
    page = admin_client.get(f"/admin/tasks/chainhook/{hook.pk}/change/").content.decode()
    assert SECRET not in page
    response = admin_client.post(
        f"/admin/tasks/chainhook/{hook.pk}/change/",
        {"name": "dao-events", "secret": "", "network": "testnet", "is_active": "on"},
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.secret, hook.network) == (SECRET, "testnet")
    refused = admin_client.post("/admin/tasks/chainhook/add/", {"name": "other", "secret": "", "network": "mainnet"})
    assert refused.status_code == 200
    assert not Chainhook.objects.filter(name="other").exists()
