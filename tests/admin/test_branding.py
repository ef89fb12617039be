"""The project's templates/ folder: the admin's branding and the error pages come from it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_admin_header_and_title_name_the_product(login: Callable[..., Client]) -> None:
    response = login().get(reverse("admin:index"))

    page = response.content.decode()
    assert response.status_code == 200
    assert str(settings.BASE_DIR / "templates" / "admin" / "base_site.html") in {
        t.origin.name for t in response.templates
    }
    assert '<div id="site-name"><a href="/admin/">jobqueue administration</a></div>' in page
    assert "<title>Site administration | jobqueue admin</title>" in page
    assert "Django administration" not in page


def test_header_links_to_the_dashboard_and_the_api_docs(login: Callable[..., Client]) -> None:
    page = login().get(reverse("admin:jobqueue_job_changelist")).content.decode()

    assert f'<a id="jq-header-dashboard" href="{reverse("admin:jobqueue_dashboard")}">Dashboard</a>' in page
    assert f'<a id="jq-header-api-docs" href="{reverse("jobqueue_api:docs")}">API docs</a>' in page


def test_dashboard_link_needs_the_permission_to_see_jobs(make_user: Callable[..., object]) -> None:
    client = Client()
    client.force_login(make_user("no-jobs", "jobqueue.view_deadletter"))

    page = client.get(reverse("admin:index")).content.decode()

    assert "jq-header-dashboard" not in page
    assert "jq-header-api-docs" in page


def test_login_page_is_branded_without_user_links() -> None:
    page = Client().get(reverse("admin:login")).content.decode()

    assert "jobqueue administration" in page
    assert "jq-header-api-docs" not in page


def test_unknown_page_uses_the_project_404() -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert "<title>Not found | jobqueue</title>" in response.content.decode()
