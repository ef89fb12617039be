"""GET /api/jobs/?q=: the console's search syntax in the API, and a 400 naming `q` on bad syntax."""

from __future__ import annotations

import pytest

from jobqueue import enqueue

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
