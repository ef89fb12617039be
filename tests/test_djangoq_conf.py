"""q_cluster(): the Q_CLUSTER a project writes, without django-q2's start-up warning."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobqueue.djangoq.conf import BROKER_CLASS, q_cluster
from tests.conftest import ROOT

pytestmark = pytest.mark.database_independent


def test_defaults_name_our_broker_and_leave_retries_to_the_engine() -> None:
    settings = q_cluster()
    assert settings["broker_class"] == BROKER_CLASS
    assert settings["max_attempts"] == 1
    assert settings["retry"] > settings["timeout"]


def test_a_timeout_moves_retry_with_it() -> None:
    assert q_cluster(timeout=7200)["retry"] > 7200
    assert q_cluster(timeout=7200, retry=9000)["retry"] == 9000
    assert q_cluster(workers=8)["workers"] == 8


def test_another_broker_is_refused() -> None:
    with pytest.raises(ValueError, match="broker_class must stay"):
        q_cluster(broker_class="django_q.brokers.orm.ORM")


@pytest.mark.parametrize("timeout", ["3600", "86400"])
def test_django_q2_does_not_warn_at_start(timeout: str) -> None:
    """django-q2 warns "Retry and timeout are misconfigured" on every start unless retry > timeout."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "Q_TIMEOUT": timeout}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import django; django.setup(); import django_q.conf"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
