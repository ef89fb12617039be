"""A DAO deployment's workflow through a real qcluster: each contract sent only once the one
before it is confirmed on the (stand-in) chain, then the launch post released."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobqueue import enqueue
from jobqueue.models import Job, JobType, Status
from jobqueue.services import sync_job_types, update_job_type
from tasks.models import DAO
from tests.conftest import wait_for
from tests.tasks.conftest import CONTRACTS_DIR, DEPLOYMENT, WALLET
from tests.tasks.recorded import load

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

TEMPLATES = ["aibtc-faktory", "aibtc-base-dao"]  # deployment orders 10 and 20


def test_each_contract_is_sent_after_the_one_before_is_confirmed_then_the_post_is_released(
    start_cluster: Any, httpserver: HTTPServer, tmp_path: Path
) -> None:
    for name in TEMPLATES:
        (tmp_path / f"{name}.clar").write_text((Path(CONTRACTS_DIR) / f"{name}.clar").read_text())
    events: list[tuple[str, str]] = []  # ("sent" | "confirmed", contract), in the order they happened
    contracts: dict[str, str] = {}  # txid -> contract name

    def send(request: Request) -> Response:
        name = json.loads(request.get_data())["arguments"]["contract_name"]
        txid = f"0x{len(contracts) + 1:064x}"
        contracts[txid] = name
        events.append(("sent", name))
        receipt = {"txid": txid, "status": "broadcast", "contract_id": f"{WALLET}.{name}"}
        return Response(json.dumps(receipt), 201, content_type="application/json")

    success = next(iter(load("stacks_api/tx_dao_deployment_success.json").values()))

    def chain(request: Request) -> Response:
        txid = request.path.rsplit("/", 1)[-1]
        name = contracts[txid]
        if ("confirmed", name) not in events:
            events.append(("confirmed", name))
        contract = {**success["smart_contract"], "contract_id": f"{WALLET}.{name}"}
        return Response(json.dumps({**success, "tx_id": txid, "smart_contract": contract}), 200)

    httpserver.expect_request("/tx/contract-calls").respond_with_handler(send)
    httpserver.expect_request(re.compile("^/chain/extended/v1/tx/0x[0-9a-f]+$")).respond_with_handler(chain)
    sync_job_types()
    update_job_type(
        JobType.objects.get(name="dao_deployment"),
        {
            "enabled": True,
            "settings": {
                "tx_service_url": httpserver.url_for("/tx"),
                "contracts_dir": str(tmp_path),
                "wait_seconds": 0.3,
            },
        },
    )
    update_job_type(
        JobType.objects.get(name="tx_confirmation"),
        {"enabled": True, "settings": {"chain_api_url": httpserver.url_for("/chain"), "first_check_seconds": 0.3}},
    )
    plan = enqueue("dao_deployment", DEPLOYMENT)

    start_cluster(workers=2)
    started = time.monotonic()
    post = wait_for(
        lambda: Job.objects.filter(job_type__name="dao_deployment_tweet", status=Status.QUEUED).first(),
        timeout=60,
        message="the launch post was never released",
    )
    elapsed = time.monotonic() - started

    plan.refresh_from_db()
    assert plan.status == Status.SUCCEEDED, plan.last_error
    assert str(post.workflow_id) == plan.result["data"]["workflow_id"]
    assert events == [
        ("sent", "new-faktory"),
        ("confirmed", "new-faktory"),
        ("sent", "new-base-dao"),
        ("confirmed", "new-base-dao"),
    ]
    steps = Job.objects.filter(workflow_id=post.workflow_id, job_type__name="dao_deployment")
    assert {(job.payload["contract"], job.status) for job in steps} == {
        ("new-faktory", Status.SUCCEEDED),
        ("new-base-dao", Status.SUCCEEDED),
    }
    dao = DAO.objects.get(token_symbol="NEW")
    assert dao.is_deployed
    assert post.payload == {"dao_id": dao.pk}
    assert Job.objects.filter(job_type__name="dao_deployment_tweet").count() == 1
    assert elapsed < 30
