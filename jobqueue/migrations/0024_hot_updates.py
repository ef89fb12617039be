"""A worker's start and a lease's renewal no longer write to every index of the job table.

They set `lease_expires_at` (with `started_at`, `worker`, `timeout`), which only `jq_job_lease`
indexed, so each such update added an entry to each of the table's indexes. The reclaimer
reads running jobs through `jq_job_running_type` instead (as many rows as jobs in flight).
On PostgreSQL the table also keeps a fifth of each page free (`fillfactor` 80), so that these
updates can stay on their page without any index entry (a heap-only update).
"""

from django.db import migrations


def _fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE jobqueue_job SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("jobqueue", "0023_dependency_newest"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="job", name="jq_job_lease"),
        migrations.RunPython(_fillfactor(80), _fillfactor(100)),
    ]
