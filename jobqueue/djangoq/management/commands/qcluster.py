"""`manage.py qcluster`: django-q2's cluster, started the job queue's way.

Before the cluster starts: system checks (a bad environment pin stops it), job type records
synced with the code, and the shared stopping flag installed so that SIGTERM/SIGINT stop
new claims at once and jobs claimed but not started go back to the queue unspent.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, connections
from django_q.management.commands.qcluster import Command as DjangoQClusterCommand

from jobqueue.djangoq import lifeline
from jobqueue.djangoq.connections import use_persistent_connections
from jobqueue.engine import checkpoint, shutdown


class Command(DjangoQClusterCommand):
    help = "Starts a job queue cluster (django-q2 workers over the Job table)."

    def handle(self, *args: Any, **options: Any) -> None:
        from django_q.cluster import Cluster

        from jobqueue.services import sync_job_types

        use_persistent_connections(getattr(settings, "CLUSTER_CONN_MAX_AGE", 600))
        checkpoint.defer_checkpoints()  # the pusher's thread checkpoints SQLite's log instead
        try:
            report = sync_job_types()
        except DatabaseError as exc:
            raise CommandError(f"cannot read the job tables ({exc}); run `manage.py migrate` first") from exc
        if report.created:
            self.stdout.write(f"job types added: {', '.join(report.created)}")
        shutdown.install()
        connections.close_all()  # each forked process opens its own; none is shared
        lifeline.install()  # every process of the cluster dies with its parent: no orphans
        main_pid = os.getpid()

        def detach_sentinel() -> None:
            # The sentinel (our only direct child) and everything it forks leave our process
            # group. A stop signal sent to the whole group (`timeout`, a shell, some service
            # managers) would otherwise kill the sentinel outright (django-q2 leaves SIGTERM
            # at its default there), leaving this process blocked on the dead sentinel's
            # event lock; this way only we get it, and stop the cluster gracefully.
            if os.getppid() == main_pid:
                os.setpgrp()

        os.register_at_fork(after_in_child=detach_sentinel)
        cluster = Cluster()
        stop = cluster.sig_handler

        def on_signal(signum: int, frame: Any) -> None:
            shutdown.request()
            if cluster.sentinel is not None and not cluster.sentinel.is_alive():
                raise SystemExit(1)  # nothing left to stop gracefully
            stop(signum, frame)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
