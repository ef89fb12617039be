"""GET /api/jobs/?q=: the console's search syntax in the API, and a 400 naming `q` on bad syntax."""

from __future__ import annotations

import pytest

from jobqueue import enqueue
from jobqueue.models import Job, JobType

pytestmark = pytest.mark.django_db


def test_q_searches_payload_fields_and_combines_with_filters(api) -> None:
    hit = enqueue("echo", {"value": 42, "label": "Launch day"})
    enqueue("echo", {"value": 43, "label": "launch"})
    other = enqueue("noop", {})
    found = api.get("/api/jobs/", {"q": 'value=42 label~"launch"'})
    assert found.status_code == 200, found.json()
    assert [row["id"] for row in found.json()["results"]] == [str(hit.pk)]
    assert [r["id"] for r in api.get("/api/jobs/", {"q": "value=43", "type": "noop"}).json()["results"]] == []
    assert [r["id"] for r in api.get("/api/jobs/", {"q": "type=noop"}).json()["results"]] == [str(other.pk)]


@pytest.mark.parametrize("query", ['label~"open', "status=exploded", "value="])
def test_bad_search_syntax_is_a_400_on_q(api, query: str) -> None:
    response = api.get("/api/jobs/", {"q": query})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["q"]
    assert response.json()["errors"]["q"][0]


@pytest.mark.parametrize("name", ["isnull", "in", "contains", "exact", "year", "a.isnull", "a.b.icontains"])
def test_a_payload_field_named_like_a_django_lookup_is_a_field(api, name: str) -> None:
    payload: object = "needle"
    for key in reversed(name.split(".")):
        payload = {key: payload}
    enqueue("echo", {"value": 1})
    Job.objects.create(job_type=JobType.objects.get(name="echo"), payload=payload)
    for q in (f"{name}~needl", f"{name}=needle", f"{name}=null"):
        response = api.get("/api/jobs/", {"q": q})
        assert response.status_code == 200, (q, response.content[:300])
    found = api.get("/api/jobs/", {"q": f"{name}~needl"}).json()["results"]
    assert len(found) == 1
