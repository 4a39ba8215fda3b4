"""`conveyor doctor`: what the local stack looks like, with the exact fix for anything wrong.
Changes nothing.

    run_doctor(print)
    # -> ✓ podman: 4.3.1
    # -> ✗ haproxy: not installed — fix: apt-get install -y haproxy
    # -> …
    # -> ✓ localhost/conveyor/build:latest runtimes: golang 1.19 (1.19.8, default), 1.22 (1.22.12); …

With `--json`, a build image's runtimes line carries them structured under "data" (image,
runtimes: the catalog of build/runtime_catalog.py).
    # -> 1
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from conveyor.errors import ConveyorError
from conveyor.stack.checks import SETUP_FIX, Check, Status, default_checks


def collect(checks: Sequence[tuple[str, Check]]) -> list[Status]:
    """Run every check; a check that cannot even run becomes a failed Status, never a traceback."""
    statuses: list[Status] = []
    for name, check in checks:
        try:
            statuses.extend(check())
        except ConveyorError as exc:
            statuses.append(Status(name, False, str(exc), exc.hint or SETUP_FIX))
    return statuses


def run_doctor(echo: Callable[[str], None], *, as_json: bool = False,
               checks: Sequence[tuple[str, Check]] | None = None) -> int:
    """Print one line per component (or a JSON list of {name, ok, detail, fix}); 0 when all is
    well, 1 when anything is wrong."""
    statuses = collect(default_checks() if checks is None else checks)
    if as_json:
        echo(json.dumps([s.to_json() for s in statuses], indent=2, ensure_ascii=False))
    else:
        for status in statuses:
            echo(status.line())
    return 0 if all(s.ok for s in statuses) else 1
