"""`chain_state_monitor` (capped replays, stale flag, inert until configured) and `chain_block_replay`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from tasks.models import AppliedBlock, ChainState
from tests.tasks.conftest import run


def tip(httpserver: HTTPServer, height: int) -> None:
    httpserver.expect_request("/chain/extended/v1/status").respond_with_json(
        {"chain_tip": {"block_height": height, "block_hash": f"0x{height:x}"}}
    )


@pytest.fixture
def monitor(configure: Any, httpserver: HTTPServer) -> None:
    configure("chain_state_monitor", chain_api_url=httpserver.url_for("/chain"), max_replays_per_run=5)


def replays() -> list[int]:
    return sorted(j.payload["height"] for j in Job.objects.filter(job_type__name="chain_block_replay"))


def test_first_run_starts_following_at_the_tip(monitor: None, httpserver: HTTPServer) -> None:
    tip(httpserver, 500)
    job = run(enqueue("chain_state_monitor"))
    assert job.status == Status.SUCCEEDED, job.last_error
    state = ChainState.objects.get(network="mainnet")
    assert (state.last_height, state.block_hash, state.is_stale) == (500, "0x1f4", False)
    assert replays() == []


def test_far_behind_enqueues_at_most_the_cap_and_never_twice(monitor: None, httpserver: HTTPServer) -> None:
    ChainState.objects.create(network="mainnet", last_height=100)
    tip(httpserver, 140)
    job = run(enqueue("chain_state_monitor"))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert replays() == [101, 102, 103, 104, 105]
    assert job.result["counters"] == {"behind": 40, "enqueued": 5}
    # The next run while those still wait adds nothing (one waiting replay per block).
    again = run(enqueue("chain_state_monitor"))
    assert again.result["counters"]["enqueued"] == 0
    assert replays() == [101, 102, 103, 104, 105]


def test_within_the_threshold_nothing_is_replayed(monitor: None, httpserver: HTTPServer) -> None:
    ChainState.objects.create(network="mainnet", last_height=100)
    tip(httpserver, 103)  # threshold 3
    assert run(enqueue("chain_state_monitor")).status == Status.SUCCEEDED
    assert replays() == []


def test_api_down_flags_the_state_stale_after_five_minutes(monitor: None, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/chain/extended/v1/status").respond_with_data("down", 503)
    now = timezone.now()
    ChainState.objects.create(network="mainnet", last_height=1, last_ok_at=now - timedelta(minutes=4))
    job = run(enqueue("chain_state_monitor"))
    assert job.status == Status.DEAD  # one attempt: the next scheduled run is the retry
    state = ChainState.objects.get()
    assert not state.is_stale
    assert "503: down" in state.last_error
    ChainState.objects.update(last_ok_at=now - timedelta(minutes=5, seconds=1))
    run(enqueue("chain_state_monitor"))
    assert ChainState.objects.stale().count() == 1
    # Back up: no longer stale.
    httpserver.clear()
    tip(httpserver, 2)
    run(enqueue("chain_state_monitor"))
    assert not ChainState.objects.get().is_stale


def test_unconfigured_monitor_is_skipped_without_any_request(db: None, httpserver: HTTPServer) -> None:
    job = run(enqueue("chain_state_monitor"))  # enabled by default, no chain_api_url
    assert job.status == Status.SKIPPED
    assert "set the chain_api_url setting" in job.result["skipped"]
    assert httpserver.log == []
    assert not ChainState.objects.exists()


def test_replay_advances_the_state_only_forward(configure: Any, httpserver: HTTPServer) -> None:
    configure("chain_block_replay", chain_api_url=httpserver.url_for("/chain"))
    ChainState.objects.create(network="mainnet", last_height=10)
    for height in (12, 11):
        httpserver.expect_request(f"/chain/extended/v2/blocks/{height}").respond_with_json(
            {"height": height, "hash": f"0x{height}"}
        )
        httpserver.expect_request(f"/chain/extended/v2/blocks/{height}/transactions").respond_with_json(
            {"limit": 50, "offset": 0, "total": 0, "results": []}
        )
        assert run(enqueue("chain_block_replay", {"height": height})).status == Status.SUCCEEDED
    state = ChainState.objects.get()
    assert (state.last_height, state.block_hash) == (12, "0x12")


def test_a_block_that_fails_holds_the_state_back_until_it_is_applied(
    configure: Any, monitor: None, httpserver: HTTPServer
) -> None:
    """Block 12 applies while block 11's replay dies: the state stays at 10, says it waits for 11,
    and the monitor replays 11 again (not 12); once 11 applies the state moves over both."""
    configure("chain_block_replay", {"max_attempts": 1}, chain_api_url=httpserver.url_for("/chain"))
    ChainState.objects.create(network="mainnet", last_height=10)

    def serve(height: int) -> None:
        httpserver.expect_request(f"/chain/extended/v2/blocks/{height}").respond_with_json(
            {"height": height, "hash": f"0x{height}"}
        )
        httpserver.expect_request(f"/chain/extended/v2/blocks/{height}/transactions").respond_with_json(
            {"limit": 50, "offset": 0, "total": 0, "results": []}
        )

    serve(12)
    assert run(enqueue("chain_block_replay", {"height": 12})).status == Status.SUCCEEDED
    dead = run(enqueue("chain_block_replay", {"height": 11}))  # the API does not know block 11 (404)
    assert dead.status == Status.DEAD
    state = ChainState.objects.get()
    assert (state.last_height, state.held_at) == (10, 11)
    assert list(AppliedBlock.objects.values_list("height", flat=True)) == [12]

    tip(httpserver, 20)
    ran = run(enqueue("chain_state_monitor"))  # (the helper also runs the replays it enqueues)
    assert ran.status == Status.SUCCEEDED, ran.last_error
    enqueued = Job.objects.filter(job_type__name="chain_block_replay", created_by=f"job:{ran.pk}")
    assert sorted(j.payload["height"] for j in enqueued) == [11, 13, 14, 15]  # 11 again, not 12

    serve(11)
    assert run(enqueue("chain_block_replay", {"height": 11})).status == Status.SUCCEEDED
    state = ChainState.objects.get()
    assert (state.last_height, state.block_hash, state.held_at) == (12, "0x12", None)
    assert not AppliedBlock.objects.exists()


def test_the_hiro_api_key_is_sent_and_a_429_waits_without_spending_an_attempt(
    configure: Any, httpserver: HTTPServer
) -> None:
    configure("chain_block_replay", chain_api_url=httpserver.url_for("/chain"), chain_api_key="hiro-key-123")
    ChainState.objects.create(network="mainnet", last_height=10)
    httpserver.expect_request("/chain/extended/v2/blocks/11", headers={"x-api-key": "hiro-key-123"}).respond_with_json(
        {"error": "rate limit exceeded"}, status=429, headers={"Retry-After": "42"}
    )
    job = run(enqueue("chain_block_replay", {"height": 11}))
    assert job.status == Status.SCHEDULED, job.last_error
    assert job.attempts == 0  # a rate limit is not a failure
    assert 30 < (job.run_after - timezone.now()).total_seconds() <= 42
    assert "429" in job.last_error
    # The key is a secret setting: sealed at rest, never shown.
    stored = JobType.objects.get(name="chain_block_replay").settings
    assert "hiro-key-123" not in str(stored)
