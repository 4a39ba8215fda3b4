"""Fault suite, part 1: kill -9 of the daemon at random moments of the demo pipeline, under a
constant load on production, and what must hold after each execution.

    python3 bench/chaos.py kills                      # 50 kills: 10 executions x 5 (~12 min)
    python3 bench/chaos.py kills --kills 20 --seed 7  # another draw
    python3 bench/chaos.py kills --quick              # 5 kills, 1 execution (~3 min)
    python3 bench/chaos.py faults                     # the faults of bench/chaos_faults.py
    python3 bench/chaos.py faults --only hook-timeout,podman-start --repeat 3

The stack is the demo's (`conveyor demo --yes` once, on a copy of examples/orders-service whose
listener ports are moved to free ones): Source -> Build (unit tests, image, push to the local
registry) -> DeployStaging (ECS rolling) -> Approval -> DeployProduction (CodeDeployToECS: a 10 %
canary for 3 s, a smoke-test hook, a 3-s termination wait). Then, for each execution, a commit
with a new APP_VERSION is pushed; the post-receive hook starts the execution.

Each execution gets one kill per phase (build, staging, approval, canary, termination), each at a
moment drawn at random within the phase: the phase is waited for, then a delay uniform in
[0, PHASE_DELAY[phase]] (the phase's typical length), then `kill -9` of the daemon, then
`conveyor up`. The driver approves once the approval's kill is done. The seed of the draw is
printed and kept in the results. A phase already over when its turn comes (a recovery took it
past) is killed at once and recorded as missed, with the state actually seen at the kill.

What must hold after every execution (checked from the daemon's own stores and podman):
- the execution Succeeded, and the push started exactly one execution;
- one deployment per (execution, action): ECS deployments on staging and CodeDeploy deployments
  on production whose client token (the idempotency key EXECUTION/STAGE/ACTION/N) names it;
- no orphan: every running task container of this data directory belongs to a task its store
  holds RUNNING, tasks RUNNING are what the services want (2 + 2), and no build container
  of the execution is left; the time for that to settle is recorded;
- the load on production (open loop, half POSTs, conveyor.loadgen) failed no request, and the
  generator kept its rate (else the run says "generator behind: not clean").

Needs podman, HAProxy, docker-registry and `conveyor setup`, and the registry port 5000 free (the
demo's build pushes there). Hold /tmp/conveyor-heavy.lock while it runs. Results:
bench/results/chaos-kills-<date>.json, chaos-faults-<date>.json; docs/benchmarks.md summarises.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/ is on sys.path when run as a script
from bluegreen import _example_copy, _registry_port_free, _set_app_version
from chaos_load import ChaosLoad, window
from engine import machine
from zero_downtime import POST_FRACTION, RESULTS_DIR, ROOT, _free_port

PHASES = ("build", "staging", "approval", "canary", "termination")
#: Upper bound of the random delay after a phase is seen (s): about the phase's length here.
PHASE_DELAY = {"build": 4.0, "staging": 5.0, "approval": 2.0, "canary": 2.5, "termination": 2.5}
DEPLOY_PHASES = ("Created", "Start", "BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic",
                 "AfterAllowTestTraffic", "ReadyWait", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic",
                 "TerminationWait", "Terminate", "End")
TERMINAL = ("Succeeded", "Failed", "Stopped", "Superseded")
EXECUTION_TIMEOUT = 300.0
SETTLE_TIMEOUT = 60.0
DESIRED_TASKS = {("staging", "orders"): 2, ("production", "orders"): 2}
GIT_ENV = {"GIT_AUTHOR_NAME": "Chaos", "GIT_AUTHOR_EMAIL": "chaos@conveyor.local",
           "GIT_COMMITTER_NAME": "Chaos", "GIT_COMMITTER_EMAIL": "chaos@conveyor.local"}


# -- one data directory's daemon, seen from outside (CLI, API, pid)

class Daemon:
    """The daemon of `home`, driven as a user would: the CLI for up/down, the API for the rest."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"conveyor {' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done

    def api(self, method: str, path: str, body: dict | None = None, wait: float = 60.0) -> Any:
        """One API call; while the daemon is down or starting, tried again until `wait` s passed."""
        from conveyor.cli.client import Client
        from conveyor.errors import DaemonUnreachable

        deadline = time.monotonic() + wait
        while True:
            try:
                client = Client.connect(self.home)
                return client.get(path) if method == "GET" else client.post(path, body)
            except DaemonUnreachable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def pid(self) -> int:
        return int((self.home / "daemon.pid").read_text())

    def kill9(self) -> float:
        """SIGKILL the daemon; seconds until it is gone."""
        pid, t0 = self.pid(), time.monotonic()
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            if time.monotonic() - t0 > 10:
                raise RuntimeError(f"daemon {pid} still alive 10 s after SIGKILL")
            time.sleep(0.01)
        return time.monotonic() - t0

    def up(self) -> float:
        """`conveyor up`; seconds until it returned (the daemon answers)."""
        t0 = time.monotonic()
        self.cli("up", timeout=120)
        return time.monotonic() - t0

    def execution(self, ex_id: str) -> dict:
        return self.api("GET", f"/api/v1/executions/{ex_id}")

    def deployment(self, environment: str = "production", service: str = "orders") -> dict | None:
        return self.api("GET", f"/api/v1/services/{environment}/{service}/deployment").get("deployment")

    def down_all(self) -> None:
        self.cli("down", "--all", check=False, timeout=300)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except OSError:
        return False
    return state != "Z"


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV},
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


# -- the demo stack

class DemoStack:
    """A data directory, its daemon, the demo's origin + clone, and the first release in production."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.ports = {"production": _free_port(), "test": _free_port(), "staging": _free_port()}
        self.example = _example_copy(work / "examples", self.ports)
        self.home = work / "home"
        env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_REGISTRY_PORT"}
        env.update({"CONVEYOR_HOME": str(self.home), "CONVEYOR_PORT": str(_free_port()),
                    "CONVEYOR_EXAMPLES": str(self.example.parent), **GIT_ENV})
        self.daemon = Daemon(self.home, env)
        self.clone = work / "demo" / "orders-service"
        self.production_url = f"http://127.0.0.1:{self.ports['production']}/version"
        self.staging_url = f"http://127.0.0.1:{self.ports['staging']}/version"

    def start(self) -> dict:
        """`conveyor demo --yes`: the origin with its hook, the clone, the first release to production."""
        _registry_port_free()
        _set_app_version(self.example, "chaos-0")
        t0 = time.monotonic()
        done = self.daemon.cli("demo", "--yes", "--dir", str(self.work / "demo"), check=False, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"conveyor demo failed: {done.stdout[-2000:]}{done.stderr[-1000:]}")
        return {"seconds": round(time.monotonic() - t0, 1)}

    def push(self, version: str, extra_env: dict[str, str] | None = None) -> tuple[str, float]:
        """A commit with APP_VERSION=version (and extra container environment), pushed: (commit, wall time)."""
        path = self.clone / "taskdef.json"
        taskdef = json.loads(path.read_text())
        env = taskdef["containerDefinitions"][0]["environment"]
        env[:] = [e for e in env if e["name"] not in (extra_env or {})]
        for entry in env:
            if entry["name"] == "APP_VERSION":
                entry["value"] = version
        env += [{"name": k, "value": v} for k, v in (extra_env or {}).items()]
        path.write_text(json.dumps(taskdef, indent=2) + "\n")
        git("commit", "--quiet", "-am", f"chaos: {version}", cwd=self.clone)
        commit = git("rev-parse", "HEAD", cwd=self.clone)
        pushed_at = time.time()
        git("push", "--quiet", "origin", "main", cwd=self.clone)
        return commit, pushed_at

    def executions_for(self, commit: str) -> list[dict]:
        rows = self.daemon.api("GET", "/api/v1/executions?pipeline=orders-service&limit=50")
        return [e for e in rows if e.get("commit") == commit or (e.get("trigger") or {}).get("after") == commit]

    def wait_execution(self, commit: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.executions_for(commit)
            if found:
                return found[0]
            time.sleep(0.2)
        raise RuntimeError(f"the push of {commit[:7]} started no execution within {timeout:g} s")

    def stop(self) -> None:
        self.daemon.down_all()


# -- where an execution is

def stage_status(ex: dict, name: str) -> str | None:
    return next((s.get("status") for s in ex["stages"] if s["name"] == name), None)


def where(stack: DemoStack, ex_id: str, since: float) -> dict:
    """The execution's status, each stage's, and the production deployment's phase (if created
    for this execution, i.e. after `since`, wall time)."""
    ex = stack.daemon.execution(ex_id)
    seen = {"status": ex["status"], "awaiting": bool(ex.get("awaitingApproval")),
            "stages": {s["name"]: s.get("status") for s in ex["stages"]}}
    if stage_status(ex, "DeployProduction") not in (None, "NotStarted", "Pending"):
        d = stack.daemon.deployment()
        if d and d["created_at"] >= since:
            seen["deployment"] = {"id": d["id"], "phase": d["phase"], "traffic": d["traffic"], "status": d["status"]}
    return seen


def _phase_index(seen: dict) -> int:
    d = seen.get("deployment")
    return DEPLOY_PHASES.index(d["phase"]) if d and d["phase"] in DEPLOY_PHASES else -1


def reached(phase: str, seen: dict) -> str:
    """'now' if the execution is in `phase`, 'past' if it went beyond, 'not yet' otherwise."""
    st = seen["stages"]
    if seen["status"] in TERMINAL:
        return "past"
    if phase == "build":
        return {"InProgress": "now", "Succeeded": "past"}.get(st.get("Build") or "", "not yet")
    if phase == "staging":
        return {"InProgress": "now", "Succeeded": "past"}.get(st.get("DeployStaging") or "", "not yet")
    if phase == "approval":
        if seen["awaiting"]:
            return "now"
        return "past" if st.get("Approval") == "Succeeded" else "not yet"
    i = _phase_index(seen)
    target = DEPLOY_PHASES.index("AllowTraffic" if phase == "canary" else "TerminationWait")
    if st.get("DeployProduction") == "Succeeded" or i > target:
        return "past"
    if phase == "canary" and i == target and seen["deployment"]["traffic"] > 0:
        return "now"
    return "now" if phase == "termination" and i == target else "not yet"


def label(seen: dict) -> str:
    """The phase a kill landed in, from what was seen just before it."""
    st, d = seen["stages"], seen.get("deployment")
    if seen["status"] in TERMINAL:
        return f"after the end ({seen['status']})"
    if st.get("DeployProduction") == "InProgress":
        return f"production {d['phase']} ({d['traffic']} % on green)" if d else "production (no deployment yet)"
    if seen["awaiting"]:
        return "approval (waiting)"
    for name in ("Source", "Build", "DeployStaging", "Approval"):
        if st.get(name) == "InProgress":
            return name
    return "between stages"


# -- one execution under kills

def run_execution(stack: DemoStack, index: int, phases: list[str], rng: random.Random, log: Callable) -> dict:
    version = f"chaos-{index}"
    commit, pushed_at = stack.push(version)
    ex = stack.wait_execution(commit)
    ex_id, kills, approved = ex["id"], [], False
    log(f"execution {index}: {ex_id[:8]} ({commit[:7]}, {version}); kills planned in {', '.join(phases)}")

    def approve_if_waiting(seen: dict) -> bool:
        if seen["awaiting"]:
            stack.daemon.api("POST", f"/api/v1/executions/{ex_id}/approval",
                             {"decision": "Approved", "comment": "chaos: approved", "by": "chaos"})
            return True
        return False

    for phase in phases:
        delay = rng.uniform(0.0, PHASE_DELAY[phase])
        deadline = time.monotonic() + EXECUTION_TIMEOUT
        while True:
            seen = where(stack, ex_id, pushed_at - 1)
            state = reached(phase, seen)
            if state != "not yet":
                break
            if phase != "approval" and "approval" not in phases[phases.index(phase):] and not approved:
                approved = approve_if_waiting(seen)
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {ex_id}: phase {phase} not reached in {EXECUTION_TIMEOUT:g} s: {seen}")
            time.sleep(0.05)
        missed = state == "past"
        if not missed:
            time.sleep(delay)
        before = where(stack, ex_id, pushed_at - 1)
        t_kill = time.time()
        dead_s = stack.daemon.kill9()
        up_s = stack.daemon.up()
        kill = {"phase": phase, "delay_s": round(delay, 3), "missed": missed, "landed_in": label(before),
                "at": round(t_kill - pushed_at, 3), "wall": t_kill, "dead_after_s": round(dead_s, 3),
                "up_s": round(up_s, 3)}
        kills.append(kill)
        log(f"  kill {len(kills)}/{len(phases)} in {phase}{' (missed: already past)' if missed else ''}: "
            f"landed in {kill['landed_in']} at {kill['at']:.1f} s; up again in {up_s:.1f} s")
        if phase == "approval" and not approved:
            seen = where(stack, ex_id, pushed_at - 1)
            deadline = time.monotonic() + 60
            while not seen["awaiting"] and seen["status"] not in TERMINAL and time.monotonic() < deadline:
                time.sleep(0.1)
                seen = where(stack, ex_id, pushed_at - 1)
            approved = approve_if_waiting(seen)

    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while True:
        ex = stack.daemon.execution(ex_id)
        if ex["status"] in TERMINAL:
            break
        if ex.get("awaitingApproval") and not approved:
            approved = approve_if_waiting({"awaiting": True})
        if time.monotonic() > deadline:
            raise RuntimeError(f"execution {ex_id} not finished after {EXECUTION_TIMEOUT:g} s: {ex['status']}")
        time.sleep(0.2)
    ended_at = time.time()
    checks = check_execution(stack, ex_id, commit, version)
    out = {"index": index, "execution": ex_id, "commit": commit, "version": version, "status": ex["status"],
           "duration_s": ex.get("duration"), "pushed_at": pushed_at, "ended_at": ended_at, "kills": kills,
           "attempts": {f"{s['name']}.{a['name']}": a.get("attempt") for s in ex["stages"] for a in s["actions"]},
           **checks}
    log(f"  -> {ex['status']} in {ex.get('duration') or 0:.1f} s; deployments per action {checks['deployments']}; "
        f"orphans {len(checks['orphans'])} (settled in {checks['settle_s']} s); executions for the push "
        f"{checks['executions_for_push']}")
    return out


# -- invariants

def check_execution(stack: DemoStack, ex_id: str, commit: str, version: str) -> dict:
    """Duplicate deployments, orphans (after the services settle), lost or doubled executions,
    and what production serves."""
    t0 = time.monotonic()
    deadline = t0 + SETTLE_TIMEOUT
    while True:
        orphans, running = orphans_now(stack.home, ex_id)
        d = stack.daemon.deployment()
        idle = d is None or d["status"] in TERMINAL
        if (idle and not orphans and running == DESIRED_TASKS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    settle = round(time.monotonic() - t0, 2)
    return {"deployments": deployments_for(stack.home, ex_id), "orphans": orphans, "running_tasks":
            {f"{e}/{s}": n for (e, s), n in running.items()}, "settle_s": settle,
            "settled": not orphans and running == DESIRED_TASKS,
            "executions_for_push": len(stack.executions_for(commit)),
            "production_serves": _version_of(stack.production_url)}


def _db(home: Path, name: str) -> Path | None:
    found = sorted(home.rglob(name))
    return found[0] if found else None


def deployments_for(home: Path, ex_id: str) -> dict[str, int]:
    """Deployments whose idempotency key names this execution, per stage/action (want 1 each)."""
    counts: dict[str, int] = {}
    for name, table in (("services.db", "deployments"), ("codedeploy.db", "cd_deployments")):
        path = _db(home, name)
        if path is None:
            continue
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            for (token,) in db.execute(f"SELECT client_token FROM {table} WHERE client_token LIKE ?",  # noqa: S608
                                       (f"{ex_id}/%",)):
                key = "/".join(token.split("/")[1:3])
                counts[key] = counts.get(key, 0) + 1
    return counts


def orphans_now(home: Path, ex_id: str) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Running containers of this data directory that no RUNNING task of its store owns, and any
    container left by the execution's actions; and RUNNING tasks per service."""
    from conveyor.providers.local.ecs.tasks import LABEL_HOME, LABEL_TASK, home_label

    out = subprocess.run(["podman", "ps", "--all", "--format", "json", "--filter",
                          f"label={LABEL_HOME}={home_label(home)}"], capture_output=True, text=True, check=False)
    containers = json.loads(out.stdout or "[]")
    path = _db(home, "services.db")
    running: dict[tuple[str, str], int] = {}
    live: set[str] = set()
    if path is not None:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            for task_id, env, svc in db.execute("SELECT id, environment, service FROM tasks "
                                                "WHERE last_status = 'RUNNING'"):
                live.add(task_id)
                running[env, svc] = running.get((env, svc), 0) + 1
    orphans = [f"{c['Names'][0]} (task {(c.get('Labels') or {}).get(LABEL_TASK)}, {c.get('State')})"
               for c in containers if c.get("State") == "running"
               and (c.get("Labels") or {}).get(LABEL_TASK) not in live]
    for kind in ("conveyor.run", "conveyor.build"):  # Command and CodeBuild containers, named by run directory
        names = subprocess.run(["podman", "ps", "--all", "--format", "{{.Names}}", "--filter", f"label={kind}"],
                               capture_output=True, text=True, check=False).stdout.split()
        orphans += [f"{n} (action container)" for n in names if ex_id in n]
    return orphans, running


def _version_of(url: str) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read()).get("version")
    except (OSError, ValueError):
        return None


# -- the kills scenario

def plan(kills: int, rng: random.Random, per_execution: int = len(PHASES)) -> list[list[str]]:
    """Kill phases per execution: every phase once per execution (in pipeline order), the last
    execution a random subset when `kills` is not a multiple."""
    executions = math.ceil(kills / per_execution)
    out = []
    for i in range(executions):
        n = min(per_execution, kills - i * per_execution)
        chosen = set(rng.sample(PHASES, n)) if n < len(PHASES) else set(PHASES)
        out.append([p for p in PHASES if p in chosen])
    return out


def scenario_kills(args: argparse.Namespace) -> dict:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    rng = random.Random(seed)
    kills = 5 if args.quick and args.kills is None else (args.kills or 50)
    schedule = plan(kills, rng)
    print(f"chaos kills: {kills} kills over {len(schedule)} executions, seed {seed}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="conveyor-chaos-"))
    stack = DemoStack(work)
    runs: list[dict] = []
    load: ChaosLoad | None = None
    first: dict | None = None
    t_start = time.monotonic()
    try:
        first = stack.start()
        print(f"first release (conveyor demo --yes): {first['seconds']} s", flush=True)
        load = ChaosLoad(stack.production_url, rate=args.rate)
        for i, phases in enumerate(schedule, start=1):
            try:
                runs.append(run_execution(stack, i, phases, rng, log=lambda m: print(m, flush=True)))
            except Exception as exc:  # noqa: BLE001 - one lost execution is a finding, not the end
                print(f"execution {i}: {exc}", flush=True)
                runs.append({"index": i, "error": str(exc)[:2000], "kills": []})
        time.sleep(2)
    finally:
        if load is not None:
            load.stop()
        stack.stop()
    samples = load.samples if load else []
    failed = [s for s in samples if not s.ok]
    all_kills = [k for r in runs for k in r.get("kills", [])]
    for k in all_kills:  # what the load saw in the 10 s after each kill
        k["load_10s_after"] = window(samples, k["wall"], k["wall"] + 10)
    good = [r for r in runs if "error" not in r]
    dup = [r["execution"] for r in good if any(n != 1 for n in r["deployments"].values())
           or set(r["deployments"]) != {"DeployStaging/Deploy", "DeployProduction/Deploy"}]
    result = {
        "config": {"kills": kills, "seed": seed, "executions": len(schedule), "rate": args.rate,
                   "post_fraction": POST_FRACTION, "phase_delay_max_s": PHASE_DELAY, "quick": args.quick,
                   "ports": stack.ports},
        "first_release": first,
        "summary": {
            "kills": len(all_kills),
            "kills_by_phase": {p: sum(1 for k in all_kills if k["phase"] == p) for p in PHASES},
            "kills_missed_phase": sum(1 for k in all_kills if k["missed"]),
            "executions": len(runs),
            "executions_succeeded": sum(1 for r in good if r["status"] == "Succeeded"),
            "executions_lost_or_errored": [r["index"] for r in runs if "error" in r],
            "executions_with_duplicate_or_missing_deployments": dup,
            "executions_not_one_per_push": [r["execution"] for r in good if r["executions_for_push"] != 1],
            "orphans_after_settle": sum(len(r["orphans"]) for r in good),
            "settle_s_median": statistics.median([r["settle_s"] for r in good]) if good else None,
            "settle_s_max": max((r["settle_s"] for r in good), default=None),
            "up_s_median": statistics.median([k["up_s"] for k in all_kills]) if all_kills else None,
            "up_s_max": max((k["up_s"] for k in all_kills), default=None),
            "execution_s_median": statistics.median([r["duration_s"] for r in good if r.get("duration_s")])
            if good else None,
            "requests": load.result.get("total") if load else 0,
            "failed_requests": load.result.get("failed") if load else None,
            "load_verdict": load.verdict if load else None,
            "production_serves_last": good[-1]["production_serves"] if good else None,
        },
        "load": load.result if load else None,
        "failed_samples": [{"at_wall": round(s.end, 3), "status": s.status, "error": s.error,
                            "post": s.post} for s in failed[:200]],
        "runs": runs,
        "elapsed_s": round(time.monotonic() - t_start, 1),
    }
    s = result["summary"]
    result["targets"] = {
        "every execution Succeeded": _check(s["executions_succeeded"], "==", len(schedule)),
        "failed requests on production": _check(s["failed_requests"], "==", 0),
        "load generator kept its rate (else 'generator behind: not clean')":
            _check(int(load is not None and not load.behind), "==", 1),
        "executions with a duplicate (or missing) deployment": _check(len(dup), "==", 0),
        "orphan containers after settling": _check(s["orphans_after_settle"], "==", 0),
        "pushes without exactly one execution": _check(len(s["executions_not_one_per_push"]), "==", 0),
        "kills": _check(s["kills"], ">=", kills),
    }
    return result


def _check(value: Any, op: str, target: float) -> dict:
    ok = value is not None and {"==": value == target, ">=": value >= target, "<": value < target}[op]
    return {"value": value, "target": f"{op} {target:g}", "pass": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    k = sub.add_parser("kills", help="kill -9 of the daemon at random moments of the demo pipeline, under load")
    k.add_argument("--kills", type=int, help="how many kills (default 50; --quick: 5)")
    k.add_argument("--seed", type=int, help="the draw's seed (default: a random one, printed and kept)")
    k.add_argument("--quick", action="store_true", help="5 kills in 1 execution")
    k.add_argument("--rate", type=float, default=100.0, help="requests/s on production (default 100)")
    k.add_argument("--output", type=Path, help="default bench/results/chaos-kills-<date>.json")
    f = sub.add_parser("faults", help="the faults: registry, HAProxy, podman, disk, hook, clock (chaos_faults.py)")
    f.add_argument("--only", help="comma-separated fault names (default: all)")
    f.add_argument("--repeat", type=int, default=1, help="runs of each fault (default 1)")
    f.add_argument("--rate", type=float, default=100.0, help="requests/s of the load during each fault")
    f.add_argument("--output", type=Path, help="default bench/results/chaos-faults-<date>.json")
    args = parser.parse_args(argv)

    began, now = time.time(), datetime.datetime.now(datetime.UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    if args.scenario == "kills":
        body = scenario_kills(args)
    else:
        from chaos_faults import scenario_faults

        body = scenario_faults(args)
    results = {"benchmark": f"chaos-{args.scenario}", "date": now.isoformat(timespec="seconds"),
               "command": " ".join(["python3", "bench/chaos.py", *(sys.argv[1:] if argv is None else argv)]),
               "machine": machine(), "load_average_before": load_before, **body}
    results["elapsed_seconds"] = round(time.time() - began, 1)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    output = args.output or RESULTS_DIR / f"chaos-{args.scenario}-{now.date().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for name, check in results.get("targets", {}).items():
        print(f"{'PASS' if check['pass'] else 'FAIL'}  {name}: {check['value']} (target {check['target']})")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
