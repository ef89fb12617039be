"""jq_job_finished covers finished jobs only: a job writes to it once, when it finishes.

Retention reads finished jobs past a cutoff (`finished_at < ...`) and the rollup those of a
window (`finished_at >= ... AND finished_at < ...`): both imply `finished_at IS NOT NULL`, so
both can still use it (EXPLAIN in docs/performance.md). A waiting or running job (NULL
`finished_at`) no longer adds an entry at its insert, claim and start. MariaDB has no partial
indexes: Django builds it over every row there, as before.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobqueue", "0020_partitions"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="job",
            name="jq_job_finished",
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", False)), fields=["finished_at"], name="jq_job_finished"
            ),
        ),
    ]
