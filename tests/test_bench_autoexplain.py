"""bench.autoexplain sums PostgreSQL's auto_explain log per statement shape: entries as
PostgreSQL 15 wrote them during a drain (log_analyze on, log_timing off)."""

from __future__ import annotations

import pytest

from bench import autoexplain

pytestmark = pytest.mark.database_independent

LOG = """2026-12-07 12:22:43.163 UTC [15995] lead@lead_bench_jobqueue LOG:  duration: 0.014 ms  plan:
\tQuery Text: SELECT 1 FROM jobqueue_job WHERE status IN ('queued', 'scheduled', 'retrying') AND run_after <= '2026-12-07 12:22:43.158786+00:00'::timestamptz AND job_type_id IN (8, 12) LIMIT 1
\tLimit  (cost=0.14..8.16 rows=1 width=4) (actual rows=0 loops=1)
\t  Buffers: shared hit=2
\t  ->  Index Scan using jq_job_due on jobqueue_job  (cost=0.14..8.16 rows=1 width=4) (actual rows=0 loops=1)
\t        Index Cond: (run_after <= '2026-12-07 12:22:43.158786+00'::timestamp with time zone)
\t        Filter: (job_type_id = ANY ('{8,12}'::bigint[]))
\t        Rows Removed by Filter: 41
\t        Buffers: shared hit=2
2026-12-07 12:22:43.166 UTC [15995] lead@lead_bench_jobqueue LOG:  duration: 0.014 ms  plan:
\tQuery Text: SELECT 1 FROM jobqueue_job WHERE status IN ('queued', 'scheduled', 'retrying') AND run_after <= '2026-12-07 12:22:43.164470+00:00'::timestamptz AND job_type_id IN (8, 12) LIMIT 1
\tLimit  (cost=0.14..8.16 rows=1 width=4) (actual rows=0 loops=1)
\t  Buffers: shared hit=3
\t  ->  Index Scan using jq_job_due on jobqueue_job  (cost=0.14..8.16 rows=1 width=4) (actual rows=0 loops=1)
\t        Index Cond: (run_after <= '2026-12-07 12:22:43.16447+00'::timestamp with time zone)
\t        Filter: (job_type_id = ANY ('{8,12}'::bigint[]))
\t        Rows Removed by Filter: 40
\t        Buffers: shared hit=3
2026-12-07 12:22:43.197 UTC [15995] lead@lead_bench_jobqueue LOG:  duration: 0.070 ms  plan:
\tQuery Text: UPDATE jobqueue_job SET started_at = '2026-12-07 12:22:43.196554+00:00'::timestamptz, worker = 'vm:15988', timeout = 600, lease_expires_at = '2026-12-07 12:33:13.196554+00:00'::timestamptz FROM (VALUES ('profile'::varchar)) AS c(cluster), (VALUES ('01a25074d2d173cd8019e7ab8a96598f'::uuid::uuid, 1::integer)) AS v(job_id, attempt) WHERE jobqueue_job.id = v.job_id AND jobqueue_job.attempts = v.attempt AND jobqueue_job.status = 'running' AND jobqueue_job.claimed_by = c.cluster RETURNING id, attempts, payload, max_attempts, progress, cancel_requested_at, priority, job_type_id, trace_context
\tUpdate on jobqueue_job  (cost=0.14..8.16 rows=1 width=300) (actual rows=1 loops=1)
\t  Buffers: shared hit=17
\t  ->  Index Scan using jq_job_status_created on jobqueue_job  (cost=0.14..8.16 rows=1 width=300) (actual rows=1 loops=1)
\t        Index Cond: ((status)::text = 'running'::text)
\t        Filter: ((id = '01a25074-d2d1-73cd-8019-e7ab8a96598f'::uuid) AND (attempts = 1) AND ((claimed_by)::text = 'profile'::text))
\t        Rows Removed by Filter: 20
\t        Buffers: shared hit=2
"""


def test_calls_of_one_statement_are_summed_under_one_shape_with_the_rows_their_scans_discarded() -> None:
    rows = autoexplain.summarize(LOG)
    assert [(calls, round(ms, 3), removed) for _, calls, ms, removed in rows] == [(1, 0.07, 20), (2, 0.028, 81)]
    probe = rows[1][0]
    assert "'" not in probe  # the literals (the time) are folded, so both calls share a shape
    assert "job_type_id IN (N..)" in probe


def test_entries_before_since_are_left_out() -> None:
    rows = autoexplain.summarize(LOG, since="2026-12-07 12:22:43.165")
    assert [(calls, removed) for _, calls, _, removed in rows] == [(1, 20), (1, 40)]
