"""`manage.py jobqueue <action>`: status, enqueue, requeue, sync, rotate-key, the demo login and API tokens."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobqueue.exceptions import InvalidStateError, PayloadValidationError, UnknownJobTypeError


class Command(BaseCommand):
    help = "Operate the job queue: status, enqueue, requeue, prune, sync, rotate-key, demo-user, token."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("status", help="job counts by type and status, and unresolved dead letters")
        enqueue = actions.add_parser("enqueue", help="enqueue one job of a registered type")
        enqueue.add_argument("type", help="job type name")
        enqueue.add_argument("payload", nargs="?", default="{}", help="payload as a JSON object")
        enqueue.add_argument("--priority", type=int)
        enqueue.add_argument("--delay", type=float, help="seconds to wait before running")
        enqueue.add_argument(
            "--as-user",
            metavar="USERNAME",
            help="enqueue as this user, with the API's checks: jobqueue.add_job, jobqueue.enqueue_<type>, "
            "no built-in jobqueue_* type (without it: shell access is trusted and nothing is checked)",
        )
        requeue = actions.add_parser("requeue", help="re-queue dead letters")
        requeue.add_argument("ids", nargs="*", help="dead letter ids")
        requeue.add_argument("--type", dest="type_name", help="every unresolved dead letter of this type")
        requeue.add_argument("--reason", default="re-queued from the command line")
        actions.add_parser("sync", help="mirror the registered job types into their records")
        actions.add_parser("prune", help="delete finished jobs past their type's retention now")
        actions.add_parser(
            "rotate-key", help="re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS"
        )
        actions.add_parser("demo-user", help="create (or reset) the demo admin login and print it")
        token = actions.add_parser("token", help="create, revoke or list REST API tokens")
        token_actions = token.add_subparsers(dest="verb", required=True)
        create = token_actions.add_parser("create", help="issue a token; its secret is printed once")
        create.add_argument("--user", required=True, help="username the token acts as")
        create.add_argument("--name", default="cli", help="what the token is for")
        create.add_argument("--expires-days", type=float, help="expire after this many days (default: never)")
        revoke = token_actions.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")
        token_actions.add_parser("list", help="every token: prefix, user, name, last use, state")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        handler = getattr(self, f"do_{action.replace('-', '_')}")
        handler(**options)

    def do_status(self, **options: Any) -> None:
        from jobqueue.models import DeadLetter, Job

        counts = Counter(Job.objects.values_list("job_type__name", "status"))
        if not counts:
            self.stdout.write("no jobs")
        for (type_name, status), count in sorted(counts.items()):
            self.stdout.write(f"{type_name:32} {status:10} {count}")
        self.stdout.write(f"unresolved dead letters: {DeadLetter.objects.unresolved().count()}")

    def do_enqueue(
        self, *, type: str, payload: str, priority: int | None, delay: float | None, as_user: str | None, **options: Any
    ) -> None:
        from jobqueue.services import enqueue

        created_by = "cli" if as_user is None else f"cli:{self._check_enqueue(as_user, type)}"
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise CommandError(f"payload is not valid JSON: {exc}") from None
        try:
            job = enqueue(type, data, priority=priority, delay=delay, created_by=created_by)
        except (PayloadValidationError, UnknownJobTypeError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"enqueued {job.pk} ({job.status})")

    def _check_enqueue(self, username: str, type_name: str) -> str:
        """The API's rules for `username`; returns the actor label, or exits naming what is missing."""
        from django.contrib.auth import get_user_model

        from jobqueue.services.audit import actor_label
        from jobqueue.services.permissions import enqueue_refusal

        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        if not user.has_perm("jobqueue.add_job"):
            raise CommandError(f"user {username!r} lacks the permission jobqueue.add_job")
        refusal = enqueue_refusal(user, type_name)
        if refusal is not None:
            raise CommandError(f"user {username!r} may not enqueue: {refusal}")
        return actor_label(user)

    def do_requeue(self, *, ids: list[str], type_name: str | None, reason: str, **options: Any) -> None:
        from django.core.exceptions import ValidationError

        from jobqueue.models import DeadLetter
        from jobqueue.services import requeue_dead_letter

        if not ids and not type_name:
            raise CommandError("name dead letter ids, or --type NAME for all unresolved ones of a type")
        dead_letters = DeadLetter.objects.unresolved()
        try:
            dead_letters = dead_letters.filter(pk__in=ids) if ids else dead_letters.filter(job_type__name=type_name)
            chosen = list(dead_letters)
        except ValidationError as exc:
            raise CommandError(f"not a dead letter id: {exc.messages[0]}") from None
        failures = 0
        for dead_letter in chosen:
            try:
                job = requeue_dead_letter(dead_letter, by="cli", reason=reason)
                self.stdout.write(f"{dead_letter.pk} -> {job.pk}")
            except (InvalidStateError, PayloadValidationError) as exc:
                failures += 1
                self.stderr.write(f"{dead_letter.pk}: {exc}")
        self.stdout.write(f"re-queued {len(chosen) - failures} of {len(chosen)}")
        if failures:
            raise CommandError(f"{failures} dead letter(s) could not be re-queued")

    def do_prune(self, **options: Any) -> None:
        from jobqueue.services import prune

        report = prune()
        more = "" if report.complete else " (more remain: run again)"
        self.stdout.write(f"deleted {report.jobs} finished jobs and {report.housekeeping} housekeeping rows{more}")

    def do_sync(self, **options: Any) -> None:
        from jobqueue.services import sync_job_types

        report = sync_job_types()
        self.stdout.write(f"created: {report.created} updated: {report.updated} unregistered: {report.orphaned}")

    def do_rotate_key(self, **options: Any) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from jobqueue.services.encryption import rotate_key

        try:
            report = rotate_key()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for label, count in report.columns.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
        self.stdout.write(f"job type settings: {len(report.job_types)} re-encrypted {report.job_types}")
        if report.failures:
            for failure in report.failures:
                self.stderr.write(f"cannot decrypt {failure}")
            raise CommandError(
                f"{len(report.failures)} stored secret(s) could not be decrypted with any key of "
                "FIELD_ENCRYPTION_KEYS: add the key that encrypted them (after the current one) and run "
                "rotate-key again, or set those secrets anew"
            )

    def do_token(self, *, verb: str, **options: Any) -> None:
        from datetime import timedelta

        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from jobqueue.models import ApiToken
        from jobqueue.services.tokens import create_token, revoke_token

        if verb == "create":
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}; create it first (e.g. manage.py createsuperuser)")
            days = options["expires_days"]
            expires = timezone.now() + timedelta(days=days) if days else None
            issued = create_token(user, options["name"], expires_at=expires, by="cli")
            self.stderr.write(f"token {issued.token.prefix} for {user}: copy it now, it is not shown again")
            self.stdout.write(issued.secret)
        elif verb == "revoke":
            token = ApiToken.objects.filter(prefix=options["prefix"]).first()
            if token is None:
                raise CommandError(f"no token with prefix {options['prefix']!r}; see `manage.py jobqueue token list`")
            try:
                revoke_token(token, by="cli")
            except InvalidStateError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"revoked {token.prefix}")
        else:
            for token in ApiToken.objects.select_related("user"):
                state = "revoked" if token.revoked_at else "active"
                last = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(f"{token.prefix}  {token.user}  {token.name}  last used {last}  {state}")

    def do_demo_user(self, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        password = secrets.token_urlsafe(12)
        user, _ = user_model.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"demo login: username demo, password {password}")
