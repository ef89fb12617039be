"""Attempt.job_type: the job's type copied onto each attempt when it is recorded, so that the
failures view reads a window's failed attempts without one job-table lookup per attempt. A
nullable column without constraint or index: an instant ADD COLUMN on every database (no table
copy on SQLite), nothing more to write per attempt than the value. Older attempts keep null and
readers fall back to their job's type, so nothing is backfilled."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobqueue', '0011_job_type_async_concurrency'),
    ]

    operations = [
        migrations.AddField(
            model_name='attempt',
            name='job_type',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='jobqueue.jobtype'),
        ),
    ]
