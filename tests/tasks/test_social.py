"""`tweet` (split, image, a thread that resumes) and `dao_deployment_tweet` (hands over to `tweet`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobqueue import enqueue
from jobqueue.models import Job, Status
from tasks.models import ThreadPost, XAccount
from tasks.social import split_post, weighted_length
from tests.tasks.conftest import make_due, run
from tests.tasks.oauth import DEFAULT, DEFAULT_IDENTITY, Identity, signed_by


def test_split_post_at_word_boundaries() -> None:
    words = " ".join(f"word{i:03d}" for i in range(100))  # 100 words of 7 characters
    posts = split_post(words)
    assert all(len(p) <= 280 for p in posts)
    assert " ".join(posts) == words  # nothing lost, no word cut
    assert [len(p) for p in posts] == [279, 279, 239]
    assert split_post("short\n\nwith a break") == ["short\n\nwith a break"]
    assert split_post("x" * 600) == ["x" * 280, "x" * 280, "x" * 40]
    assert split_post("   ") == []


@pytest.fixture
def social(httpserver: HTTPServer, configure: Any) -> None:
    # The image server of these tests is on 127.0.0.1, which a default tweet refuses to fetch from.
    configure("tweet", social_api_url=httpserver.url_for("/x"), image_private_addresses=True, **DEFAULT_IDENTITY)


def posts_received(httpserver: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == "/x/tweets"]


def numbered_posts(httpserver: HTTPServer, fail_at: int | None = None) -> None:
    """Answer each post with a new id; the post number `fail_at` fails once with a 503."""
    count = {"n": 0, "failed": False}

    def handle(request: Request) -> Response:
        count["n"] += 1
        if count["n"] == fail_at and not count["failed"]:
            count["failed"] = True
            return Response("try later", 503)
        return Response(json.dumps({"data": {"id": str(1000 + count["n"])}}), 201, content_type="application/json")

    httpserver.expect_request("/x/tweets", method="POST").respond_with_handler(handle)


def test_thread_resumes_after_a_failure_in_its_third_post(social: None, httpserver: HTTPServer) -> None:
    numbered_posts(httpserver, fail_at=3)
    text = " ".join(["lorem"] * 200)  # 1199 characters: 5 posts
    chunks = split_post(text)
    assert len(chunks) == 5
    job = run(enqueue("tweet", {"text": text, "reply_to": "42"}))
    assert job.status == Status.RETRYING
    assert list(ThreadPost.objects.filter(job_id=job.pk).values_list("position", "post_id")) == [
        (0, "1001"),
        (1, "1002"),
    ]
    make_due(job)
    job = run(job)
    assert job.status == Status.SUCCEEDED, job.last_error
    sent = posts_received(httpserver)
    # The first two posts went out once; the third was tried twice (the 503, then the retry).
    assert [body["text"] for body in sent] == [chunks[0], chunks[1], chunks[2], chunks[2], chunks[3], chunks[4]]
    replies = [body.get("reply", {}).get("in_reply_to_tweet_id") for body in sent]
    assert replies == ["42", "1001", "1002", "1002", "1004", "1005"]
    assert job.result["data"]["post_ids"] == ["1001", "1002", "1004", "1005", "1006"]


def test_image_is_downloaded_uploaded_and_attached_to_the_first_post(social: None, httpserver: HTTPServer) -> None:
    numbered_posts(httpserver)
    httpserver.expect_request("/img/cat.png").respond_with_data(b"\x89PNG fake", content_type="image/png")
    httpserver.expect_request("/x/media/upload", method="POST").respond_with_json({"data": {"id": "m-1"}})
    text = " ".join(["meow"] * 100)
    job = run(enqueue("tweet", {"text": text, "image_url": httpserver.url_for("/img/cat.png")}))
    assert job.status == Status.SUCCEEDED, job.last_error
    upload = next(r for r, _ in httpserver.log if r.path == "/x/media/upload")
    body = upload.get_data()  # multipart, read raw (parsing it leaves a temporary file open)
    assert b'name="media"' in body
    assert b"\x89PNG fake" in body
    assert signed_by(upload, DEFAULT)  # multipart: the body is not part of the signature
    sent = posts_received(httpserver)
    assert sent[0]["media"] == {"media_ids": ["m-1"]}
    assert all("media" not in body for body in sent[1:])


def test_an_oversized_image_is_dead_lettered_without_posting(
    social: None, httpserver: HTTPServer, configure: Any
) -> None:
    configure(
        "tweet",
        social_api_url=httpserver.url_for("/x"),
        image_max_bytes=10,
        image_private_addresses=True,
        **DEFAULT_IDENTITY,
    )
    httpserver.expect_request("/img/big.jpg").respond_with_data(b"j" * 11, content_type="image/jpeg")
    job = run(enqueue("tweet", {"text": "look", "image_url": httpserver.url_for("/img/big.jpg")}))
    assert job.status == Status.DEAD
    assert "at most 10 are allowed" in job.last_error
    assert posts_received(httpserver) == []


def test_an_image_on_the_workers_own_network_is_refused_by_default(
    social: None, httpserver: HTTPServer, configure: Any
) -> None:
    # A payload chooses the image URL: by default a worker does not fetch from a loopback,
    # private or link-local address (the cloud metadata service, the services beside it).
    configure("tweet", social_api_url=httpserver.url_for("/x"), **DEFAULT_IDENTITY)
    httpserver.expect_request("/img/cat.png").respond_with_data(b"\x89PNG fake", content_type="image/png")
    job = run(enqueue("tweet", {"text": "look", "image_url": httpserver.url_for("/img/cat.png")}))
    assert job.status == Status.DEAD
    assert "resolves to a non-public address (127.0.0.1)" in job.last_error
    assert [request.path for request, _ in httpserver.log] == []  # nothing fetched, nothing posted
    metadata = run(enqueue("tweet", {"text": "look", "image_url": "http://169.254.169.254/latest/meta-data/"}))
    assert "non-public address (169.254.169.254)" in metadata.last_error


def test_deployment_tweet_enqueues_a_tweet_with_the_launch_post(
    configure: Any, httpserver: HTTPServer, make_dao: Any
) -> None:
    configure("dao_deployment_tweet", llm_base_url=httpserver.url_for("/llm"), chat_model="local-model")
    answer = {"choices": [{"message": {"content": "FACE DAO is live! $FACE"}}]}
    httpserver.expect_request("/llm/chat/completions").respond_with_json(answer)
    dao = make_dao()
    parent = run(enqueue("dao_deployment_tweet", {"dao_id": dao.pk}))
    assert parent.status == Status.SUCCEEDED, parent.last_error
    request = json.loads(httpserver.log[-1][0].get_data())
    assert request["model"] == "local-model"
    assert "Fund open source" in request["messages"][1]["content"]
    tweet = Job.objects.get(job_type__name="tweet")
    assert tweet.payload == {"text": "FACE DAO is live! $FACE", "dao_id": dao.pk, "reply_to": None, "image_url": None}
    assert tweet.created_by == f"job:{parent.pk}"
    assert tweet.status == Status.QUEUED  # waits: tweet is disabled until configured


def test_deployment_tweet_refuses_a_dao_without_a_deployed_token(configure: Any, make_dao: Any) -> None:
    configure("dao_deployment_tweet", llm_base_url="http://127.0.0.1:9")
    dao = make_dao(is_broadcast=False, is_deployed=False, token_contract="")
    job = run(enqueue("dao_deployment_tweet", {"dao_id": dao.pk}))
    assert job.status == Status.DEAD
    assert "has no deployed token" in job.last_error
    assert not Job.objects.filter(job_type__name="tweet").exists()


def test_a_dao_posts_as_its_own_x_account(social: None, httpserver: HTTPServer, make_dao: Any) -> None:
    own = Identity("face-consumer-key", "face-consumer-secret", "7-face-access-token", "face-access-token-secret")
    account = XAccount.objects.create(
        name="facedao",
        consumer_key=own.consumer_key,
        consumer_secret=own.consumer_secret,
        access_token=own.access_token,
        access_token_secret=own.access_token_secret,
    )
    dao = make_dao("FACE", x_account=account)
    numbered_posts(httpserver)
    assert run(enqueue("tweet", {"text": "gm from FACE", "dao_id": dao.pk})).status == Status.SUCCEEDED
    assert run(enqueue("tweet", {"text": "gm from the default"})).status == Status.SUCCEEDED
    first, second = (r for r, _ in httpserver.log if r.path == "/x/tweets")
    assert signed_by(first, own)
    assert not signed_by(first, DEFAULT)
    assert signed_by(second, DEFAULT)
    assert not signed_by(second, own)
    # A tampered request no longer verifies: the signature covers method, URL and oauth_* values.
    first.method = "PUT"
    assert not signed_by(first, own)
    # The credentials are stored encrypted.
    with connection.cursor() as cursor:
        cursor.execute("SELECT consumer_secret, access_token_secret FROM tasks_xaccount")
        stored = cursor.fetchone()
    assert all(value and own.consumer_secret not in value and own.access_token_secret not in value for value in stored)


def test_an_incomplete_identity_is_refused_with_the_fix(httpserver: HTTPServer, configure: Any, make_dao: Any) -> None:
    configure("tweet", social_api_url=httpserver.url_for("/x"), social_consumer_key="only-this")
    job = run(enqueue("tweet", {"text": "gm"}))
    assert job.status == Status.DEAD
    assert "link the DAO to an X account, or set the social_consumer_key" in job.last_error
    account = XAccount.objects.create(name="half", consumer_key="k", consumer_secret="s")
    dao = make_dao("FACE", x_account=account)
    job = run(enqueue("tweet", {"text": "gm", "dao_id": dao.pk}))
    assert "X account 'half' lacks one of its four OAuth 1.0a credentials" in job.last_error
    assert httpserver.log == []


def test_the_admin_keeps_x_credentials_write_only(admin_client: Any) -> None:
    values = {
        "name": "facedao",
        "consumer_key": "ck",
        "consumer_secret": "cs-1",
        "access_token": "at",
        "access_token_secret": "ats",
    }
    assert admin_client.post("/admin/tasks/xaccount/add/", values).status_code == 302
    account = XAccount.objects.get()
    page = admin_client.get(f"/admin/tasks/xaccount/{account.pk}/change/").content.decode()
    assert "cs-1" not in page
    changed = {**values, "consumer_secret": "", "access_token_secret": "ats-2"}
    assert admin_client.post(f"/admin/tasks/xaccount/{account.pk}/change/", changed).status_code == 302
    account.refresh_from_db()
    assert (account.consumer_secret, account.access_token_secret) == ("cs-1", "ats-2")


def test_posts_are_measured_by_x_weighted_length() -> None:
    # A link counts 23 whatever its length; CJK characters count 2 each.
    link = "https://example.com/" + "a" * 300
    assert weighted_length(link) == 23
    assert split_post(f"see {link}") == [f"see {link}"]
    cjk = "漢" * 200
    posts = split_post(cjk)
    assert [len(p) for p in posts] == [140, 60]
    assert all(weighted_length(p) <= 280 for p in posts)
