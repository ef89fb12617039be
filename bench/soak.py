"""`python -m bench.soak`: two clusters for N minutes under a mixed workload and random SIGKILLs.

Every second it enqueues short, slow, retrying and failing jobs (and a schedule enqueues one
every second); now and then it SIGKILLs a worker in the middle of a job, or a whole cluster
(its main process alone, which must take every other process with it, or every process at
once), and starts a replacement. At the end it lets the queue drain and reports:

- lost: jobs not in their expected final state (dead for the failing type, succeeded for the rest);
- run twice: jobs whose work reached its end more than once (the ledger's `done` lines);
- stalled: jobs seen ready for longer than a lease while workers were free;
- orphans: processes of a killed cluster still running 5 s after its main process died.

Outside CI (it takes minutes). Use your own database: it is dropped and created.
    python -m bench.soak --minutes 3 --database-url postgres://postgres@127.0.0.1:5432/soak_mine
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.clusters import Cluster

SETTINGS = "bench.settings_soak"
EXPECTED = {"soak_short": "succeeded", "soak_slow": "succeeded", "soak_retrying": "succeeded", "soak_failing": "dead"}
MIX = {"soak_short": 8, "soak_slow": 1, "soak_retrying": 1, "soak_failing": 1}  # jobs per second
WORKERS = 2


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from jobqueue.config.effective import type_states
        from jobqueue.registry import registry

        self.args = args
        self.workdir = workdir
        self.ledger = workdir / "ledger"
        self.rng = random.Random(args.seed)
        pins = {f"JOBQUEUE_{d.name.upper()}_TIMEOUT": "20" for d in registry}
        self.env = {**pins, "DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": args.database_url}
        self.env |= {
            "SOAK_LEDGER": str(self.ledger),
            "DEBUG": "false",
            "Q_LOG_LEVEL": "WARNING",
            "LOG_LEVEL": "WARNING",
        }
        self.clusters: list[Cluster] = []
        self.counts: Counter[str] = Counter()
        self.stalled: set[str] = set()
        self.orphans = 0
        self.lease = timedelta(seconds=20 + 5)
        self.ended_at: Any = None
        self.type_ids = {name: state.type_id for name, state in type_states().items() if name.startswith("soak_")}

    def start_cluster(self) -> Cluster:
        cluster = Cluster(self.workdir / f"cluster-{self.counts['clusters started']}.log", WORKERS, **self.env)
        self.counts["clusters started"] += 1
        self.clusters.append(cluster)
        return cluster

    def live(self) -> list[Cluster]:
        return [c for c in self.clusters if c.alive()]

    def enqueue_mix(self) -> None:
        from jobqueue.services import enqueue_many

        items = [{"type": name} for name, count in MIX.items() for _ in range(count)]
        enqueue_many(items, created_by="soak")
        self.counts["enqueued"] += len(items)

    def kill_worker(self) -> None:
        from jobqueue.models import Job

        ours = {pid for c in self.live() for pid in c.descendants()}
        busy = [
            int(w.rpartition(":")[2])
            for w in Job.objects.running().exclude(worker="").values_list("worker", flat=True)
            if w.rpartition(":")[2].isdigit()
        ]
        targets = [pid for pid in busy if pid in ours]
        if targets:
            kill([self.rng.choice(targets)])
            self.counts["workers killed mid-job"] += 1

    def kill_cluster(self, main_only: bool) -> None:
        live = self.live()
        if not live:
            return
        victim = self.rng.choice(live)
        family = victim.descendants()
        kill([victim.proc.pid] if main_only else [victim.proc.pid, *family])
        victim.proc.wait(5)
        self.counts["clusters killed (main only)" if main_only else "clusters killed (every process)"] += 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(running(p) for p in family):
            time.sleep(0.1)
        left = [p for p in family if running(p)]
        self.orphans += len(left)
        kill(left)
        self.start_cluster()

    def sample_stalls(self) -> None:
        from django.utils import timezone

        from jobqueue.models import Job

        busy = Job.objects.running().filter(started_at__isnull=False).count()
        if busy < len(self.live()) * WORKERS:
            late = Job.objects.ready(timezone.now() - self.lease).filter(job_type_id__in=self.type_ids.values())
            self.stalled.update(str(pk) for pk in late.values_list("pk", flat=True))

    def run(self) -> dict[str, Any]:
        self.start_cluster()
        self.start_cluster()
        end = time.monotonic() + self.args.minutes * 60
        next_kill = time.monotonic() + self.rng.uniform(8, 20)
        while time.monotonic() < end:
            tick = time.monotonic()
            self.enqueue_mix()
            self.sample_stalls()
            if tick >= next_kill:
                roll = self.rng.random()
                if roll < 0.6:
                    self.kill_worker()
                else:
                    self.kill_cluster(main_only=roll < 0.8)
                next_kill = tick + self.rng.uniform(8, 20)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        from django.utils import timezone

        self.ended_at = timezone.now()  # schedules keep enqueueing: later jobs are not the soak's
        drained_in = self.drain()
        for cluster in self.clusters:
            cluster.stop()
        return self.report(drained_in)

    def drain(self) -> float | None:
        """Seconds until no soak job is waiting or running (None: not within 3 leases)."""
        from jobqueue.models import ACTIVE

        started = time.monotonic()
        while time.monotonic() - started < 3 * self.lease.total_seconds() + 30:
            if not self.jobs().filter(status__in=ACTIVE).exists():
                return time.monotonic() - started
            self.sample_stalls()
            time.sleep(1)
        return None

    def jobs(self) -> Any:
        from jobqueue.models import Job

        return Job.objects.filter(job_type_id__in=self.type_ids.values(), created_at__lte=self.ended_at)

    def report(self, drained_in: float | None) -> dict[str, Any]:
        from jobqueue.models import Attempt, Outcome

        jobs = self.jobs()
        by_type: dict[str, Counter[str]] = {}
        lost = 0
        for name, status in jobs.values_list("job_type__name", "status"):
            by_type.setdefault(name, Counter())[status] += 1
            lost += status != EXPECTED.get(name, "succeeded")
        done = Counter(line.split()[1] for line in self.ledger.read_text().splitlines()) if self.ledger.exists() else {}
        ticks = sorted(jobs.filter(job_type__name="soak_tick").values_list("created_at", flat=True))
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
        cut_attempts = Attempt.objects.filter(job__in=jobs, outcome__in=[Outcome.CRASHED, Outcome.TIMED_OUT])
        cut = Counter(str(pk) for pk in cut_attempts.values_list("job_id", flat=True))
        # Allowed: one more run per attempt a kill cut. Beyond that would be a duplicate.
        unexplained = sum(1 for job_id, n in done.items() if n > 1 + cut[job_id])
        return {
            "minutes": self.args.minutes,
            "database": self.args.database_url.rpartition("@")[2],
            "jobs": jobs.count(),
            "by_type": {name: dict(counts) for name, counts in sorted(by_type.items())},
            "lost": lost,
            "run_twice": sum(1 for n in done.values() if n > 1),
            "run_twice_beyond_cut_attempts": unexplained,
            "stalled": len(self.stalled),
            "orphans": self.orphans,
            "attempts_cut": sum(cut.values()),
            "drained_in_s": None if drained_in is None else round(drained_in, 1),
            "schedule_ticks": len(ticks),
            "longest_tick_gap_s": round(max(gaps, default=0.0), 1),
            **self.counts,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/soak_jobqueue")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("artifacts/soak.json"))
    args = parser.parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DEBUG", "false")
    from bench.databases import recreate

    recreate("sqlite" if args.database_url.startswith("sqlite") else "postgresql", args.database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        soak = Soak(args, Path(workdir))
        try:
            result = soak.run()
        finally:
            for cluster in soak.clusters:
                cluster.stop(timeout=10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    clean = result["lost"] == result["orphans"] == result["run_twice_beyond_cut_attempts"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
