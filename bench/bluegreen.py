"""Blue/green benchmark: CodeDeploy-style releases of the orders-service example (a real daemon,
real pods, real HAProxy) under a constant-rate load on the production listener, counting failed
requests and timing what a release, a rollback and an alarm take.

    python3 bench/bluegreen.py allatonce              # v1 ⇄ v2, 3 runs of >= 20,000 requests at 1,000/s
    python3 bench/bluegreen.py canary                 # TimeBasedCanary 10 % for 5 s
    python3 bench/bluegreen.py linear                 # TimeBasedLinear 25 % every 2 s
    python3 bench/bluegreen.py rollback-canary        # `conveyor rollback` while 10 % is on green
    python3 bench/bluegreen.py rollback-termination   # ... while 100 % is on green, blue still warm
    python3 bench/bluegreen.py detection              # green fails 50 %: first 5xx -> all answers from v1
    python3 bench/bluegreen.py leadtime               # `conveyor demo --yes`: push -> production serves it
    python3 bench/bluegreen.py canary --rate 1500 --requests 30000 --repeat 1

The load part is bench/zero_downtime.py's (conveyor.loadgen, same verdicts); here the action gets
a `marks` dict to note when things happened (the rollback command's start), and the load's
per-request samples are kept to time versions and failures from any instant. Each run writes
bench/results/bluegreen-<scenario>-<YYYY-MM-DD>.json (every run, medians, ranges, targets and
the machine); docs/benchmarks.md summarises them. Needs podman and `conveyor setup`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

# bench/ is on sys.path when run as a script
from engine import machine
from zero_downtime import (
    EXAMPLE,
    IMAGE,
    MAX_LOAD_SECONDS,
    POST_FRACTION,
    POST_PATH,
    RESULTS_DIR,
    ROOT,
    TARGET_LONGEST_GAP_MS,
    TARGET_MIN_REQUESTS,
    VERSION_HEADER,
    _check,
    _free_port,
    _passed,
    _progress,
    build_images,
    rate_targets,
)

from conveyor.loadgen import LoadGenerator, Sample, first_time_all, verdict

TARGET_ROLLBACK_S = 1.0      # the issue: rollback command -> every answer from the old version, < 1 s
TARGET_DETECTION_S = 10.0    # first 5xx -> all traffic back on blue, < 10 s with a 1-second alarm period
TARGET_LEAD_S = 30.0         # commit -> production serving it through the demo pipeline, median < 30 s
TERMINAL = ("Succeeded", "Failed", "Stopped")
HOLD_BEFORE_ROLLBACK = 1.0   # s of production traffic on green before `conveyor rollback`
PHASE_TIMEOUT = 120.0
FIRST_ATTEMPTS = 3

#: Green's 5xx, judged every second: one 5xx in either of the last two 1-s periods stops the
#: release (aws-semantics §8: the typical deployment alarm is Sum >= 5 over 1 of 1 x 60 s).
ALARM = """\
alarms:
  - name: green-5xx
    metric: HTTPCode_Target_5XX_Count
    scope: green
    statistic: Sum
    period: 1
    evaluationPeriods: 2
    datapointsToAlarm: 1
    threshold: 1
    comparisonOperator: GreaterThanOrEqualToThreshold
    treatMissingData: notBreaching
"""
CANARY = "config: {type: TimeBasedCanary, canaryPercentage: 10, canaryInterval: 5s}\n"
LINEAR = "config: {type: TimeBasedLinear, linearPercentage: 25, linearInterval: 2s}\n"
ALL_AT_ONCE = "config: CodeDeployDefault.ECSAllAtOnce\n"
#: The deployment block of each scenario (conveyor.yml, under the service's `deployment:`).
DEPLOYMENTS = {
    "allatonce": ALL_AT_ONCE + "terminationWaitMinutes: 0\n" + ALARM,
    "canary": CANARY + "terminationWaitMinutes: 0\n" + ALARM,
    "linear": LINEAR + "terminationWaitMinutes: 0\n" + ALARM,
    "rollback-canary": "config: {type: TimeBasedCanary, canaryPercentage: 10, canaryInterval: 60s}\n"
                       "terminationWaitMinutes: 0\n" + ALARM,
    "rollback-termination": ALL_AT_ONCE + "terminationWaitMinutes: 60s\n" + ALARM,
    "detection": "config: {type: TimeBasedCanary, canaryPercentage: 10, canaryInterval: 30s}\n"
                 "terminationWaitMinutes: 0\n" + ALARM,
}
FIRST = ALL_AT_ONCE + "terminationWaitMinutes: 0\n"  # v1, before the measured runs


# -- the stack: a daemon of our own and one CODE_DEPLOY service in `production`

class BlueGreenStack:
    """A Conveyor daemon with its own data directory and a production service whose deployment
    controller is CODE_DEPLOY (production and test listeners on free ports).

        with BlueGreenStack() as stack:
            stack.first(images["v1"]); stack.write(DEPLOYMENTS["canary"]); stack.deploy(images["v2"])
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="conveyor-bench-bg-"))
        self.home = self.dir / "home"
        self.port, self.test_port = _free_port(), _free_port()
        self.env = {**os.environ, "CONVEYOR_HOME": str(self.home), "CONVEYOR_PORT": str(_free_port()),
                    "CONVEYOR_REGISTRY_PORT": str(_free_port())}
        self.url = f"http://127.0.0.1:{self.port}/version"  # not /health: the faults apply elsewhere
        taskdef = {"family": "orders", "networkMode": "awsvpc", "containerDefinitions": [{
            "name": "api", "image": "<IMAGE1_NAME>", "essential": True, "stopTimeout": 5, "memory": 256,
            "portMappings": [{"containerPort": 8080}], "environment": [{"name": "PORT", "value": "8080"}]}]}
        (self.dir / "taskdef.json").write_text(json.dumps(taskdef))
        (self.dir / "appspec.yaml").write_text(textwrap.dedent("""\
            version: 0.0
            Resources:
              - TargetService:
                  Type: AWS::ECS::Service
                  Properties:
                    TaskDefinition: <TASK_DEFINITION>
                    LoadBalancerInfo: {ContainerName: api, ContainerPort: 8080}
            """))
        self._client = None
        self.write(FIRST)

    def write(self, deployment: str) -> None:
        (self.dir / "conveyor.yml").write_text(textwrap.dedent(f"""\
            name: bench-bg
            pipeline:
              stages:
                - {{name: Source, actions: [{{name: Source, provider: Git, outputArtifacts: [src]}}]}}
                - {{name: Deploy, actions: [{{name: Deploy, provider: CodeDeployToECS, environment: production,
                                              service: orders, inputArtifacts: [src]}}]}}
            environments:
              production:
                services:
                  orders:
                    taskDefinition: taskdef.json
                    desiredCount: 2
                    loadBalancer:
                      port: {self.port}
                      testPort: {self.test_port}
                      container: api
                      containerPort: 8080
                      deregistrationDelaySeconds: 2
                      healthCheck: {{path: /health, intervalSeconds: 1, healthyThresholdCount: 2}}
                    deployment:
                      controller: CODE_DEPLOY
            """) + textwrap.indent(deployment, " " * 10))

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, capture_output=True,
                              text=True, timeout=600, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"conveyor {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def deploy(self, image: str, *extra: str, check: bool = True) -> dict:
        """`conveyor deploy production orders --image IMAGE` (waits for the end unless --no-wait)."""
        t0 = time.monotonic()
        done = self.cli("deploy", "production", "orders", "--image", image, "--file", str(self.dir / "conveyor.yml"),
                        "--timeout", "5", *extra, check=check)
        return {"seconds": round(time.monotonic() - t0, 3), "exit": done.returncode,
                "output": (done.stdout + done.stderr).strip()[-400:]}

    def first(self, image: str) -> int:
        """The service's first deployment (not measured). Returns how many attempts failed: the
        first deployment of a new service can lose a race with the load balancer's listeners
        (INTERNAL_ERROR "no listener on port N"); a second attempt finds them in place."""
        for attempt in range(FIRST_ATTEMPTS):
            out = self.deploy(image, check=False)
            if self.release()["status"] == "Succeeded":
                return attempt
            print(f"first deployment, attempt {attempt + 1}: {out['output'][-200:]}", flush=True)
            self.wait_idle()
        raise RuntimeError(f"the first deployment did not succeed in {FIRST_ATTEMPTS} attempts: {out}")

    def release(self) -> dict:
        """The newest deployment that is not a rollback's (after a rollback's cleanup ends, `deploy
        status` shows the rollback deployment instead), with its history."""
        latest = next(r for r in self.status()["recent"] if r["creator"] != "codeDeployRollback")
        return self.client.get(f"/api/v1/deployments/{latest['id']}")

    @property
    def client(self):
        from conveyor.cli.client import Client

        if self._client is None:
            self._client = Client.connect(self.home)
        return self._client

    def status(self) -> dict:
        """What `conveyor deploy status production orders --json` prints (read in-process: no
        CLI start per poll while the load runs)."""
        return self.client.get("/api/v1/services/production/orders/deployment")

    def deployment(self) -> dict:
        return self.status()["deployment"]

    def wait_for(self, predicate: Callable[[dict], bool], what: str, timeout: float = PHASE_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.deployment()
            if d and predicate(d):
                return d
            if d and d["status"] in TERMINAL:
                raise RuntimeError(f"deployment {d['id']} ended ({d['status']} {d.get('error_code')}) before {what}")
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")

    def wait_idle(self, timeout: float = PHASE_TIMEOUT) -> None:
        """Until every deployment (a rollback's cleanup of green too) has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r["status"] in TERMINAL for r in self.status()["recent"]):
                return
            time.sleep(0.2)
        raise RuntimeError("deployments still in progress")

    def __enter__(self) -> Self:
        self.cli("up")
        return self

    def __exit__(self, *exc: object) -> None:
        self.cli("down", "--all", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def build_fault_image(name: str, env: str) -> str:
    """One more tiny image on build_images()'s base: FROM base + ENV (APP_VERSION=bad FAULT_RATE=0.5)."""
    ref = f"{IMAGE}:{name}"
    subprocess.run(["podman", "build", "--quiet", "-t", ref, "-f", "-", str(EXAMPLE)],
                   input=f"FROM {IMAGE}:base\nENV {env}\n".encode(), check=True, capture_output=True)
    return ref


# -- the load part: zero_downtime.measure_during, keeping the samples and the action's marks

def measure_release(url: str, action: Callable[[dict], Any], *, rate: float, min_requests: int,
                    settle_before: float = 1.0, settle_after: float = 1.0,
                    **load_kw: Any) -> tuple[dict, list[Sample], float]:
    """Like zero_downtime.measure_during: a load on `url`, `action(marks)` run in this thread after
    `settle_before` s, the load kept `settle_after` s more and until `min_requests` were sent.
    Returns (summary, the samples in arrival order, the action's start as time.monotonic()); marks
    the action noted (time.monotonic() values) are in summary["marks"], in seconds from its start.

        out, samples, a0 = measure_release(url, lambda marks: stack.deploy(v2), rate=1000, min_requests=20_000)
    """
    gen = LoadGenerator(url, rate=rate, duration=MAX_LOAD_SECONDS, version_header=VERSION_HEADER,
                        post_path=POST_PATH, **load_kw)
    marks: dict[str, float] = {}
    gen.start()
    try:
        time.sleep(settle_before)
        a0 = time.monotonic()
        value = action(marks)
        a1 = time.monotonic()
        time.sleep(settle_after)
        while gen.completed < min_requests:
            time.sleep(0.05)
    finally:
        result = gen.stop()
    out = {"load": result.to_json(), "passed": _passed(result, min_requests), "verdict": verdict(result),
           "action": {"result": value, "start_s": round(a0 - result.started_at, 3),
                      "end_s": round(a1 - result.started_at, 3), "seconds": round(a1 - a0, 3)},
           "marks": {k: round(v - a0, 3) for k, v in marks.items()}}
    out["load"]["max_requests"] = min_requests
    return out, gen.samples(), a0


def _since(t: float | None, origin: float) -> float | None:
    return None if t is None else round(t - origin, 3)


def first_answer(samples: list[Sample], version: str, after: float) -> float | None:
    """Arrival of the first 2xx answer from `version` at or after `after`."""
    return next((s.t_end for s in samples if s.ok and s.t_end >= after and s.version == version), None)


def settled_on(samples: list[Sample], version: str, after: float) -> float | None:
    """Arrival of the first answer from which every later one, 2xx or not, carries `version`,
    at or after `after` (loadgen.first_time_all looks at 2xx answers only: a green that answers
    500 is still green). None if the last answer is from another version."""
    answered = [s for s in samples if s.status is not None and s.t_end >= after]
    if not answered or answered[-1].version != version:
        return None
    k = len(answered) - 1
    while k > 0 and answered[k - 1].version == version:
        k -= 1
    return answered[k].t_end


def failures(samples: list[Sample], after: float = 0.0) -> list[Sample]:
    return [s for s in samples if not s.ok and s.t_end >= after]


def _deployment_record(d: dict | None) -> dict | None:
    """What a run keeps of `deploy status --json`: status, timings, rollback, the history."""
    if not d:
        return None
    t0 = d["created_at"]
    return {"id": d["id"], "status": d["status"], "phase": d["phase"], "error_code": d.get("error_code"),
            "error_message": d.get("error_message"), "traffic": d["traffic"], "timings": d.get("timings"),
            "rollbackInfo": d.get("rollbackInfo"),
            "history": [[round(h["at"] - t0, 3), h["message"]] for h in d.get("history", [])]}


# -- scenarios

def _release_runs(args: argparse.Namespace) -> dict:
    """v1 ⇄ v2 under load with the scenario's deployment config: deploy time, first and all new answers."""
    images = build_images()
    runs = []
    with BlueGreenStack() as stack:
        first_failures = stack.first(images["v1"])
        stack.write(DEPLOYMENTS[args.scenario])
        current = "v1"
        for i in range(args.repeat):
            target = "v2" if current == "v1" else "v1"
            image = images[target]
            out, samples, a0 = measure_release(stack.url, lambda marks, image=image: stack.deploy(image, check=False),
                                               rate=args.rate, min_requests=args.requests,
                                               keepalive_fraction=args.keepalive_fraction,
                                               post_fraction=args.post_fraction)
            d = stack.release()
            out.update({"from": current, "to": target, "deployment": _deployment_record(d),
                        "first_new_answer_s": _since(first_answer(samples, target, a0), a0),
                        "version_settled_s": _since(first_time_all(samples, target, a0), a0)})
            stack.wait_idle()
            current = target
            runs.append(out)
            _progress(f"{args.scenario} run {i + 1}/{args.repeat} ({out['from']} -> {out['to']}: {d['status']}, "
                      f"deploy {out['action']['seconds']} s, first {target} {out['first_new_answer_s']} s, "
                      f"all {target} {out['version_settled_s']} s)", out["load"])
    metrics = {"deploy_seconds": [r["action"]["seconds"] for r in runs],
               "server_total_seconds": [r["deployment"]["timings"].get("total") for r in runs],
               "first_new_answer_s": [r["first_new_answer_s"] for r in runs],
               "all_answers_new_version_after_s": [r["version_settled_s"] for r in runs]}
    return _summary(args, runs, metrics, first_failures, {
        "deployment Succeeded (every run)": _check(int(all(r["deployment"]["status"] == "Succeeded" for r in runs)),
                                                   "==", 1)})


def _rollback_runs(args: argparse.Namespace, phase: str) -> dict:
    """v1 -> v2 (--no-wait); once `phase` has production traffic on green, `conveyor rollback`."""
    images = build_images()
    runs = []
    with BlueGreenStack() as stack:
        first_failures = stack.first(images["v1"])
        stack.write(DEPLOYMENTS[args.scenario])

        def release_then_roll_back(marks: dict) -> dict:
            started = stack.deploy(images["v2"], "--no-wait")
            d = stack.wait_for(lambda d: d["phase"] == phase and d["traffic"] > 0, f"{phase} with traffic on green")
            marks["green_serving"] = time.monotonic()
            time.sleep(HOLD_BEFORE_ROLLBACK)
            marks["rollback_command"] = time.monotonic()
            done = stack.cli("rollback", "production", "orders", "--reason", "bench")
            marks["rollback_returned"] = time.monotonic()
            return {"id": d["id"], "deploy": started, "traffic_on_green": d["traffic"],
                    "rollback_output": done.stdout.strip()}

        for i in range(args.repeat):
            out, samples, a0 = measure_release(stack.url, release_then_roll_back, rate=args.rate,
                                               min_requests=args.requests, keepalive_fraction=args.keepalive_fraction,
                                               post_fraction=args.post_fraction)
            t_rb = a0 + out["marks"]["rollback_command"]
            d = stack.client.get(f"/api/v1/deployments/{out['action']['result']['id']}")
            settled = first_time_all(samples, "v1", t_rb)
            last_v2 = max((s.t_end for s in samples if s.ok and s.version == "v2"), default=None)
            out.update({"deployment": _deployment_record(d),
                        "green_answers_before_rollback": sum(1 for s in samples if s.ok and s.version == "v2"
                                                             and s.t_end < t_rb),
                        "version_settled_s": _since(settled, t_rb),  # rollback latency, from the command
                        "last_green_answer_s": _since(last_v2, t_rb),
                        "rollback_command_seconds": round(out["marks"]["rollback_returned"]
                                                          - out["marks"]["rollback_command"], 3),
                        "traffic_restored_seconds": (d.get("rollbackInfo") or {}).get("trafficRestoredSeconds")})
            stack.wait_idle()
            runs.append(out)
            _progress(f"{args.scenario} run {i + 1}/{args.repeat} ({out['action']['result']['traffic_on_green']} % "
                      f"on green, {out['green_answers_before_rollback']} green answers; rollback -> all v1 in "
                      f"{out['version_settled_s']} s, server {out['traffic_restored_seconds']} s)", out["load"])
    metrics = {"rollback_latency_s": [r["version_settled_s"] for r in runs],
               "traffic_restored_seconds": [r["traffic_restored_seconds"] for r in runs],
               "rollback_command_seconds": [r["rollback_command_seconds"] for r in runs],
               "green_answers_before_rollback": [r["green_answers_before_rollback"] for r in runs]}
    latencies = metrics["rollback_latency_s"]
    return _summary(args, runs, metrics, first_failures, {
        "rollback latency: command -> all answers from v1, s (max over runs)":
            _check(max(x if x is not None else float("inf") for x in latencies), "<", TARGET_ROLLBACK_S),
        "green served production before the rollback (min answers over runs)":
            _check(min(metrics["green_answers_before_rollback"]), ">=", 1),
        "deployment Stopped with rollback (every run)":
            _check(int(all(r["deployment"]["status"] == "Stopped" and r["deployment"]["rollbackInfo"] for r in runs)),
                   "==", 1)})


def scenario_allatonce(args: argparse.Namespace) -> dict:
    """CodeDeployDefault.ECSAllAtOnce, v1 ⇄ v2 under load."""
    return _release_runs(args)


def scenario_canary(args: argparse.Namespace) -> dict:
    """TimeBasedCanary 10 % for 5 s, v1 ⇄ v2 under load."""
    return _release_runs(args)


def scenario_linear(args: argparse.Namespace) -> dict:
    """TimeBasedLinear 25 % every 2 s, v1 ⇄ v2 under load."""
    return _release_runs(args)


def scenario_rollback_canary(args: argparse.Namespace) -> dict:
    """`conveyor rollback` during a 10 %-for-60-s canary: latency to all answers from v1."""
    return _rollback_runs(args, "AllowTraffic")


def scenario_rollback_termination(args: argparse.Namespace) -> dict:
    """`conveyor rollback` during the 60-s termination wait (100 % on green, blue warm)."""
    return _rollback_runs(args, "TerminationWait")


def scenario_detection(args: argparse.Namespace) -> dict:
    """A green that fails 50 % of requests (canary 10 % for 30 s): first 5xx -> all answers from v1."""
    images = build_images()
    bad = build_fault_image("bad", "APP_VERSION=bad FAULT_RATE=0.5")
    runs = []
    with BlueGreenStack() as stack:
        first_failures = stack.first(images["v1"])
        stack.write(DEPLOYMENTS["detection"])
        for i in range(args.repeat):
            offset = time.time() - time.monotonic()  # monotonic -> the daemon's wall clock
            out, samples, a0 = measure_release(stack.url, lambda marks: stack.deploy(bad, check=False),
                                               rate=args.rate, min_requests=args.requests,
                                               keepalive_fraction=args.keepalive_fraction,
                                               post_fraction=args.post_fraction)
            status = stack.status()
            d = stack.release()
            failed = failures(samples, a0)
            first_5xx = failed[0].t_end if failed else None
            settled = settled_on(samples, "v1", first_5xx) if first_5xx is not None else None
            last_green = max((s.t_end for s in samples if s.version == "bad"), default=None)
            fired = [h["at"] for a in status.get("alarms", []) for h in a.get("history", [])
                     if h.get("state") == "ALARM" and h["at"] >= d["created_at"]]
            restored = next((h["at"] for h in d.get("history", []) if "back on" in h["message"]), None)
            out.update({"deployment": _deployment_record(d), "failed_requests": len(failed),
                        "failed_statuses": {str(k): sum(1 for s in failed if s.status == k)
                                            for k in {s.status for s in failed}},
                        "first_5xx_s": _since(first_5xx, a0),
                        "last_5xx_after_first_s": _since(failed[-1].t_end, first_5xx) if failed else None,
                        "last_green_answer_after_first_5xx_s": _since(last_green, first_5xx) if failed else None,
                        "detection_to_all_v1_s": _since(settled, first_5xx) if first_5xx is not None else None,
                        "alarm_after_first_5xx_s": (round(min(fired) - offset - first_5xx, 3)
                                                    if fired and first_5xx is not None else None),
                        "traffic_back_after_first_5xx_s": (round(restored - offset - first_5xx, 3)
                                                           if restored and first_5xx is not None else None),
                        "traffic_restored_seconds": (d.get("rollbackInfo") or {}).get("trafficRestoredSeconds")})
            stack.wait_idle()
            runs.append(out)
            _progress(f"detection run {i + 1}/{args.repeat} ({d['status']} {d.get('error_code')}: "
                      f"{out['failed_requests']} failed; first 5xx -> alarm {out['alarm_after_first_5xx_s']} s, "
                      f"-> all v1 {out['detection_to_all_v1_s']} s)", out["load"])
    metrics = {key: [r[key] for r in runs] for key in (
        "detection_to_all_v1_s", "alarm_after_first_5xx_s", "traffic_back_after_first_5xx_s",
        "last_5xx_after_first_s", "failed_requests", "traffic_restored_seconds")}
    metrics["deploy_seconds"] = [r["action"]["seconds"] for r in runs]
    detection = metrics["detection_to_all_v1_s"]
    return _summary(args, runs, metrics, first_failures, {
        "first 5xx -> all answers from v1, s (max over runs)":
            _check(max(x if x is not None else float("inf") for x in detection), "<", TARGET_DETECTION_S),
        "stopped by the alarm and rolled back (every run)":
            _check(int(all(r["deployment"]["error_code"] == "ALARM_ACTIVE" and r["deployment"]["rollbackInfo"]
                           for r in runs)), "==", 1),
        "requests per run (min)": _check(min(r["load"]["total"] for r in runs), ">=", args.requests)},
        expect_failures=True)


def scenario_leadtime(args: argparse.Namespace) -> dict:
    """`conveyor demo --yes` twice per run on a fresh data directory: the first release (cold: no
    production yet) and a second one (warm: a blue/green canary from the first): push -> all
    production answers from the new release, with the breakdown by stage."""
    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-lead-"))
    ports = {"production": _free_port(), "test": _free_port(), "staging": _free_port()}
    example = _example_copy(work / "examples", ports)
    runs = []
    try:
        for i in range(args.repeat):
            home = work / f"home-{i}"
            # The build pushes to the registry `conveyor setup` made plain HTTP for podman (port
            # 5000): a registry on another port would be spoken to over TLS and refuse the push.
            _registry_port_free()
            env = {**{k: v for k, v in os.environ.items() if k != "CONVEYOR_REGISTRY_PORT"},
                   "CONVEYOR_HOME": str(home), "CONVEYOR_PORT": str(_free_port()),
                   "CONVEYOR_EXAMPLES": str(example.parent)}
            try:
                for kind in ("cold", "warm"):
                    run = _demo_run(env, home, work / f"demo-{i}", example, f"lead-{i}-{kind}", ports, args,
                                    load=kind == "warm")
                    run["kind"] = kind
                    runs.append(run)
                    print(f"leadtime run {i + 1}/{args.repeat} {kind}: push -> all production answers from "
                          f"{run['version']} in {run['lead_s']} s (server {run['server_lead_s']} s); stages "
                          + ", ".join(f"{k} {v}" for k, v in run["stages"].items())
                          + (f"; production load {run['load']['total']} requests, {run['load']['failed']} failed"
                             if run.get("load") else ""), flush=True)
            finally:
                subprocess.run([sys.executable, "-m", "conveyor.cli.main", "down", "--all"], env=env,
                               capture_output=True, timeout=300, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out: dict = {"config": {"repeat": args.repeat, "rate": args.rate, "keepalive_fraction": args.keepalive_fraction,
                            "ports": ports}, "median": {}, "range": {}, "runs": runs}
    for kind in ("cold", "warm"):
        mine = [r for r in runs if r["kind"] == kind]
        for key in ("lead_s", "server_lead_s", "demo_command_s", "execution_s"):
            _put(out, f"{kind}_{key}", [r[key] for r in mine])
        for stage in mine[0]["stages"] if mine else ():
            _put(out, f"{kind}_stage_{stage}_s", [r["stages"].get(stage) for r in mine])
        for key, value in (mine[0]["deployment_timings"] if mine else {}).items():
            if isinstance(value, (int, float)):
                _put(out, f"{kind}_deployment_{key}_s", [r["deployment_timings"].get(key) for r in mine])
    warm = [r for r in runs if r["kind"] == "warm"]
    out["targets"] = {
        "warm release: push -> all production answers from it, s (median)":
            _check(out["median"].get("warm_lead_s", float("inf")), "<", TARGET_LEAD_S),
        "first release: push -> all production traffic on it (server), s (median)":
            _check(out["median"].get("cold_server_lead_s", float("inf")), "<", TARGET_LEAD_S),
        "executions Succeeded (every run)": _check(int(all(r["execution_status"] == "Succeeded" for r in runs)),
                                                   "==", 1),
        "failed requests on production during the warm releases (max)":
            _check(max((r["load"]["failed"] for r in warm), default=0), "==", 0)}
    return out


def _registry_port_free() -> None:
    import socket

    from conveyor.registry.uris import DEFAULT_PORT, LOCAL_IP

    with socket.socket() as s:
        if s.connect_ex((LOCAL_IP, DEFAULT_PORT)) == 0:
            raise RuntimeError(f"{LOCAL_IP}:{DEFAULT_PORT} is taken (another Conveyor daemon's registry?): the "
                               "demo's build pushes there; stop it and run leadtime again")


def _example_copy(dest: Path, ports: dict[str, int]) -> Path:
    """examples/orders-service with its three listener ports moved to free ones (the demo reads
    CONVEYOR_EXAMPLES), so that nothing else on 8080/8081/9080 is in the way."""
    copy = dest / "orders-service"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    text = (copy / "conveyor.yml").read_text()
    for old, new in ((r"^(\s+port: )8081\b", ports["staging"]), (r"^(\s+port: )8080\b", ports["production"]),
                     (r"^(\s+testPort: )9080\b", ports["test"])):
        text, n = re.subn(old, rf"\g<1>{new}", text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise RuntimeError(f"examples/orders-service/conveyor.yml: no line matching {old!r}")
    (copy / "conveyor.yml").write_text(text.replace("127.0.0.1:8081", f"127.0.0.1:{ports['staging']}"))
    return copy


def _set_app_version(example: Path, version: str) -> None:
    path = example / "taskdef.json"
    taskdef = json.loads(path.read_text())
    for entry in taskdef["containerDefinitions"][0]["environment"]:
        if entry["name"] == "APP_VERSION":
            entry["value"] = version
    path.write_text(json.dumps(taskdef, indent=2) + "\n")


def _demo_run(env: dict, home: Path, directory: Path, example: Path, version: str, ports: dict,
              args: argparse.Namespace, load: bool) -> dict:
    from conveyor.cli.client import Client

    _set_app_version(example, version)
    url = f"http://127.0.0.1:{ports['production']}/version"
    gen = LoadGenerator(url, rate=args.rate, duration=MAX_LOAD_SECONDS, version_header=VERSION_HEADER,
                        keepalive_fraction=args.keepalive_fraction, post_fraction=args.post_fraction,
                        post_path=POST_PATH) if load else None
    if gen:
        gen.start()
    offset = time.time() - time.monotonic()
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", "demo", "--yes", "--dir", str(directory)],
                              env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        result = gen.stop() if gen else None
    t1 = time.monotonic()
    client = Client.connect(home)
    latest = client.get("/api/v1/executions?pipeline=orders-service&limit=1")[0]
    ex = json.loads(subprocess.run([sys.executable, "-m", "conveyor.cli.main", "status", latest["id"], "--json"],
                                   env=env, capture_output=True, text=True, check=True, timeout=60).stdout)
    d = client.get("/api/v1/services/production/orders/deployment")["deployment"]
    timings = d.get("timings") or {}
    pushed = ex["startedAt"]
    out = {"version": version, "execution": ex["id"], "execution_status": ex["status"], "exit": done.returncode,
           "demo_command_s": round(t1 - t0, 3), "execution_s": ex["duration"],
           "stages": {s["name"]: round(s["endedAt"] - s["startedAt"], 3) if s.get("endedAt") and s.get("startedAt")
                      else None for s in ex["stages"]},
           "stage_starts_s": {s["name"]: round(s["startedAt"] - pushed, 3) if s.get("startedAt") else None
                              for s in ex["stages"]},
           "deployment_status": d["status"], "deployment_timings": timings,
           "server_lead_s": (round(d["created_at"] + timings["allProductionTraffic"] - pushed, 3)
                             if "allProductionTraffic" in timings else None),
           "demo_tail": done.stdout.strip().splitlines()[-12:]}
    out["lead_s"] = out["server_lead_s"]
    if result is not None:
        samples = gen.samples()
        settled = first_time_all(samples, version, 0.0)
        first = first_answer(samples, version, 0.0)
        out["load"] = result.to_json()
        out["load"]["failed_statuses"] = dict(result.status_counts)
        out["verdict"] = verdict(result)
        out["first_answer_s"] = None if first is None else round(first + offset - pushed, 3)
        out["lead_s"] = None if settled is None else round(settled + offset - pushed, 3)
    return out


def _put(out: dict, key: str, values: list) -> None:
    values = [v for v in values if v is not None]
    if values:
        out["median"][key] = round(statistics.median(values), 3)
        out["range"][key] = [min(values), max(values)]


def _summary(args: argparse.Namespace, runs: list[dict], metrics: dict[str, list], first_failures: int,
             extra_targets: dict, expect_failures: bool = False) -> dict:
    """zero_downtime._summary's shape, with the scenario's own measures (median and range)."""
    out: dict = {"config": {"rate": args.rate, "requests": args.requests, "repeat": args.repeat,
                            "keepalive_fraction": args.keepalive_fraction, "post_fraction": args.post_fraction,
                            "post_path": POST_PATH, "deployment": DEPLOYMENTS[args.scenario],
                            "first_deployment_failed_attempts": first_failures},
                 "median": {}, "range": {}, "runs": runs, "verdicts": [r["verdict"] for r in runs]}
    for key in ("total", "failed", "longest_gap_ms", "achieved_rate", "max_lag_ms"):
        _put(out, key, [r["load"][key] for r in runs])
    for key, values in metrics.items():
        _put(out, key, values)
    targets = {} if expect_failures else {
        "failed_requests (max over runs)": _check(max(r["load"]["failed"] for r in runs), "==", 0),
        "longest_gap_ms (max over runs)":
            _check(max(r["load"]["longest_gap_ms"] for r in runs), "<", TARGET_LONGEST_GAP_MS),
        "requests per run (min)": _check(min(r["load"]["total"] for r in runs), ">=", args.requests),
        "failed POSTs (max over runs)": _check(max(r["load"]["failed_by_method"]["POST"] for r in runs), "==", 0),
        **rate_targets(runs)}
    out["targets"] = {**targets, **extra_targets}
    return out


SCENARIOS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "allatonce": scenario_allatonce,
    "canary": scenario_canary,
    "linear": scenario_linear,
    "rollback-canary": scenario_rollback_canary,
    "rollback-termination": scenario_rollback_termination,
    "detection": scenario_detection,
    "leadtime": scenario_leadtime,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    for name, fn in SCENARIOS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").split("\n")[0].replace("%", "%%"))
        p.add_argument("--repeat", type=int, default=3, help="runs; results carry their medians (default 3)")
        p.add_argument("--keepalive-fraction", type=float, default=0.5)
        p.add_argument("--post-fraction", type=float, default=POST_FRACTION,
                       help=f"share of the requests that POST to {POST_PATH} (default {POST_FRACTION})")
        p.add_argument("--output", type=Path, help="default bench/results/bluegreen-<scenario>-<date>.json")
        lead = name == "leadtime"
        p.add_argument("--rate", type=float, default=100.0 if lead else 1000.0,
                       help=f"requests/s on the production listener (default {100 if lead else 1000})")
        p.add_argument("--requests", type=int, default=0 if lead else TARGET_MIN_REQUESTS,
                       help="per run (default 20000; leadtime: the load lasts as long as the demo)")
    args = parser.parse_args(argv)

    began, now = time.time(), datetime.datetime.now(datetime.UTC)
    results = {"benchmark": f"bluegreen-{args.scenario}", "date": now.isoformat(timespec="seconds"),
               "command": " ".join(["python3", "bench/bluegreen.py", *(sys.argv[1:] if argv is None else argv)]),
               "machine": machine(), "load_average_before": [round(x, 2) for x in os.getloadavg()],
               **SCENARIOS[args.scenario](args)}
    results["elapsed_seconds"] = round(time.time() - began, 1)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    output = args.output or RESULTS_DIR / f"bluegreen-{args.scenario}-{now.date().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    for name, check in results.get("targets", {}).items():
        print(f"{'PASS' if check['pass'] else 'FAIL'}  {name}: {check['value']} (target {check['target']})")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
