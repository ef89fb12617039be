"""`dao_proposal_embedder`: batches of `batch_size`, and no request when there is nothing to embed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobqueue import enqueue, enqueue_many
from jobqueue.models import Attempt, Job, Status
from jobqueue.testing import drain
from tasks.models import Proposal
from tests.tasks.conftest import run


@pytest.fixture
def embeddings(configure: Any, httpserver: HTTPServer) -> list[list[str]]:
    """Serve embeddings; returns the list of `input` lists the server received."""
    configure("dao_proposal_embedder", llm_base_url=httpserver.url_for("/llm"), embedding_model="local-embed")
    received: list[list[str]] = []

    def handle(request: Request) -> Response:
        texts = json.loads(request.get_data())["input"]
        received.append(texts)
        data = [{"index": i, "embedding": [float(len(t)), float(i)]} for i, t in enumerate(texts)]
        return Response(json.dumps({"data": data}), content_type="application/json")

    httpserver.expect_request("/llm/embeddings", method="POST").respond_with_handler(handle)
    return received


def test_25_jobs_are_claimed_and_embedded_in_batches_of_10(embeddings: list[list[str]], make_proposal: Any) -> None:
    first = make_proposal()
    proposals = [first] + [make_proposal(dao=first.dao, title=f"P{i}") for i in range(24)]
    enqueue_many([{"type": "dao_proposal_embedder", "payload": {"proposal_ids": [p.pk]}} for p in proposals])
    drain()
    assert [len(texts) for texts in embeddings] == [10, 10, 5]
    assert Job.objects.filter(status=Status.SUCCEEDED).count() == 25
    assert Attempt.objects.values("batch_id").distinct().count() == 3
    assert not Proposal.objects.filter(embedding__isnull=True).exists()
    stored = Proposal.objects.get(pk=first.pk)
    assert stored.embedding_model == "local-embed"
    assert stored.embedding[0] == float(len(f"{first.title}\n\n{first.content}"))


def test_a_scheduled_run_embeds_every_proposal_without_one_in_chunks_of_10(
    embeddings: list[list[str]], make_proposal: Any
) -> None:
    first = make_proposal(embedding=[1.0], embedding_model="old")
    for i in range(25):
        make_proposal(dao=first.dao, title=f"P{i}")
    job = run(enqueue("dao_proposal_embedder"))  # what the schedule enqueues
    assert job.status == Status.SUCCEEDED, job.last_error
    assert [len(texts) for texts in embeddings] == [10, 10, 5]
    assert job.result["counters"] == {"embedded": 25}
    assert Proposal.objects.get(pk=first.pk).embedding == [1.0]  # already embedded: left alone


def test_nothing_to_embed_makes_no_request(
    embeddings: list[list[str]], make_proposal: Any, httpserver: HTTPServer
) -> None:
    make_proposal(embedding=[0.5], embedding_model="m")
    job = run(enqueue("dao_proposal_embedder"))
    assert job.status == Status.SUCCEEDED
    assert job.result["counters"] == {"embedded": 0}
    assert httpserver.log == []


def test_unknown_proposal_ids_fail_only_their_job(embeddings: list[list[str]], make_proposal: Any) -> None:
    proposal = make_proposal()
    good, bad = enqueue_many(
        [
            {"type": "dao_proposal_embedder", "payload": {"proposal_ids": [proposal.pk]}},
            {"type": "dao_proposal_embedder", "payload": {"proposal_ids": [proposal.pk + 1000]}},
        ]
    )
    drain()
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, bad.status) == (Status.SUCCEEDED, Status.DEAD)
    assert f"proposals [{proposal.pk + 1000}] do not exist" in bad.last_error
