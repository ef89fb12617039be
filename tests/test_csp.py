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


def test_one_framing_policy_everywhere(admin_client) -> None:
    response = admin_client.get("/admin/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"  # the same answer for browsers without CSP


def test_the_api_docs_page_carries_the_policy_and_runs_no_inline_script(admin_client) -> None:
    import re

    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    html = page.content.decode()
    inline = [s for s in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S) if s[1].strip()]
    assert inline == []  # every script is a file, which 'self' allows
    script = re.search(r'<script src="([^"]*\?script=[^"]*)"', html)
    assert script is not None
    assert admin_client.get(script.group(1).replace("&amp;", "&")).status_code == 200
