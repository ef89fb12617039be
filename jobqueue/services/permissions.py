"""Who may enqueue which job type: one permission per type, and built-in types for nobody.

Each registered job type has a permission `jobqueue.enqueue_<type name>` (on the JobType
model's content type), created when job types are synced (`migrate`, `qcluster` start,
`manage.py jobqueue sync`). The API, the admin's "run now" and `manage.py jobqueue enqueue
--as-user` require it in addition to the action's own permission (`jobqueue.add_job`), and so
do a user's re-run of a job and re-queue of a dead letter (`require_again`).
The built-in `jobqueue_*` types (pruning, the metrics rollup, the reclaimer's hooks) are run
by the job queue itself and are refused to everyone, superusers included.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps

from jobqueue.exceptions import ActionRefused
from jobqueue.registry import registry

BUILTIN_PREFIX = "jobqueue_"
CODENAME_PREFIX = "enqueue_"


def is_builtin(type_name: str) -> bool:
    return type_name.startswith(BUILTIN_PREFIX)


def enqueue_permission(type_name: str) -> str:
    """The permission (app_label.codename) that lets a user enqueue jobs of this type."""
    return f"jobqueue.{CODENAME_PREFIX}{type_name}"


def enqueue_refusal(user: Any, type_name: str) -> str | None:
    """Why `user` may not enqueue jobs of `type_name`, or None when they may.

    An unknown type is not refused here: the enqueue itself answers it, naming the known types.
    """
    if is_builtin(type_name):
        return (
            f"the built-in job type {type_name!r} is run by the job queue itself and cannot be enqueued "
            "by hand (by anyone)"
        )
    if type_name not in registry:
        return None
    permission = enqueue_permission(type_name)
    if not user.has_perm(permission):
        return f"enqueueing jobs of type {type_name!r} needs the permission {permission}"
    return None


def require_again(actor: Any, type_name: str, *, payload_edited: bool) -> None:
    """Refuse a user the re-run or re-queue of a job of `type_name` they could not enqueue.

    Running a job again is enqueueing it again, so a user needs the type's own permission besides
    the action's (`rerun_job`, `requeue_deadletter`). A built-in job (a failed prune, a hook) may
    be run again with the payload the job queue wrote, but not with one a user edited. Actors that
    are not users (the CLI, the scheduler, the system) are not checked here.
    """
    if not callable(getattr(actor, "has_perm", None)):
        return
    if is_builtin(type_name):
        if payload_edited:
            raise ActionRefused(
                f"the payload of a built-in {type_name!r} job is written by the job queue and cannot be edited; "
                "re-queue it with its stored payload"
            )
        return
    reason = enqueue_refusal(actor, type_name)
    if reason is not None:
        raise ActionRefused(reason)


def may_run_again(user: Any, type_name: str) -> bool:
    """Whether `user` may re-run or re-queue (with its stored payload) a job of `type_name`;
    the admin offers the action only then."""
    try:
        require_again(user, type_name, payload_edited=False)
    except ActionRefused:
        return False
    return True


def refusals(user: Any, type_names: Iterable[str]) -> dict[str, str]:
    """The refusal of each distinct type name `user` may not enqueue, by name."""
    found = {}
    for name in dict.fromkeys(type_names):
        reason = enqueue_refusal(user, name)
        if reason is not None:
            found[name] = reason
    return found


def ensure_enqueue_permissions(type_names: Iterable[str]) -> list[str]:
    """Create the missing enqueue permissions of these (non built-in) types; return the new codenames."""
    if not apps.is_installed("django.contrib.auth"):
        return []
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from jobqueue.models import JobType

    wanted = {f"{CODENAME_PREFIX}{name}": name for name in type_names if not is_builtin(name)}
    if not wanted:
        return []
    # As Django's own create_permissions does: after a flush the cached content type ids are stale.
    ContentType.objects.clear_cache()
    content_type = ContentType.objects.get_for_model(JobType)
    existing = set(
        Permission.objects.filter(content_type=content_type, codename__in=wanted).values_list("codename", flat=True)
    )
    missing = [codename for codename in wanted if codename not in existing]
    Permission.objects.bulk_create(
        [
            Permission(content_type=content_type, codename=codename, name=f"Can enqueue {wanted[codename]} jobs")
            for codename in missing
        ],
        ignore_conflicts=True,  # another process syncing at the same moment
    )
    return missing
