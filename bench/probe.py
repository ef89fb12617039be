"""The Django side of one measurement: `python -m bench.probe KIND JSON-ARGS`, one JSON line out.

The harness itself never imports Django: each side needs its own settings module, so every
measurement runs in a fresh process started with the right DJANGO_SETTINGS_MODULE.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

MARKER = "BENCH-RESULT "


def main(argv: list[str]) -> int:
    import django

    django.setup()
    from bench import growth, iobound, memory, ours, priority, profile, race_ours, rawq
    from bench.measure import Incomplete

    kinds: dict[str, Any] = {
        "ours": ours.run,
        "rawq": rawq.run,
        "growth": growth.run,
        "profile": profile.run,
        "io_ours": iobound.run_ours,
        "io_rawq": iobound.run_rawq,
        "priority": priority.run,
        "memory": memory.run,
        "race_ours": race_ours.run,
    }
    kind, args = argv[0], json.loads(argv[1])
    try:
        result = {"ok": True, **kinds[kind](**args)}
    except Incomplete as exc:
        result = {"ok": False, "error": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(MARKER + json.dumps(result, default=str), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
