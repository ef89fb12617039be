"""`chain_state_monitor` (one replay when behind, stale flag, inert until configured) and how
`chain_block_replay` moves the state (its reading of events: test_replay.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from tasks.models import AppliedBlock, ChainState
from tests.tasks.conftest import WALLET, run


def tip(httpserver: HTTPServer, height: int) -> None:
    httpserver.expect_request("/chain/extended/v1/status").respond_with_json(
        {"chain_tip": {"block_height": height, "block_hash": f"0x{height:x}"}}
    )


@pytest.fixture
def monitor(configure: Any, httpserver: HTTPServer) -> None:
    configure("chain_state_monitor", chain_api_url=httpserver.url_for("/chain"))


def replays() -> list[dict[str, Any]]:
    return [j.payload for j in Job.objects.filter(job_type__name="chain_block_replay")]


def test_first_run_starts_following_at_the_tip(monitor: None, httpserver: HTTPServer) -> None:
    tip(httpserver, 500)
    job = run(enqueue("chain_state_monitor"))
    assert job.status == Status.SUCCEEDED, job.last_error
    state = ChainState.objects.get(network="mainnet")
    assert (state.last_height, state.block_hash, state.is_stale) == (500, "0x1f4", False)
    assert replays() == []


def test_far_behind_enqueues_one_replay_and_never_two(monitor: None, httpserver: HTTPServer) -> None:
    ChainState.objects.create(network="mainnet", last_height=100)
    tip(httpserver, 140)
    job = run(enqueue("chain_state_monitor"))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert replays() == [{"network": "mainnet"}]
    assert job.result["counters"] == {"behind": 40, "enqueued": 1}
    # The next run while it still waits adds nothing (one waiting or running replay per network).
    again = run(enqueue("chain_state_monitor"))
    assert again.result["counters"]["enqueued"] == 0
    assert replays() == [{"network": "mainnet"}]


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


def serve_tip_and_no_events(httpserver: HTTPServer, height: int) -> None:
    """The chain API at `height`, and the DAO's voting extension with no print yet."""
    httpserver.clear()
    tip(httpserver, height)
    httpserver.expect_request(
        f"/chain/extended/v1/contract/{WALLET}.face-action-proposal-voting/events"
    ).respond_with_json({"limit": 50, "offset": 0, "results": []})


def test_a_replay_moves_the_state_to_the_tip_it_read_and_never_back(
    configure: Any, httpserver: HTTPServer, make_dao: Any
) -> None:
    configure("chain_block_replay", chain_api_url=httpserver.url_for("/chain"))
    make_dao("FACE")
    ChainState.objects.create(network="mainnet", last_height=10, held_at=11)
    AppliedBlock.objects.create(network="mainnet", height=25, block_hash="0x19")  # a chainhook delivered 25
    serve_tip_and_no_events(httpserver, 20)
    job = run(enqueue("chain_block_replay"))
    assert job.status == Status.SUCCEEDED, job.last_error
    assert job.result["message"] == "up to block 20: 1 contract(s), 0 new print(s) in 0 block(s): nothing new"
    state = ChainState.objects.get()
    # Every event of ours up to 20 is applied: the state moves over 11..20, and still waits for 21.
    assert (state.last_height, state.block_hash, state.held_at) == (20, "0x14", 21)
    serve_tip_and_no_events(httpserver, 24)
    assert run(enqueue("chain_block_replay")).status == Status.SUCCEEDED
    state = ChainState.objects.get()
    assert (state.last_height, state.block_hash, state.held_at) == (25, "0x19", None)  # 25 was applied already
    assert not AppliedBlock.objects.exists()
    serve_tip_and_no_events(httpserver, 22)  # an API node behind the others
    assert run(enqueue("chain_block_replay")).status == Status.SUCCEEDED
    assert ChainState.objects.get().last_height == 25


def test_the_hiro_api_key_is_sent_and_a_429_waits_without_spending_an_attempt(
    configure: Any, httpserver: HTTPServer
) -> None:
    configure("chain_block_replay", chain_api_url=httpserver.url_for("/chain"), chain_api_key="hiro-key-123")
    ChainState.objects.create(network="mainnet", last_height=10)
    httpserver.expect_request("/chain/extended/v1/status", headers={"x-api-key": "hiro-key-123"}).respond_with_json(
        {"error": "rate limit exceeded"}, status=429, headers={"Retry-After": "42"}
    )
    job = run(enqueue("chain_block_replay"))
    assert job.status == Status.SCHEDULED, job.last_error
    assert job.attempts == 0  # a rate limit is not a failure
    assert 30 < (job.run_after - timezone.now()).total_seconds() <= 42
    assert "429" in job.last_error
    # The key is a secret setting: sealed at rest, never shown.
    stored = JobType.objects.get(name="chain_block_replay").settings
    assert "hiro-key-123" not in str(stored)
