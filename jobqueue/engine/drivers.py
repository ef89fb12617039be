"""Drivers: perform the calls an attempt's steps yield, in a worker process or on an event loop.

`drive()` calls job code directly, under a SIGALRM deadline (the main thread of a worker);
`adrive()` awaits coroutine methods under an asyncio deadline, and runs sync methods of an
async job type in Django's thread for sync code, so the ORM works as Django documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import time
from collections.abc import Iterator
from typing import Any

from asgiref.sync import sync_to_async

from jobqueue.engine.steps import Call, JobTimedOut, Steps


class _Done(Exception):
    """The steps ended with this value (control flow inside this module)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _advance(steps: Steps, value: Any, error: BaseException | None) -> Call:
    """The next call the steps ask for, after handing them the last result (or error)."""
    try:
        return steps.throw(error) if error is not None else steps.send(value)
    except StopIteration as stop:
        raise _Done(stop.value) from None


def drive(steps: Steps, deadline: float | None) -> Any:
    """Run `steps` to the end, synchronously; `deadline` is a time.monotonic() value."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            current = _advance(steps, value, error)
            value, error = None, None
            try:
                with _alarm(deadline if current.timed else None):
                    value = current.fn(*current.args)
            except BaseException as exc:
                error = exc
    except _Done as done:
        return done.value


@contextlib.contextmanager
def _alarm(deadline: float | None) -> Iterator[None]:
    if deadline is None:
        yield
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise JobTimedOut("the attempt's timeout passed")

    def expire(signum: int, frame: Any) -> None:
        raise JobTimedOut(f"the attempt ran past its timeout ({left:.0f} s left at the last step)")

    try:
        previous = signal.signal(signal.SIGALRM, expire)
    except ValueError:  # not the main thread: no alarm, the cluster's guard is the limit
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        yield
    finally:
        # Before anything else, so that the rest (recording) is never cut by the alarm.
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def adrive(steps: Steps, deadline: float | None) -> Any:
    """Run `steps` to the end on the running event loop; `deadline` is a loop.time() value."""
    value: Any = None
    error: BaseException | None = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            current = _advance(steps, value, error)
            value, error = None, None
            try:
                value = await _acall(current, deadline if current.timed else None, loop)
            except TimeoutError:
                error = JobTimedOut("the attempt ran past its timeout")
            except BaseException as exc:
                error = exc
    except _Done as done:
        return done.value


class _Exited(Exception):
    """SystemExit or KeyboardInterrupt raised by job code, carried out of the task it ran in."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


async def _contained(awaitable: Any) -> Any:
    # asyncio re-raises these two out of a task into the event loop itself (a Task's step
    # lets them through), which stops the loop with the attempt unrecorded; as an ordinary
    # exception they end the task like any other error and are raised again to the steps.
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _Exited(exc) from None


async def _acall(current: Call, deadline: float | None, loop: asyncio.AbstractEventLoop) -> Any:
    if inspect.iscoroutinefunction(current.fn):
        awaitable: Any = current.fn(*current.args)
    else:
        awaitable = sync_to_async(current.fn, thread_sensitive=True)(*current.args)
    if deadline is None:
        return await awaitable
    left = deadline - loop.time()
    if left <= 0:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        raise TimeoutError
    try:
        return await asyncio.wait_for(_contained(awaitable), left)
    except _Exited as exited:
        raise exited.exc from None
