"""What the fault tests do inside the throwaway database, run as a subprocess with its settings:
`python -m tests.faults.driver enqueue <type> <count> <payload json>` or `... token`."""

from __future__ import annotations

import json
import sys

import django


def main(argv: list[str]) -> None:
    django.setup()
    if argv[0] == "enqueue":
        from jobqueue.services import enqueue_many

        type_name, count, payload = argv[1], int(argv[2]), json.loads(argv[3])
        for start in range(0, count, 500):
            enqueue_many([{"type": type_name, "payload": payload} for _ in range(start, min(count, start + 500))])
    elif argv[0] == "token":
        from django.contrib.auth import get_user_model

        from jobqueue.services.tokens import create_token

        user = get_user_model().objects.create_superuser("faults", password="pw-for-tests-only")
        print(create_token(user, "faults").secret)
    else:
        raise SystemExit(f"unknown action {argv[0]!r}; use enqueue or token")


if __name__ == "__main__":
    main(sys.argv[1:])
