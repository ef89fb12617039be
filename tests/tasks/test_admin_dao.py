"""The DAO's admin page lists its contracts in deployment order, read only, and links its workflows."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client

from tasks.models import DaoContract


def test_a_dao_page_shows_its_contracts_in_order(admin_client: Client, make_dao: Any) -> None:
    dao = make_dao(is_deployed=False)
    DaoContract.objects.create(dao=dao, template="aibtc-base-dao", name="face-base-dao", order=20, tx_id="0xbbbb2222")
    DaoContract.objects.create(
        dao=dao, template="aibtc-faktory", name="face-faktory", order=10, status="confirmed", tx_id="0xaaaa1111"
    )
    page = admin_client.get(f"/admin/tasks/dao/{dao.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert text.index("0xaaaa1111") < text.index("0xbbbb2222")  # the token (order 10) first
    assert 'name="contracts-0-status"' not in text  # read only: dao_deployment writes them


def test_a_dao_and_a_proposal_link_to_their_workflows(admin_client: Client, make_dao: Any, make_proposal: Any) -> None:
    deployment, lifecycle = uuid.uuid4(), uuid.uuid4()
    dao = make_dao(deployment_workflow_id=deployment)
    proposal = make_proposal(dao, workflow_id=lifecycle)
    page = admin_client.get(f"/admin/tasks/dao/{dao.pk}/change/").content.decode()
    assert f'href="/admin/jobqueue/job/workflows/{deployment}/"' in page
    page = admin_client.get(f"/admin/tasks/proposal/{proposal.pk}/change/").content.decode()
    assert f'href="/admin/jobqueue/job/workflows/{lifecycle}/"' in page
