"""`Workflow`: a graph of jobs (chains, fan-out, fan-in, any DAG) built and enqueued at once.

    flow = Workflow()
    deploy = flow.add("deploy_contract", {"name": "token"})
    votes = [flow.add("vote", {"agent": a}, after=[deploy]) for a in agents]
    flow.add("conclude", {}, after=votes)
    flow.enqueue()

Every job of it carries the workflow's id. `add()` checks the type and payload at once;
`enqueue()` checks the graph (no cycles, no unknown steps or jobs) before it writes anything,
then writes every job and edge in one transaction, or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobqueue.engine import dependencies, sql
from jobqueue.engine.dependencies import After
from jobqueue.engine.enqueue import JobTypeRef, enqueue
from jobqueue.exceptions import JobQueueError
from jobqueue.models import Job
from jobqueue.registry import resolve_definition


class WorkflowError(JobQueueError, ValueError):
    """The workflow's graph is not one that can run (a cycle, a step of another workflow)."""


@dataclass(eq=False)
class Step:
    """One job of a workflow, before it is enqueued; `job` after."""

    key: str
    job_type: JobTypeRef
    payload: Any
    options: dict[str, Any]
    after: list[tuple[Step | str, bool]] = field(default_factory=list)
    job: Job | None = None


def needs(step: Step | Job | str, *, ignore_failure: bool = False) -> tuple[Step | Job | str, bool]:
    """An edge with its failure policy, for `after=[...]`: `needs(step, ignore_failure=True)`."""
    return step, ignore_failure


class Workflow:
    """A graph of jobs enqueued together (see the module docstring)."""

    def __init__(self, workflow_id: str | None = None) -> None:
        self.id = workflow_id or str(uuid.uuid4())
        self.steps: dict[str, Step] = {}

    def add(
        self,
        job_type: JobTypeRef,
        payload: Any = None,
        *,
        after: Iterable[Step | Job | str | tuple[Step | Job | str, bool]] = (),
        key: str | None = None,
        **options: Any,
    ) -> Step:
        """A job of the workflow, run once every job in `after` has succeeded. `after` takes
        steps of this workflow, their keys, or jobs already enqueued (or ids); wrap one in
        `needs(..., ignore_failure=True)` to run even if it fails."""
        definition = resolve_definition(job_type)
        definition.payload_json(payload)  # a bad payload fails here, naming its fields
        key = key or f"{definition.name}-{len(self.steps) + 1}"
        if key in self.steps:
            raise WorkflowError(f"workflow {self.id} already has a step {key!r}; give each step its own key")
        edges = [item if isinstance(item, tuple) else (item, False) for item in after]
        step = Step(key, job_type, payload, options, [(_ref(target), ignore) for target, ignore in edges])
        self.steps[key] = step
        return step

    def enqueue(self) -> list[Job]:
        """Enqueue every step, in one transaction; the jobs in the order their steps were added."""
        order = self._order()
        with sql.write_transaction():
            for step in order:
                edges = [After(_job_of(self, target), ignore) for target, ignore in step.after]
                step.job = enqueue(step.job_type, step.payload, after=edges, workflow_id=self.id, **step.options)
        return [step.job for step in self.steps.values() if step.job is not None]

    def _order(self) -> Sequence[Step]:
        """The steps, each after those it waits for; a cycle or an unknown step is refused."""
        done: dict[str, Step] = {}
        visiting: list[str] = []

        def visit(step: Step) -> None:
            if step.key in done:
                return
            if step.key in visiting:
                cycle = " -> ".join([*visiting[visiting.index(step.key) :], step.key])
                raise WorkflowError(f"workflow {self.id} has a cycle: {cycle}; a job cannot wait for itself")
            visiting.append(step.key)
            for target, _ in step.after:
                if isinstance(target, Step) or target in self.steps:
                    visit(self._step(target))
            visiting.pop()
            done[step.key] = step

        for step in self.steps.values():
            visit(step)
        return list(done.values())

    def _step(self, target: Step | str) -> Step:
        key = target.key if isinstance(target, Step) else target
        step = self.steps.get(key)
        if step is None or (isinstance(target, Step) and step is not target):
            raise WorkflowError(f"step {key!r} is not a step of workflow {self.id}; add it with this workflow's add()")
        return step


def _ref(target: Step | Job | str) -> Step | str:
    return target if isinstance(target, Step) else str(getattr(target, "pk", target))


def _job_of(flow: Workflow, target: Step | str) -> Job | str:
    """A step's job (enqueued before it, by the order), or an outside job's id."""
    if isinstance(target, Step) or target in flow.steps:
        job = flow._step(target).job
        assert job is not None  # noqa: S101 - _order() enqueues a step's dependencies first
        return job
    try:
        uuid.UUID(target)
    except ValueError:
        raise dependencies.UnknownDependencyError(
            f"{target!r} is neither a step of workflow {flow.id} nor a job id; add the step first"
        ) from None
    return target
