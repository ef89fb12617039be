"""Seal the secret settings of job type records stored in clear before encryption at rest existed."""

from django.db import migrations


def seal(apps, schema_editor):
    from jobqueue.registry import registry
    from jobqueue.secrets.sealing import seal_settings

    JobType = apps.get_model("jobqueue", "JobType")
    for record in JobType.objects.all():
        if record.name not in registry or not isinstance(record.settings, dict):
            continue
        sealed = seal_settings(registry.get(record.name).settings_model, record.settings)
        if sealed != record.settings:
            JobType.objects.filter(pk=record.pk).update(settings=sealed)


def unseal(apps, schema_editor):
    from jobqueue.secrets.sealing import open_settings

    JobType = apps.get_model("jobqueue", "JobType")
    for record in JobType.objects.all():
        opened = open_settings(record.settings)
        if isinstance(record.settings, dict) and opened != record.settings:
            JobType.objects.filter(pk=record.pk).update(settings=opened)


class Migration(migrations.Migration):

    dependencies = [
        ("jobqueue", "0006_job_fewer_indexes"),
    ]

    operations = [
        migrations.RunPython(seal, unseal, elidable=True),
    ]
