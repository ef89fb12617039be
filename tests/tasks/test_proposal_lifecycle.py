"""A proposal's lifecycle as one workflow: evaluations, votes, the conclusion, the announcement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from jobqueue.models import Dependency, Job, Status
from tasks.governance import Clock
from tasks.models import DAO, Chainhook, Proposal, ProposalStatus
from tasks.proposal_events import announcement_pending, lifecycle
from tests.tasks.conftest import ACCOUNT, make_due, run
from tests.tasks.recorded import load
from tests.tasks.test_chainhooks import APPLY, SECRET, deliver

pytestmark = pytest.mark.django_db


def steps(proposal: Proposal) -> dict[str, Job]:
    proposal.refresh_from_db()
    jobs = Job.objects.filter(workflow_id=proposal.workflow_id).select_related("job_type")
    return {job.job_type.name.removeprefix("dao_proposal_"): job for job in jobs}


def edges(job: Job) -> dict[str, bool]:
    """What the job waits for, by type, and whether that one's failure lets it run anyway."""
    rows = Dependency.objects.filter(job_id=job.pk).values_list("on__job_type__name", "ignore_failure")
    return {name.removeprefix("dao_proposal_"): ignore for name, ignore in rows}


def test_a_proposal_read_from_the_chain_is_one_workflow_built_once(configure: Any, face: DAO) -> None:
    configure("chainhook_block")
    Chainhook.objects.create(name="dao-events", secret=SECRET)
    block = Job.objects.get(pk=deliver(load(APPLY)).json()["jobs"][0])
    assert run(block).status == Status.SUCCEEDED, block.last_error
    proposal = Proposal.objects.get()
    graph = steps(proposal)
    assert set(graph) == {"evaluation", "vote", "conclude", "announcement"}
    assert graph["evaluation"].payload == {"proposal_id": proposal.pk, "wallet_address": ACCOUNT}
    assert edges(graph["evaluation"]) == {}
    assert edges(graph["vote"]) == {"evaluation": False}
    assert edges(graph["conclude"]) == {"vote": True}  # a failed vote does not stop the conclusion
    assert edges(graph["announcement"]) == {"conclude": True}  # anyone may conclude on chain
    assert graph["evaluation"].status == Status.QUEUED
    assert {graph[name].status for name in ("vote", "conclude", "announcement")} == {Status.BLOCKED}
    # The same block applied again (a replay) builds nothing: the reader schedules no conclusion
    # of its own, the lifecycle's is the only one.
    Job.objects.filter(pk=block.pk).update(status=Status.QUEUED, finished_at=None)
    run(block)
    assert Job.objects.filter(job_type__name="dao_proposal_conclude").count() == 1
    assert Job.objects.filter(workflow_id__isnull=False).count() == 4


def test_a_failed_vote_does_not_stop_the_conclusion_and_the_evaluation_enqueues_no_vote_of_its_own(
    configure: Any, httpserver: HTTPServer, face: DAO, make_proposal: Any
) -> None:
    configure("dao_proposal_evaluation", llm_base_url=httpserver.url_for("/llm"))
    configure("dao_proposal_vote", tx_service_url=httpserver.url_for("/tx"))
    answer = {"decision": "approve", "confidence": 0.9, "reasoning": "Good for the mission."}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(
        {"choices": [{"message": {"content": json.dumps(answer)}}]}
    )
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"message": "no key for this agent"}, 403)
    proposal = make_proposal(face)  # recorded by hand: no heights to wait for
    flow = lifecycle(proposal, [ACCOUNT], Clock(None, 600.0), "test")
    flow.enqueue()
    Proposal.objects.filter(pk=proposal.pk).update(workflow_id=flow.id)  # as the reader does
    graph = steps(proposal)
    run(graph["evaluation"])
    graph = steps(proposal)
    assert graph["evaluation"].status == Status.SUCCEEDED, graph["evaluation"].last_error
    assert graph["vote"].status == Status.DEAD
    assert "no key for this agent" in graph["vote"].last_error
    assert Job.objects.filter(job_type__name="dao_proposal_vote").count() == 1  # the step, nothing more
    # The conclusion is released all the same (disabled here, so it waits to be claimed).
    assert graph["conclude"].status == Status.QUEUED


def test_the_announcement_posts_once_when_the_chain_has_the_conclusion(
    configure: Any, httpserver: HTTPServer, face: DAO, make_proposal: Any
) -> None:
    configure("dao_proposal_conclude", tx_service_url=httpserver.url_for("/tx"))
    configure("dao_proposal_announcement", wait_seconds=30)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"txid": "0xc0", "status": "broadcast"})
    proposal = make_proposal(face, votes_for=10, votes_against=0, liquid_tokens=100)
    flow = lifecycle(proposal, [], Clock(None, 600.0), "test")
    flow.enqueue()
    Proposal.objects.filter(pk=proposal.pk).update(workflow_id=flow.id)
    graph = steps(proposal)
    run(graph["conclude"])
    graph = steps(proposal)
    assert graph["conclude"].status == Status.SUCCEEDED, graph["conclude"].last_error
    # Broadcast is not concluded: the announcement waits for the chain's record, no attempt spent.
    announcement = graph["announcement"]
    assert (announcement.status, announcement.attempts) == (Status.SCHEDULED, 0)
    assert "conclusion is not on the chain yet" in announcement.last_error
    assert announcement_pending(proposal)  # the reader leaves the posts to it
    Proposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.PASSED)  # read from the chain
    make_due(announcement)
    announcement = run(announcement)
    assert announcement.status == Status.SUCCEEDED, announcement.last_error
    posts = Job.objects.filter(job_type__name__in=["discord", "tweet"], created_by=f"job:{announcement.pk}")
    assert sorted(posts.values_list("job_type__name", flat=True)) == ["discord", "tweet"]
    assert not announcement_pending(proposal)
