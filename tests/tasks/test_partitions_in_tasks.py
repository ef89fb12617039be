"""This deployment's partitioned job types: tweets per X account, proposals per DAO."""

from __future__ import annotations

from typing import Any

import pytest

from jobqueue import enqueue
from jobqueue.models import JobType
from jobqueue.services import update_job_type
from tasks.models import XAccount
from tests.helpers import claim, job_ids
from tests.tasks.conftest import WALLET

pytestmark = pytest.mark.django_db


def _account(name: str) -> XAccount:
    return XAccount.objects.create(
        name=name,
        consumer_key="ck",
        consumer_secret="cs",
        access_token="at",
        access_token_secret="ats",
    )


def test_tweets_are_partitioned_by_the_x_account_they_are_posted_as(make_dao: Any) -> None:
    shared = _account("shared")
    one = make_dao("ONE", x_account=shared)
    two = make_dao("TWO", x_account=shared)
    own = make_dao("OWN", x_account=_account("own"))
    plain = make_dao("PLAIN")
    keys = [enqueue("tweet", {"text": "gm", "dao_id": dao.pk}).partition_key for dao in (one, two, own, plain)]
    assert keys == [f"x-account:{shared.pk}", f"x-account:{shared.pk}", f"x-account:{own.x_account_id}", ""]
    assert enqueue("tweet", {"text": "gm"}).partition_key == ""  # the type's default identity


def test_one_thread_at_a_time_per_x_account(make_dao: Any) -> None:
    update_job_type(JobType.objects.get(name="tweet"), {"enabled": True})
    shared = _account("shared")
    daos = [make_dao("ONE", x_account=shared), make_dao("TWO", x_account=shared), make_dao("OWN")]
    for dao in daos:
        enqueue("tweet", {"text": "gm", "dao_id": dao.pk})
    claimed = job_ids(claim(10))
    assert len(claimed) == 2  # one of the shared account's two, and the default identity's


def test_proposal_jobs_are_partitioned_by_dao(make_dao: Any, make_proposal: Any) -> None:
    face, other = make_dao("FACE"), make_dao("OTHR")
    first, second, third = make_proposal(face), make_proposal(face), make_proposal(other)
    keys = [
        enqueue("dao_proposal_evaluation", {"proposal_id": p.pk, "wallet_address": WALLET}).partition_key
        for p in (first, second, third)
    ]
    assert keys == [f"dao:{face.pk}", f"dao:{face.pk}", f"dao:{other.pk}"]
    assert enqueue("dao_proposal_conclude", {"proposal_id": third.pk}).partition_key == f"dao:{other.pk}"
