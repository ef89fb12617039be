"""The outbound address policy: resolved once, closed on failure, IPv4 inside IPv6 unwrapped,
and the connection made to the address that was checked."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest
from django.test import override_settings
from pytest_httpserver import HTTPServer

from jobqueue import PermanentError, RetryableError
from tasks.clients.egress import EVERYWHERE, PinnedTransport, embedded_ipv4, refusal, vetted_address
from tasks.clients.http import asend
from tasks.clients.images import download_image

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.9", True),
        ("169.254.169.254", True),  # cloud metadata service
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),  # noqa: S104 -- an address refused, not one bound to
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped
        ("::127.0.0.1", True),  # IPv4-compatible (deprecated, still routed by some stacks)
        ("::a9fe:a9fe", True),  # the same, metadata service
        ("::ffff:0:7f00:1", True),  # IPv4-translated
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", True),  # NAT64 of 10.0.0.1
        ("64:ff9b:1::a00:1", True),  # local-use NAT64
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 of the metadata service
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo, client 127.0.0.1
        ("ff02::1", True),
        ("93.184.215.14", False),
        ("2606:4700::6810:84e5", False),
        ("64:ff9b::5db8:d70e", False),  # NAT64 of a public address
    ],
)
def test_only_public_addresses_pass(address: str, refused: bool) -> None:
    assert bool(refusal(ipaddress.ip_address(address))) is refused


def test_ipv4_inside_ipv6_is_unwrapped() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::1")) == [ipaddress.IPv4Address("169.254.169.254")]
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::7f00:1")) == [ipaddress.IPv4Address("127.0.0.1")]
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) == []


def test_an_allowed_network_passes_and_nothing_else() -> None:
    allowed = [ipaddress.ip_network("10.8.0.0/16")]
    assert refusal(ipaddress.ip_address("10.8.3.4"), allowed) == ""
    assert refusal(ipaddress.ip_address("10.9.3.4"), allowed)
    assert refusal(ipaddress.ip_address("::ffff:10.8.3.4"), allowed)  # the IPv6 wrapper is not allowed


def test_a_failing_lookup_is_refused_not_left_to_the_connection() -> None:
    with pytest.raises(RetryableError, match="could not be resolved"):
        asyncio.run(vetted_address("no-such-host.invalid", 443))


def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(PermanentError, match="OUTBOUND_ALLOWED_NETWORKS"):
        asyncio.run(vetted_address("localhost", 80))


@override_settings(OUTBOUND_ALLOWED_NETWORKS=[])
def test_operator_set_urls_go_through_the_policy(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/internal").respond_with_data("secret internal page")
    with pytest.raises(PermanentError, match="non-public address"):
        asyncio.run(asend("the language model API", "GET", httpserver.url_for("/internal"), timeout=5))
    assert httpserver.log == []  # refused before anything was sent
    with pytest.raises(RetryableError, match="could not be resolved"):
        asyncio.run(asend("the chain API", "GET", "http://no-such-host.invalid/", timeout=5))


def test_redirects_to_internal_addresses_are_refused(httpserver: HTTPServer) -> None:
    # The first hop (the test server, on an allowed network) passes; the redirect target is
    # vetted again because each hop comes back through the transport.
    httpserver.expect_request("/r").respond_with_data("", status=302, headers={"Location": "http://[::1]:9/x"})

    async def call() -> httpx.Response:
        transport = PinnedTransport(allowed=[ipaddress.ip_network("127.0.0.0/8")])
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            return await client.get(httpserver.url_for("/r"))

    with pytest.raises(PermanentError, match=r"non-public address \(::1\)"):
        asyncio.run(call())
    assert len(httpserver.log) == 1


@override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"])
def test_the_operators_allow_list_does_not_open_image_downloads(httpserver: HTTPServer) -> None:
    # The image URL is the payload's: whoever may enqueue a post must not reach internal services.
    with pytest.raises(PermanentError, match="image_private_addresses"):
        asyncio.run(download_image(httpserver.url_for("/a.png"), timeout=5, max_bytes=10))
    assert httpserver.log == []


def test_the_connection_goes_to_the_vetted_address_with_the_host_name_kept(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ping").respond_with_data("pong")

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=PinnedTransport(allowed=EVERYWHERE)) as client:
            return await client.get(f"http://localhost:{httpserver.port}/ping")

    response = asyncio.run(call())
    assert response.text == "pong"
    request, _ = httpserver.log[0]
    assert request.headers["Host"] == f"localhost:{httpserver.port}"
    assert str(response.request.url).startswith(("http://127.0.0.1:", "http://[::1]:"))
