"""The Content-Security-Policy middleware: on admin pages, and only there."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_admin_pages_carry_the_policy() -> None:
    response = Client().get("/admin/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "unsafe-eval" not in policy


def test_other_pages_are_left_alone() -> None:
    response = Client().get("/not-admin/")
    assert "Content-Security-Policy" not in response
