"""The clients' mapping of HTTP answers to job errors, against a real local server."""

from __future__ import annotations

import asyncio
import email.utils
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer

from jobqueue import PermanentError, RetryableError
from tasks.clients.http import asend, error_message, retry_after
from tasks.clients.images import download_image
from tasks.clients.llm import LLMClient
from tasks.clients.transactions import TransactionClient

pytestmark = pytest.mark.database_independent


def _response(headers: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
    return httpx.Response(429, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after(_response({"Retry-After": "42"})) == 42
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 110 <= (retry_after(_response({"Retry-After": when})) or 0) <= 120
    assert retry_after(_response({"Retry-After": "soon"})) is None
    assert retry_after(_response()) is None


def test_error_message_reads_the_usual_json_shapes() -> None:
    assert error_message(_response(json={"detail": "Too Many Requests"})) == "Too Many Requests"
    assert error_message(_response(json={"error": {"message": "bad model"}})) == "bad model"
    assert error_message(_response(json={"errors": [{"message": "duplicate content"}]})) == "duplicate content"
    assert error_message(_response(json={"detail": "line one\nline\ttwo\x00"})) == "line one line two"
    assert error_message(_response(json={"unrelated": "internal data"})) == "a JSON body without a message field"


def test_an_error_body_that_is_not_json_is_described_not_copied() -> None:
    page = _response(text="<html>internal admin: db password hunter2</html>", headers={"Content-Type": "text/html"})
    assert error_message(page) == "a text/html body of 48 bytes, not copied"


def test_429_and_5xx_are_retryable_with_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/a").respond_with_json({"detail": "slow down"}, 429, {"Retry-After": "17"})
    httpserver.expect_oneshot_request("/a").respond_with_data("upstream broke", 502)
    with pytest.raises(RetryableError, match="answered 429: slow down") as first:
        asyncio.run(asend("svc", "GET", httpserver.url_for("/a"), timeout=5))
    assert first.value.after == 17
    with pytest.raises(RetryableError, match="answered 502: upstream broke") as second:
        asyncio.run(asend("svc", "GET", httpserver.url_for("/a"), timeout=5))
    assert second.value.after is None


def test_4xx_is_permanent_with_the_service_message(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_json({"message": "symbol taken"}, 409)
    with pytest.raises(PermanentError, match=r"svc refused the request \(409\): symbol taken"):
        asyncio.run(asend("svc", "GET", httpserver.url_for("/a"), timeout=5))


def test_unreachable_and_slow_services_are_retryable(httpserver: HTTPServer) -> None:
    with pytest.raises(RetryableError, match="unreachable: ConnectError"):
        asyncio.run(asend("svc", "GET", "http://127.0.0.1:9/nothing", timeout=2))

    def slow(request: object) -> object:
        import time

        from werkzeug import Response

        time.sleep(0.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(RetryableError, match=r"did not answer within 0\.1 s"):
        asyncio.run(asend("svc", "GET", httpserver.url_for("/slow"), timeout=0.1))


def test_credentials_appear_in_no_error_and_no_log_line(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/tx/contract-calls").respond_with_json({"error": "forbidden"}, 403)
    client = TransactionClient(httpserver.url_for("/tx"), "sk-very-secret", 5)
    with pytest.raises(PermanentError) as refused:
        asyncio.run(client.call("vote", {}, idempotency_key="k"))
    assert "sk-very-secret" not in str(refused.value)
    assert "sk-very-secret" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]  # they log full URLs
    request = next(r for r, _ in httpserver.log if r.path == "/tx/contract-calls")
    assert request.headers["Authorization"] == "Bearer sk-very-secret"
    assert request.headers["Idempotency-Key"] == "k"


def test_malformed_embeddings_answer_is_retryable(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/embeddings").respond_with_json({"data": [{"index": 0, "embedding": [0.1]}]})
    with pytest.raises(RetryableError, match="1 embeddings for 2 texts"):
        asyncio.run(LLMClient(httpserver.url_for("/v1"), "", 5).embed("m", ["a", "b"]))


def test_image_download_refuses_other_types_and_oversized_images(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data("<html>", content_type="text/html")
    httpserver.expect_request("/big.png").respond_with_data(b"x" * 2048, content_type="image/png")
    httpserver.expect_request("/ok.webp").respond_with_data(b"RIFF....WEBP", content_type="image/webp")
    with pytest.raises(PermanentError, match="text/html"):
        asyncio.run(download_image(httpserver.url_for("/page"), timeout=5, max_bytes=1024, private_addresses=True))
    with pytest.raises(PermanentError, match="at most 1024"):
        asyncio.run(download_image(httpserver.url_for("/big.png"), timeout=5, max_bytes=1024, private_addresses=True))
    image = asyncio.run(
        download_image(httpserver.url_for("/ok.webp"), timeout=5, max_bytes=1024, private_addresses=True)
    )
    assert image == (b"RIFF....WEBP", "image/webp")
