"""Smoke test of a new release through the test listener (a CodeDeploy AfterAllowTestTraffic hook).

Conveyor runs it with CONVEYOR_TEST_URL pointing at the green tasks; on AWS the same checks would
live in the hook's Lambda function. Exit 0 = Succeeded, anything else = Failed (and a rollback).

    CONVEYOR_TEST_URL=http://127.0.0.1:9080/ python3 ci/smoke.py
"""

import json
import os
import sys
import urllib.error
import urllib.request


def check(base: str) -> list[str]:
    problems = []
    for path, status in (("health", 200), ("version", 200), ("orders", 200), ("nope", 404)):
        try:
            with urllib.request.urlopen(base + path, timeout=5) as resp:
                got, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            got, body = exc.code, exc.read()
        if got != status:
            problems.append(f"GET /{path}: {got}, expected {status}")
        elif path == "version":
            print(f"green answers /version with {json.loads(body)}")
    return problems


def main() -> int:
    base = os.environ.get("CONVEYOR_TEST_URL") or "http://127.0.0.1:9080/"
    problems = check(base if base.endswith("/") else base + "/")
    for problem in problems:
        print(problem)
    print("smoke test " + ("failed" if problems else "passed") + f" on {base}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
