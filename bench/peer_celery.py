"""The Celery peer: a no-op and an I/O task on Redis, no result backend (`celery -A bench.peer_celery worker`)."""

from __future__ import annotations

from celery import Celery

from bench.benchjobs import http
from bench.peer_tasks import PREFIX, REDIS_URL, count_done

QUEUE = f"{PREFIX}-celery"

app = Celery("jobqueue_bench", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="jobqueue_bench.noop")
def noop() -> None:
    count_done("celery")


@app.task(name="jobqueue_bench.io")
def io(url: str) -> None:
    http.get_sync(url)
    count_done("celery-io")
