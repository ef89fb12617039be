"""The chain and transaction-service job types are async: several of their jobs wait on their
services at once in one worker, and a timeout cancels the request it was waiting on."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobqueue import enqueue, enqueue_many
from jobqueue.models import Attempt, Job, Outcome, Status
from jobqueue.testing import drain
from tasks.aibtc.naming import agent_account_name
from tasks.models import Proposal, Vote
from tests.tasks.conftest import ACCOUNT, OWNER, WALLET, make_due, run

# How long a request waits at a gate for the others (and a test for a hang-up). Only a failing
# test waits this long: jobs run one at a time would each arrive alone, and be refused.
WAIT_SECONDS = 8
SECOND_AGENT = "SP1P72Z3704VMT3DMHPP2CB8TGQWGDBHD3RPR9GZS"


class Gate:
    """A request handler that answers nobody until `parties` requests are waiting at once."""

    def __init__(self, parties: int, answer: Callable[[Request], dict[str, Any]]) -> None:
        self.barrier = threading.Barrier(parties, timeout=WAIT_SECONDS)
        self.answer = answer

    def __call__(self, request: Request) -> Response:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return Response(json.dumps({"error": "arrived alone"}), status=503, content_type="application/json")
        return Response(json.dumps(self.answer(request)), content_type="application/json")


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A local HTTP server that handles requests at the same time (the default one, one by one)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_confirmations_wait_on_the_chain_api_at_once_in_one_worker(
    configure: Any, threaded_server: HTTPServer, make_proposal: Callable[..., Proposal]
) -> None:
    configure("tx_confirmation", chain_api_url=threaded_server.url_for("/chain"), chain_timeout_seconds=30)
    proposal = make_proposal()
    votes = [
        Vote.objects.create(proposal=proposal, wallet_address=f"{WALLET}{i}", approve=True, tx_id=f"0x{i}")
        for i in range(3)
    ]

    def success(request: Request) -> dict[str, Any]:
        tx_id = request.path.rsplit("/", 1)[-1]
        return {"tx_id": tx_id, "tx_status": "success", "tx_type": "contract_call", "event_count": 0, "events": []}

    threaded_server.expect_request(re.compile("^/chain/extended/v1/tx/0x")).respond_with_handler(Gate(3, success))
    jobs = enqueue_many(
        [{"type": "tx_confirmation", "payload": {"tx_id": v.tx_id, "kind": "vote", "object_id": v.pk}} for v in votes]
    )
    assert drain() == [Status.SUCCEEDED] * 3
    assert {v.tx_status for v in Vote.objects.all()} == {"success"}
    assert Attempt.objects.filter(job__in=jobs, outcome=Outcome.SUCCEEDED).count() == 3  # none was refused


def test_votes_wait_on_the_transaction_service_at_once_in_one_worker(
    configure: Any, threaded_server: HTTPServer, make_proposal: Callable[..., Proposal]
) -> None:
    configure("dao_proposal_vote", tx_service_url=threaded_server.url_for("/tx"), tx_service_key="k")
    proposals = [make_proposal(), make_proposal()]  # concurrency 2: at most two votes at once
    # Through two accounts of two agents: votes of one agent go one at a time (its signing key).
    voters = [ACCOUNT, f"{WALLET}.{agent_account_name(OWNER, SECOND_AGENT)}"]
    votes = [
        Vote.objects.create(proposal=p, wallet_address=v, approve=True) for p, v in zip(proposals, voters, strict=True)
    ]

    def broadcast(request: Request) -> dict[str, Any]:
        return {"txid": "0x" + request.headers["Idempotency-Key"].removeprefix("vote:"), "status": "broadcast"}

    threaded_server.expect_request("/tx/contract-calls", method="POST").respond_with_handler(Gate(2, broadcast))
    enqueue_many(
        [
            {"type": "dao_proposal_vote", "payload": {"proposal_id": p.pk, "wallet_address": v}}
            for p, v in zip(proposals, voters, strict=True)
        ]
    )
    assert drain() == [Status.SUCCEEDED] * 2
    assert sorted(Vote.objects.values_list("voted", "tx_id")) == sorted((True, f"0x{v.pk}") for v in votes)
    # Each broadcast is followed, committed with its vote's success.
    assert Job.objects.filter(job_type__name="tx_confirmation").count() == 2


class Silent:
    """A local server whose first connection gets no answer (it notes when the client hangs up)
    and whose second gets `answer`."""

    def __init__(self, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()
        self.answer = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.requests: list[bytes] = []
        self.hung_up = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        with self.listener:
            for silent in (True, False):
                conn, _ = self.listener.accept()
                with conn:
                    self.requests.append(self.read(conn))
                    if silent:
                        while conn.recv(4096):  # until the client closes the connection
                            pass
                        self.hung_up.set()
                    else:
                        conn.sendall(self.answer)

    @staticmethod
    def read(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        while len(body) < length:
            body += conn.recv(4096)
        return head

    def header(self, index: int, name: str) -> str:
        for line in self.requests[index].decode().split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        raise AssertionError(f"request {index} has no {name} header")


def test_a_vote_past_its_timeout_drops_its_request_and_its_retry_broadcasts_under_the_same_key(
    configure: Any, make_proposal: Callable[..., Proposal]
) -> None:
    service = Silent({"txid": "0xv", "status": "broadcast"})
    # The service would be waited on for an hour; the attempt's own timeout is 1 s.
    configure(
        "dao_proposal_vote", {"timeout": 1}, tx_service_url=service.url, tx_service_key="k", tx_timeout_seconds=3600
    )
    vote = Vote.objects.create(proposal=make_proposal(), wallet_address=ACCOUNT, approve=True)
    job = run(enqueue("dao_proposal_vote", {"proposal_id": vote.proposal_id, "wallet_address": ACCOUNT}))
    assert job.status == Status.RETRYING
    (attempt,) = Attempt.objects.filter(job=job)
    assert attempt.outcome == Outcome.TIMED_OUT
    assert service.hung_up.wait(WAIT_SECONDS)  # the request was cancelled, its connection closed
    vote.refresh_from_db()
    assert (vote.voted, vote.tx_id) == (False, "")
    assert not Job.objects.filter(job_type__name="tx_confirmation").exists()
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    vote.refresh_from_db()
    assert (vote.voted, vote.tx_id) == (True, "0xv")
    # Whatever the service did with the dropped request, the retry cannot broadcast a second vote.
    assert service.header(0, "Idempotency-Key") == service.header(1, "Idempotency-Key") == f"vote:{vote.pk}"
