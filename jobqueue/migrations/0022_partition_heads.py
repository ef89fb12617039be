"""The partitioned claim reads each partition value's head (issue 23).

- `PartitionTurn` becomes the set of values that may have waiting work: `served_at` NULL means
  no turn (the value had nothing left), `fills` counts the enqueues into the value (the claim
  clears a turn only if no enqueue came since it looked).
- jq_job_partition_head: a value's waiting jobs in claim order, so its head is one descent.
  MariaDB / MySQL have no partial indexes: jq_job_partition_head_gen over the claim_rank
  generated column (migration 0010) serves the same probe there.
- jq_job_partition_live: whether a value has a running or blocked job (one that may wait
  again without an enqueue), read only for values whose probe found no head.
- The values of the jobs already waiting, running or blocked get a row (never served), so
  that they have a turn from the first claim on. The empty value is left out (it is every
  unpartitioned job's); a partitioned type's jobs of value "" get their turn at their
  value's next enqueue, or are claimed by the claim's fallback (the first ready job in claim
  order, when no probed value has a head) meanwhile.
"""

from datetime import UTC, datetime
from typing import Any

from django.db import migrations, models

NEVER_SERVED = datetime(2000, 1, 1, tzinfo=UTC)
LIVE = ["queued", "scheduled", "retrying", "running", "blocked"]


def _head_index_on_mysql(forward: bool) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "mysql":
            schema_editor.execute(
                "CREATE INDEX jq_job_partition_head_gen ON jobqueue_job "
                "(job_type_id, partition_key, claim_rank, run_after)"
                if forward
                else "DROP INDEX jq_job_partition_head_gen ON jobqueue_job"
            )

    return run


def _fill_turns(apps: Any, schema_editor: Any) -> None:
    Job = apps.get_model("jobqueue", "Job")
    PartitionTurn = apps.get_model("jobqueue", "PartitionTurn")
    values = (
        Job.objects.filter(status__in=LIVE).exclude(partition_key="").values_list("job_type_id", "partition_key").distinct()
    )
    PartitionTurn.objects.bulk_create(
        [PartitionTurn(job_type_id=t, partition_key=k, served_at=NEVER_SERVED, fills=1) for t, k in values.iterator()],
        batch_size=500,
        ignore_conflicts=True,
    )



class Migration(migrations.Migration):

    dependencies = [
        ('jobqueue', '0021_job_finished_index_partial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='partitionturn',
            name='jq_partition_turn_served',
        ),
        migrations.AddField(
            model_name='partitionturn',
            name='fills',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='partitionturn',
            name='served_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('status__in', ['queued', 'scheduled', 'retrying'])), fields=['job_type', 'partition_key', '-priority', 'run_after', 'id'], name='jq_job_partition_head'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('status__in', ['running', 'blocked'])), fields=['job_type', 'partition_key', 'status'], name='jq_job_partition_live'),
        ),
        migrations.AddIndex(
            model_name='partitionturn',
            index=models.Index(condition=models.Q(('served_at__isnull', False)), fields=['served_at', 'id'], name='jq_partition_turn_order'),
        ),
        migrations.RunPython(_head_index_on_mysql(True), _head_index_on_mysql(False), atomic=False, elidable=False),
        migrations.RunPython(_fill_turns, migrations.RunPython.noop, elidable=False),
    ]
