"""Records mirror the registry: created, updated, and orphans kept but marked."""

from __future__ import annotations

import pytest

from jobqueue import job
from jobqueue.models import JobType
from jobqueue.registry import registry
from jobqueue.services import sync_job_types

pytestmark = pytest.mark.django_db


def test_migrate_created_a_record_per_registered_type() -> None:
    assert set(registry.names()) <= set(JobType.objects.values_list("name", flat=True))
    record = JobType.objects.get(name="echo")
    assert record.registered
    assert record.description == "Return its payload."
    assert record.defined_in == "tests.jobs.echo"
    assert record.priority is None  # null: the code default applies


def test_sync_creates_updates_and_marks_orphans() -> None:
    JobType.objects.filter(name="echo").update(description="stale")
    JobType.objects.create(name="retired_type")
    with registry.scope():
        job(name="brand_new")(lambda: None)
        report = sync_job_types()
        assert report.created == ["brand_new"]
        assert "echo" in report.updated
        assert report.orphaned == ["retired_type"]
    assert JobType.objects.get(name="echo").description == "Return its payload."
    retired = JobType.objects.get(name="retired_type")
    assert retired.registered is False


def test_sync_keeps_operator_overrides() -> None:
    JobType.objects.filter(name="echo").update(priority=33, description="stale")
    sync_job_types()
    assert JobType.objects.get(name="echo").priority == 33


def test_a_returning_definition_is_registered_again() -> None:
    JobType.objects.filter(name="echo").update(registered=False)
    sync_job_types()
    assert JobType.objects.get(name="echo").registered is True
