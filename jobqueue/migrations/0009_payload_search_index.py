"""A GIN index on Job.payload (PostgreSQL only), so that a payload search (`dao_id=42`) reads the
index (`payload @> ...`) instead of the whole history. SQLite has no index that serves every key:
see jobqueue.observability.search.payload_key_index_sql."""

from django.db import migrations

INDEX = "jq_job_payload_gin"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON jobqueue_job USING gin (payload jsonb_path_ops)")


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("jobqueue", "0008_metric_totals")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
