"""How many AWS API calls a deployment costs Conveyor's AWS backend, against the usual tools for
the same job. No AWS account here: the counts come from the recorded scenarios of the test suite
(botocore Stubber sequences, run through the release service exactly as a deploy runs), and the
polling cost of a deployment of a given length from Conveyor's polling schedule and the
botocore waiters the other tools use.

    python3 bench/aws_calls.py                 # writes bench/results/aws_calls-<date>.json

What is measured (from the tests' call logs): per deployment type, the calls that create it, the
calls one look at it costs while it runs (a poll), and the whole scenario. What is modelled: how
many polls a deployment of 5 and 15 minutes takes — Conveyor asks every 5 s, backing off ×1.5 up
to 15 s while nothing changes and again from 2 s after each change (providers/aws/__init__.py);
the official ECS deploy action (aws-actions/amazon-ecs-deploy-task-definition) waits with
botocore's ServicesStable (DescribeServices every 15 s) or, for CodeDeploy, DeploymentSuccessful
(GetDeployment every 15 s); a CodePipeline ECS or CodeDeployToECS action is driven by AWS itself,
so its calls are not made with the account's credentials (0 from its quotas).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from engine import machine

from conveyor.providers.aws import MAX_POLL_SECONDS, POLL_SECONDS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
AWS_TESTS = ROOT / "tests" / "providers" / "aws"
#: The recorded scenario behind each deployment type (tests/providers/aws).
SCENARIOS = {
    "rolling (ECS UpdateService)":
        "test_release_on_aws.py::test_a_rolling_deployment_is_followed_until_ecs_completes_it",
    "blue/green (CodeDeploy)":
        "test_aws_codedeploy_releases.py::test_a_blue_green_release_succeeds_and_wait_hears_every_phase",
    "ECS-native canary":
        "test_aws_codedeploy_releases.py::test_an_ecs_native_canary_succeeds_through_its_lifecycle_stages",
}
#: The call that creates each kind of deployment, and the one every look at it starts with.
CREATES = {"rolling (ECS UpdateService)": "ecs:UpdateService", "blue/green (CodeDeploy)": "codedeploy:CreateDeployment",
           "ECS-native canary": "ecs:UpdateService"}
LOOKS = {"rolling (ECS UpdateService)": "ecs:DescribeServices", "blue/green (CodeDeploy)": "codedeploy:GetDeployment",
         "ECS-native canary": "ecs:DescribeServiceDeployments"}
FIRST_POLL, MAX_POLL = POLL_SECONDS, MAX_POLL_SECONDS
BACKOFF = 1.5  # release/service.py: ×1.5 while nothing changes
WAITER_DELAY = 15.0  # botocore ServicesStable and DeploymentSuccessful


def recorded() -> dict[str, list[str]]:
    """Run the scenarios with the call log written out; each scenario's calls, in order."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "calls.jsonl"
        env = {**os.environ, "CONVEYOR_AWS_CALLS_OUT": str(out), "PYTHONPATH": str(ROOT / "src")}
        nodes = [str(AWS_TESTS / node) for node in SCENARIOS.values()]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *nodes], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"the recorded scenarios failed:\n{done.stdout}\n{done.stderr}")
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    calls = {}
    for kind, node in SCENARIOS.items():
        name = node.rsplit("::", 1)[1]
        calls[kind] = next(r["calls"] for r in rows if r["test"].endswith(name))
    return calls


def polls(seconds: float, change_every: float) -> int:
    """Polls Conveyor makes over a deployment of `seconds` whose state changes every `change_every`."""
    t, n, interval, next_change = 0.0, 0, FIRST_POLL, change_every
    while t < seconds:
        t += interval
        n += 1
        if t >= next_change:
            interval, next_change = FIRST_POLL, next_change + change_every
        else:
            interval = min(MAX_POLL, interval * BACKOFF)
    return n


def table(calls: dict[str, list[str]]) -> list[dict]:
    rows = []
    for kind, sequence in calls.items():
        made = sequence.index(CREATES[kind]) + 1
        # the answer to create is a first look at the new deployment (part of creating it)
        first_look = sequence.index(LOOKS[kind], made) + 1 if LOOKS[kind] in sequence[made:] else made
        after = sequence[first_look:]
        looks = max(1, after.count(LOOKS[kind]))
        per_poll = len(after) / looks
        row = {"deployment": kind, "scenario_calls": len(sequence), "by_operation": dict(Counter(sequence)),
               "create_calls": first_look, "scenario_polls": looks, "calls_per_poll": round(per_poll, 2)}
        for minutes, change in ((5, 30.0), (15, 60.0)):
            n = polls(minutes * 60, change)
            waiter = int(minutes * 60 // WAITER_DELAY)
            tool_create = 2 if kind.startswith("rolling") else 3  # Register + Update (+ CreateDeployment)
            row[f"conveyor_{minutes}min"] = round(first_look + n * per_poll)
            row[f"ecs_deploy_action_{minutes}min"] = tool_create + waiter
            row[f"codepipeline_{minutes}min"] = 0
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, help="default bench/results/aws_calls-<date>.json")
    args = parser.parse_args(argv)
    rows = table(recorded())
    result = {"benchmark": "aws_calls", "date": datetime.date.today().isoformat(), "machine": machine(),
              "polling": {"first_s": FIRST_POLL, "max_s": MAX_POLL, "backoff": BACKOFF, "waiter_delay_s": WAITER_DELAY},
              "rows": rows}
    out = args.output or RESULTS / f"aws_calls-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'deployment':<28} {'scenario':>8} {'create':>6} {'/poll':>5} | 5 min: conveyor  action  pipeline "
          f"| 15 min: conveyor  action  pipeline")
    for r in rows:
        print(f"{r['deployment']:<28} {r['scenario_calls']:>8} {r['create_calls']:>6} {r['calls_per_poll']:>5} | "
              f"{r['conveyor_5min']:>15} {r['ecs_deploy_action_5min']:>7} {r['codepipeline_5min']:>9} | "
              f"{r['conveyor_15min']:>16} {r['ecs_deploy_action_15min']:>7} {r['codepipeline_15min']:>9}")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
