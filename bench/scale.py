"""Scale benchmark: how one Conveyor daemon copes with many services (default 50 services of 2
tasks each: 100 podman pods behind HAProxy) on this machine.

    python3 bench/scale.py                    # 50 services (5 blue/green), 10 deploying, 60 s idle, 3 rounds
    python3 bench/scale.py --quick            # 6 services (2 blue/green), 4 deploying, 10 s idle, 1 round
    python3 bench/scale.py --services 30 --deploying 6 --idle-seconds 30 --rate 20 --rounds 1
    flock /tmp/conveyor-heavy.lock python3 bench/scale.py      # the measured run: nothing heavy next to it

Phases, on one daemon with its own data directory, API and registry ports, and listeners on
--base-port and up:

1. *Startup.* A generated conveyor.yml declares the services (desiredCount 2, a listener each;
   --bluegreen of them CODE_DEPLOY with a test listener, a 20 %-for-3-s canary, a 3-s
   termination wait, a green 5xx alarm and probe traffic; the rest rolling, ECS controller with
   the circuit breaker). Every one is deployed with `conveyor deploy ENV SERVICE --image v1
   --file conveyor.yml --no-wait` (4 at a time); the time until every task is RUNNING and
   healthy, and until every deployment ended, is recorded with a timeline of healthy tasks.
2. *Idle.* --idle-seconds with nothing moving: the daemon's CPU % (its own threads, and with
   the commands it ran, from /proc/PID/stat), RSS, and each control loop's pass times. Pass
   times come from `GET /api/v1/daemon`, polled every 0.2 s: a pass is counted when the loop's
   pass counter moved by one (`last`), so the percentiles are of this window only (the
   daemon's own window keeps the last 2,048 passes, which would mix in the startup's).
   Then what a services pass costs is taken apart: `podman ps` timed as the daemon runs it,
   HAProxy's runtime API, and (with py-spy installed) a profile of the daemon.
3. *Deploys.* --rounds times: --deploying services (half rolling, half blue/green) get a new
   image at once (one `conveyor deploy ... --image vN` thread each, waiting for the outcome)
   while an open-loop constant-rate load (conveyor.loadgen, --rate req/s) runs on each of their
   production listeners. Per service: failed requests, deploy duration, when every answer came
   from the new version; overall: pass p50/p95, CPU, RSS.
4. *Cleanup*, also on failure or Ctrl-C: `conveyor down --all` for the data directory, the
   daemon killed if it still runs, leftover pods of the data directory removed.

Writes bench/results/scale-<YYYY-MM-DD>.json (config, machine, every measurement, verdicts);
docs/benchmarks.md summarises it. Needs podman, HAProxy and `conveyor setup` (base image).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

# bench/ is on sys.path when run as a script
from engine import machine
from zero_downtime import (
    EXAMPLE,
    RESULTS_DIR,
    ROOT,
    TARGET_LONGEST_GAP_MS,
    VERSION_HEADER,
    _check,
    _free_port,
)

from conveyor.loadgen import CLEAN_ACHIEVED_FRACTION, CLEAN_MAX_LAG_MS, LoadGenerator

IMAGE = "localhost/conveyor-bench-scale/app"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 1800.0      # s for every task to become healthy
ROUND_TIMEOUT = 900.0         # s for one round of deploys
SETTLE_SECONDS = 5.0          # after a phase, before the next measurement
POLL_INTERVAL = 0.2           # s between GET /api/v1/daemon polls (pass times, RSS)
FIRST_DEPLOY_WORKERS = 4      # `conveyor deploy --no-wait` commands at once during startup
FIRST_ATTEMPTS = 3            # deployments of a service before startup gives up on it
PROFILE_SECONDS = 20.0

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
BLUEGREEN = ("controller: CODE_DEPLOY\n"
             "config: {type: TimeBasedCanary, canaryPercentage: 20, canaryInterval: 3s}\n"
             "terminationWaitMinutes: 3s\n"
             "probe: {path: /health, ratePerSecond: 5}\n" + ALARM)
ROLLING = "controller: ECS\ncircuitBreaker: {enable: true, rollback: true}\n"


# -- images and the generated conveyor.yml

def build_images(versions: tuple[str, ...]) -> dict[str, str]:
    """The orders-service example on the local base image, once per version (APP_VERSION baked
    in: the X-App-Version header says which release answered). Own image name: other benches
    may rebuild theirs meanwhile."""
    from conveyor.images import BASE_IMAGE

    base = f"{IMAGE}:base"
    subprocess.run(["podman", "build", "--quiet", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", base,
                    "-f", str(EXAMPLE / "Containerfile"), str(EXAMPLE)], check=True, capture_output=True)
    out = {}
    for v in versions:
        subprocess.run(["podman", "build", "--quiet", "-t", f"{IMAGE}:{v}", "-f", "-", str(EXAMPLE)],
                       input=f"FROM {base}\nENV APP_VERSION={v}\n".encode(), check=True, capture_output=True)
        out[v] = f"{IMAGE}:{v}"
    return out


class Layout:
    """Which service is where: names, environments, controllers and ports."""

    def __init__(self, services: int, bluegreen: int, environments: int, deploying: int, base_port: int,
                 grace_period: int = 0):
        self.grace_period = grace_period
        self.names = [f"svc-{i:02d}" for i in range(services)]
        self.envs = ["scale"] if environments == 1 else [f"scale{k + 1}" for k in range(environments)]
        self.env_of = {n: self.envs[i % environments] for i, n in enumerate(self.names)}
        self.bluegreen = set(self.names[:bluegreen])
        self.port = {n: base_port + i for i, n in enumerate(self.names)}
        self.test_port = {n: base_port + services + k for k, n in enumerate(self.names[:bluegreen])}
        half = deploying // 2
        bg = self.names[:bluegreen][:deploying - half]
        rolling = [n for n in self.names if n not in self.bluegreen][:deploying - len(bg)]
        self.deploying = bg + rolling

    def ports(self) -> list[int]:
        return sorted([*self.port.values(), *self.test_port.values()])

    def kind(self, name: str) -> str:
        return "bluegreen" if name in self.bluegreen else "rolling"

    def conveyor_yml(self) -> str:
        first_rolling = next(n for n in self.names if n not in self.bluegreen)
        out = textwrap.dedent(f"""\
            name: bench-scale
            pipeline:
              stages:
                - {{name: Source, actions: [{{name: Source, provider: Git, outputArtifacts: [src]}}]}}
                - {{name: Deploy, actions: [{{name: Deploy, provider: ECS, environment: {self.env_of[first_rolling]},
                                              service: {first_rolling}, inputArtifacts: [src]}}]}}
            environments:
            """)
        for env in self.envs:
            out += f"  {env}:\n    services:\n"
            for name in (n for n in self.names if self.env_of[n] == env):
                test = f"testPort: {self.test_port[name]}, " if name in self.bluegreen else ""
                out += textwrap.indent(textwrap.dedent(f"""\
                    {name}:
                      taskDefinition: taskdef.json
                      desiredCount: 2
                      healthCheckGracePeriodSeconds: {self.grace_period}
                      loadBalancer: {{port: {self.port[name]}, {test}container: api, containerPort: 8080,
                                      deregistrationDelaySeconds: 2,
                                      healthCheck: {{path: /health, intervalSeconds: 1, healthyThresholdCount: 2}}}}
                      deployment:
                    """) + textwrap.indent(BLUEGREEN if name in self.bluegreen else ROLLING, "    "), " " * 6)
        return out


TASKDEF = {"family": "scale", "networkMode": "awsvpc", "containerDefinitions": [{
    "name": "api", "image": "<IMAGE1_NAME>", "essential": True, "stopTimeout": 5, "memory": 256,
    "portMappings": [{"containerPort": 8080}], "environment": [{"name": "PORT", "value": "8080"}]}]}
APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo: {ContainerName: api, ContainerPort: 8080}
"""


# -- process and machine CPU

def proc_cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its waited-for children) of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, (int(fields[13]) + int(fields[14])) / CLK_TCK


def proc_rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def pids_matching(*needles: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmd for n in needles):
            out.append(int(entry.name))
    return out


#: Where the machine's CPU goes, by process: the daemon (its threads), the commands it ran
#: (podman, runc, haproxy -c: reaped children), this data directory's HAProxies, the tasks'
#: containers (every libpod cgroup on the machine) and their conmon monitors, this script (the
#: load generators, the deploy CLIs it ran) and everything else on the machine.
CATEGORIES = ("daemon", "daemon_children", "haproxy", "containers", "conmon", "bench", "other")


def process_table(daemon_pid: int, home: Path) -> dict[int, tuple[str, float, float]]:
    """pid → (category, own CPU s, reaped children's CPU s) for every process now."""
    me = os.getpid()
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            head, rest = (entry / "stat").read_text().rsplit(")", 1)
            comm = head.split("(", 1)[1]
            fields = rest.split()
            own = (int(fields[11]) + int(fields[12])) / CLK_TCK
            children = (int(fields[13]) + int(fields[14])) / CLK_TCK
            ppid = int(fields[1])
            if pid == daemon_pid:
                cat = "daemon"
            elif pid == me or ppid == me:
                cat = "bench"
            elif comm == "haproxy":
                cat = "haproxy" if os.readlink(entry / "cwd").startswith(str(home)) else "other"
            elif comm == "conmon":
                cat = "conmon"
            elif "libpod" in (entry / "cgroup").read_text():
                cat = "containers"
            else:
                cat = "other"
        except (OSError, ValueError, IndexError):
            continue
        out[pid] = (cat, own, children)
    return out


class CpuWindow:
    """CPU used over a window: the daemon (own threads; with its reaped children, i.e. the
    podman commands it ran), by process category, and the whole machine; in % of one core.

        w = CpuWindow(stack); ...; out = w.end()   # {"daemon_cpu_pct": ..., "by_category": ...}
    """

    def __init__(self, stack: ScaleStack):
        self.stack = stack
        self.t0 = time.monotonic()
        self.api0 = stack.daemon_stats()["cpuSeconds"]
        self.table0 = process_table(stack.pid, stack.home)
        self.machine0 = machine_cpu()

    def end(self) -> dict:
        table = process_table(self.stack.pid, self.stack.home)
        busy, total = machine_cpu()
        wall = time.monotonic() - self.t0
        api = self.stack.daemon_stats()["cpuSeconds"]
        used = Counter()
        for pid, (cat, own, children) in table.items():
            before = self.table0.get(pid)
            if before is not None and before[0] != cat:
                before = None
            used[cat] += own - (before[1] if before else 0.0)
            if cat == "daemon":
                used["daemon_children"] += children - (before[2] if before else 0.0)
            elif cat == "bench" and pid == os.getpid():
                used["bench"] += children - (before[2] if before else 0.0)
        pct = {c: round(100 * used[c] / wall, 2) for c in CATEGORIES}
        return {"seconds": round(wall, 1),
                "daemon_cpu_pct": pct["daemon"],
                "daemon_cpu_pct_api": round(100 * (api - self.api0) / wall, 2),
                "daemon_children_cpu_pct": pct["daemon_children"],
                "daemon_with_children_cpu_pct": round(pct["daemon"] + pct["daemon_children"], 2),
                "haproxy_cpu_pct": pct["haproxy"],
                "by_category_pct_of_one_core": pct,
                "machine_busy_pct_of_all_cores": round(
                    100 * (busy - self.machine0[0]) / max(1, total - self.machine0[1]), 1),
                "rss_mb": round(proc_rss(self.stack.pid) / 2**20, 1)}


def memory_used_mb() -> float:
    info = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}
    return round((info["MemTotal"] - info["MemAvailable"]) / 1024, 1)


# -- the daemon's pass times, polled

class PassPoller(threading.Thread):
    """Polls GET /api/v1/daemon every POLL_INTERVAL: each control loop's individual pass times
    (a pass is seen when its loop's counter moved by one since the last poll; when it moved by
    more, the latest is kept and the others counted as missed) and the RSS."""

    def __init__(self, stack: ScaleStack, interval: float = POLL_INTERVAL):
        super().__init__(name="pass-poller", daemon=True)
        self.stack, self.interval = stack, interval
        self.passes: dict[str, list[tuple[float, float]]] = {"services": [], "deploys": []}
        self.missed: Counter = Counter()
        self.rss: list[tuple[float, int]] = []
        self.polls = 0
        self._prev: dict[str, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                d = self.stack.daemon_stats()
            except Exception:  # noqa: BLE001, S112 - a poll the daemon missed (busy, restarting) is skipped
                continue
            now = time.monotonic()
            self.polls += 1
            self.rss.append((now, d["rssBytes"]))
            for loop, s in d["loops"].items():
                prev = self._prev.get(loop)
                self._prev[loop] = s["passes"]
                if prev is None or s["passes"] == prev or s["last"] is None:
                    continue
                self.missed[loop] += s["passes"] - prev - 1
                self.passes.setdefault(loop, []).append((now, s["last"]))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def window(self, t0: float, t1: float) -> dict:
        """Pass-time percentiles (ms) and RSS of the passes seen between t0 and t1 (monotonic)."""
        out: dict[str, Any] = {}
        for loop, items in self.passes.items():
            times = sorted(s for t, s in items if t0 <= t <= t1)
            out[loop] = {"passes_seen": len(times), **_percentiles_ms(times)}
        rss = [r for t, r in self.rss if t0 <= t <= t1 and r]
        out["rss_mb_max"] = round(max(rss) / 2**20, 1) if rss else None
        return out


def _percentiles_ms(times: list[float]) -> dict:
    if not times:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(times)

    def q(p: float) -> float:
        rank = max(1, -(-len(ordered) * p // 1))
        return round(1000 * ordered[int(rank) - 1], 2)

    return {"p50_ms": q(0.50), "p95_ms": q(0.95), "max_ms": round(1000 * ordered[-1], 2),
            "mean_ms": round(1000 * statistics.fmean(ordered), 2)}


# -- the stack

class ScaleStack:
    """One daemon with its own data directory, API port and registry port, and the generated
    conveyor.yml; everything it started goes away in close()."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.dir = Path(tempfile.mkdtemp(prefix="conveyor-bench-scale-"))
        self.home = self.dir / "home"
        self.api_port, self.registry_port = _free_port(), _free_port()
        src = str(ROOT / "src")
        pythonpath = os.pathsep.join([src, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)])
        self.env = {**os.environ, "CONVEYOR_HOME": str(self.home), "CONVEYOR_PORT": str(self.api_port),
                    "CONVEYOR_REGISTRY_PORT": str(self.registry_port), "PYTHONPATH": pythonpath}
        (self.dir / "taskdef.json").write_text(json.dumps(TASKDEF))
        (self.dir / "appspec.yaml").write_text(APPSPEC)
        (self.dir / "conveyor.yml").write_text(layout.conveyor_yml())
        self.pid = 0
        self._client = None

    def cli(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"conveyor {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    def up(self) -> None:
        self.cli("validate", str(self.dir / "conveyor.yml"))
        self.cli("up")
        self.pid = self.daemon_stats()["pid"]

    @property
    def client(self):
        from conveyor.cli.client import Client

        if self._client is None:
            self._client = Client.connect(self.home)
        return self._client

    def daemon_stats(self) -> dict:
        return self.client.get("/api/v1/daemon")

    def services(self) -> list[dict]:
        return self.client.get("/api/v1/services")

    def deployment(self, name: str) -> dict:
        return self.client.get(f"/api/v1/services/{self.layout.env_of[name]}/{name}/deployment")

    def deploy(self, name: str, image: str, *extra: str) -> dict:
        t0 = time.monotonic()
        done = self.cli("deploy", self.layout.env_of[name], name, "--image", image,
                        "--file", str(self.dir / "conveyor.yml"), "--timeout", "10", *extra, check=False)
        return {"start": t0, "end": time.monotonic(), "seconds": round(time.monotonic() - t0, 2),
                "exit": done.returncode, "output": (done.stdout + done.stderr).strip()[-400:]}

    def close(self) -> dict:
        """`conveyor down --all`, then make sure: the daemon, its HAProxies and its pods gone."""
        out: dict[str, Any] = {}
        t0 = time.monotonic()
        try:
            down = self.cli("down", "--all", check=False, timeout=600)
            out["down_exit"] = down.returncode
        except Exception as exc:  # noqa: BLE001 - a hung down must not stop the cleanup below
            out["down_error"] = str(exc)
        out["down_seconds"] = round(time.monotonic() - t0, 1)
        if self.pid and _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            out["daemon_killed"] = True
        for pid in pids_matching("haproxy", str(self.home)):
            try:
                os.kill(pid, signal.SIGKILL)
                out.setdefault("haproxy_killed", []).append(pid)
            except OSError:
                pass
        label = _home_label(self.home)
        left = subprocess.run(["podman", "pod", "ps", "-q", "--filter", f"label=conveyor.home={label}"],
                              capture_output=True, text=True, check=False).stdout.split()
        if left:
            subprocess.run(["podman", "pod", "rm", "-f", *left], capture_output=True, check=False)
            out["pods_removed_after_down"] = len(left)
        shutil.rmtree(self.dir, ignore_errors=True)
        return out


def _home_label(home: Path) -> str:
    from conveyor.providers.local.ecs.tasks import home_label

    return home_label(home)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ports_free(ports: list[int]) -> list[int]:
    """The ports of `ports` something already listens on."""
    taken = []
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


# -- phase 0: what podman alone does on this machine

def podman_baseline(image: str, tasks: int = 16, workers: int = 8) -> dict:
    """Start `tasks` pods the way the controller does (`podman pod create` with a published
    port, `podman run -d` in it, `podman pod inspect` for the port), `workers` at a time as its
    start pool does, without Conveyor; then remove them. The ceiling for task starts here."""
    tag = f"cv-bench-scale-{os.getpid()}"

    def one(i: int) -> float:
        t0 = time.monotonic()
        pod = f"{tag}-{i}"
        subprocess.run(["podman", "pod", "create", "--name", pod, "--label", f"{tag}=1",
                        "--publish", "127.0.0.1::8080"], check=True, capture_output=True)
        subprocess.run(["podman", "run", "--detach", "--pod", pod, "--name", f"{pod}-api", "--label", f"{tag}=1",
                        "--env", "PORT=8080", image], check=True, capture_output=True)
        subprocess.run(["podman", "pod", "inspect", pod, "--format", "{{json .InfraConfig.PortBindings}}"],
                       check=True, capture_output=True)
        return time.monotonic() - t0

    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            latencies = sorted(pool.map(one, range(tasks)))
        wall = time.monotonic() - t0
        one_alone = one(tasks)
    finally:
        pods = subprocess.run(["podman", "pod", "ps", "-q", "--filter", f"label={tag}=1"], capture_output=True,
                              text=True, check=False).stdout.split()
        t2 = time.monotonic()
        if pods:
            subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", *pods], capture_output=True, check=False)
    return {"tasks": tasks, "workers": workers, "tasks_per_s": round(tasks / wall, 2),
            "latency_s_p50": round(statistics.median(latencies), 2), "latency_s_max": round(latencies[-1], 2),
            "one_task_alone_s": round(one_alone, 2), "remove_all_s": round(time.monotonic() - t2, 2)}


# -- phase 1: startup

def startup(stack: ScaleStack, image: str, poller: PassPoller, log) -> dict:
    layout = stack.layout
    mem0 = memory_used_mb()
    wall0 = time.time()
    cpu = CpuWindow(stack)
    t0 = time.monotonic()
    commands: dict[str, dict] = {}
    with concurrent.futures.ThreadPoolExecutor(FIRST_DEPLOY_WORKERS) as pool:
        # pool.map gives one result per name, in order
        deployed = pool.map(lambda n: stack.deploy(n, image, "--no-wait"), layout.names)
        for name, res in zip(layout.names, deployed, strict=True):
            commands[name] = res
            if res["exit"] != 0:
                log(f"  deploy {name} --no-wait exited {res['exit']}: {res['output'][-200:]}")
    t_submitted = time.monotonic()
    command_seconds = [c["seconds"] for c in commands.values()]
    log(f"startup: {len(layout.names)} deploy commands in {t_submitted - t0:.1f} s ({FIRST_DEPLOY_WORKERS} at a "
        f"time; each {statistics.median(command_seconds):.2f} s median, {max(command_seconds):.2f} s max)")
    attempts = Counter({n: 1 for n in layout.names})
    timeline, retries = [], []
    want = 2 * len(layout.names)
    t_healthy = t_done = None
    failed_once: dict[str, str] = {}
    while True:
        now = time.monotonic()
        if now - t0 > STARTUP_TIMEOUT:
            raise RuntimeError(f"startup: not every task healthy after {STARTUP_TIMEOUT:g} s ({timeline[-1]})")
        rows = {r["serviceName"]: r for r in stack.services()}
        healthy = sum(r["healthyCount"] for r in rows.values())
        running = sum(r["runningCount"] for r in rows.values())
        pending = sum(r["pendingCount"] for r in rows.values())
        timeline.append([round(now - t0, 1), healthy, running, pending])
        if t_healthy is None and healthy >= want and running == want:
            t_healthy = now
            log(f"startup: all {want} tasks healthy {now - t0:.1f} s after the first deploy command")
        # deployments that failed (a race at a service's first deployment, a task that did not
        # start): deploy again, at most FIRST_ATTEMPTS times
        unfinished = []
        for name in layout.names:
            row = rows.get(name)
            if row is None and commands[name]["exit"] == 0:
                unfinished.append(name)
                continue
            status = _first_status(stack, name, row)
            if status == "done":
                continue
            if status == "failed" or row is None:
                if attempts[name] >= FIRST_ATTEMPTS:
                    raise RuntimeError(f"startup: {name} failed {attempts[name]} deployments: "
                                       f"{failed_once.get(name)}")
                why = _failure_reason(stack, name) if row is not None else commands[name]["output"]
                failed_once[name] = why
                retries.append({"service": name, "at_s": round(now - t0, 1), "reason": why})
                log(f"  {name}: deployment failed ({why[:160]}); deploying again")
                attempts[name] += 1
                commands[name] = stack.deploy(name, image, "--no-wait")
            unfinished.append(name)
        if not unfinished and t_healthy is not None:
            t_done = time.monotonic()
            break
        time.sleep(1.0)
    window = cpu.end()
    answering = _listeners_answer(layout)
    loops = poller.window(t0, t_done)
    mem1 = memory_used_mb()
    return {"services": len(layout.names), "tasks": want,
            "deploy_commands_seconds": round(t_submitted - t0, 1),
            "deploy_command_seconds": {"median": statistics.median(command_seconds), "max": max(command_seconds),
                                       "min": min(command_seconds), "at_once": FIRST_DEPLOY_WORKERS},
            "machine_memory_used_mb": {"before": mem0, "after": mem1,
                                       "per_task_mb": round((mem1 - mem0) / want, 1)},
            "all_tasks_healthy_s": round(t_healthy - t0, 1),
            "all_deployments_done_s": round(t_done - t0, 1),
            "tasks_healthy_per_s": round(want / (t_healthy - t0), 2),
            "deployments_retried": retries, "attempts": dict(attempts),
            "task_timings": task_timings(stack, wall0), "haproxy_reloads": haproxy_reloads(stack),
            "listeners_answering_200": answering, "cpu": window, "loops": loops,
            "timeline": timeline}


def _first_status(stack: ScaleStack, name: str, row: dict) -> str:
    """done | failed | moving, for a service's first deployment."""
    if stack.layout.kind(name) == "rolling":
        state = row.get("rolloutState")
        if state == "COMPLETED" and row["healthyCount"] == 2:
            return "done"
        return "failed" if state == "FAILED" else "moving"
    if row["healthyCount"] < 2:
        d = stack.deployment(name).get("deployment") or {}
        return "failed" if d.get("status") in ("Failed", "Stopped") else "moving"
    d = stack.deployment(name).get("deployment") or {}
    if d.get("status") == "Succeeded":
        return "done"
    return "failed" if d.get("status") in ("Failed", "Stopped") else "moving"


def _failure_reason(stack: ScaleStack, name: str) -> str:
    d = stack.deployment(name)
    dep = d.get("deployment") or {}
    return str(dep.get("rolloutStateReason") or dep.get("error_message") or dep.get("error_code")
               or d.get("waitingFor"))[:300]


def _listeners_answer(layout: Layout) -> dict:
    ok, bad = 0, {}
    for name in layout.names:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{layout.port[name]}/health", timeout=3) as r:
                ok += r.status == 200
        except Exception as exc:  # noqa: BLE001 - any failure of a listener is reported, not raised
            bad[name] = str(exc)[:120]
    return {"ok": ok, "of": len(layout.names), "failed": bad}


def task_timings(stack: ScaleStack, since: float, until: float | None = None) -> dict:
    """Read from the daemon's store (services.db, read-only) and its load balancers' state.json:
    for the tasks created in [since, until] (wall clock), how long they took from the row to
    RUNNING (`podman pod create` + `podman run` + port lookup, on the controller's 8 start
    workers), from RUNNING to registered in HAProxy (the next services pass), and from RUNNING
    to healthy; and every task that failed, with its reason."""
    import sqlite3

    db = sqlite3.connect(f"file:{stack.home / 'services.db'}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT * FROM tasks WHERE created_at >= ? AND created_at <= ?",
                                            (since, until or time.time() + 1))]
    finally:
        db.close()
    registered = {}
    for env in stack.layout.envs:
        try:
            state = json.loads((stack.home / "lb" / env / "state.json").read_text())
        except OSError:
            continue
        for group in state.get("targets", {}).values():
            for tid, rec in group.items():
                registered[tid] = rec.get("registered_at")

    def dist(values: list[float]) -> dict:
        values = sorted(v for v in values if v is not None)
        if not values:
            return {"n": 0}
        return {"n": len(values), "p50": round(statistics.median(values), 2),
                "p95": round(values[max(0, -(-len(values) * 95 // 100) - 1)], 2), "max": round(values[-1], 2)}

    started = [r for r in rows if r["running_at"]]
    failed = [r for r in rows if r["failed"]]
    return {"tasks": len(rows),
            "to_running_s": dist([r["running_at"] - r["created_at"] for r in started]),
            "running_to_registered_s": dist([registered[r["id"]] - r["running_at"] for r in started
                                             if registered.get(r["id"])]),
            "running_to_healthy_s": dist([r["healthy_at"] - r["running_at"] for r in started if r["healthy_at"]]),
            "failed": [{"service": r["service"], "created_s": round(r["created_at"] - since, 2),
                        "stopping_s": round(r["stopping_at"] - since, 2) if r["stopping_at"] else None,
                        "to_running_s": round(r["running_at"] - r["created_at"], 2)
                        if r["running_at"] else None,
                        "running_to_stopping_s": round(r["stopping_at"] - r["running_at"], 2)
                        if r["running_at"] and r["stopping_at"] else None,
                        "reason": r["stopped_reason"]} for r in failed]}


def haproxy_reloads(stack: ScaleStack) -> dict[str, int | None]:
    """Per environment, how many times its HAProxy was reloaded (the master's `show proc`)."""
    from conveyor.lb import config as lbcfg
    from conveyor.lb.runtime import RuntimeAPI, RuntimeUnavailable

    out: dict[str, int | None] = {}
    for env in stack.layout.envs:
        try:
            text = RuntimeAPI(stack.home / "lb" / env / lbcfg.MASTER_SOCKET).send("show proc")
            master = next(line.split() for line in text.splitlines() if " master " in f" {line} ")
            out[env] = int(master[2])
        except (RuntimeUnavailable, StopIteration, ValueError, IndexError):
            out[env] = None
    return out


def wait_quiet(stack: ScaleStack, timeout: float = 300.0) -> float:
    """Until every service has exactly its 2 tasks, all healthy, nothing pending or draining and
    no deployment in flight. Returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rows = stack.services()
        if all(r["healthyCount"] == 2 and r["runningCount"] == 2 and r["pendingCount"] == 0 for r in rows):
            moving = [n for n in stack.layout.bluegreen
                      if (stack.deployment(n).get("deployment") or {}).get("status") not in
                      ("Succeeded", "Failed", "Stopped", None)]
            if not moving:
                return time.monotonic() - t0
        time.sleep(0.5)
    raise RuntimeError(f"services still moving after {timeout:g} s")


# -- phase 2: idle, and what a pass costs

def idle(stack: ScaleStack, poller: PassPoller, seconds: float, log) -> dict:
    cpu = CpuWindow(stack)
    t0 = time.monotonic()
    time.sleep(seconds)
    t1 = time.monotonic()
    window = cpu.end()
    summary = stack.daemon_stats()["loops"]  # the daemon's own window (last 2,048 passes, startup included)
    out = {"seconds": seconds, "cpu": window, "loops": poller.window(t0, t1), "daemon_window_summary": summary,
           "missed_passes": dict(poller.missed)}
    s = out["loops"]["services"]
    log(f"idle {seconds:g} s: services pass p50 {s['p50_ms']} ms p95 {s['p95_ms']} ms ({s['passes_seen']} passes); "
        f"deploys pass p50 {out['loops']['deploys']['p50_ms']} ms; daemon CPU {window['daemon_cpu_pct']} % "
        f"(+children {window['daemon_children_cpu_pct']} %), RSS {window['rss_mb']} MB, "
        f"HAProxy {window['haproxy_cpu_pct']} %, machine {window['machine_busy_pct_of_all_cores']} %")
    return out


def pass_costs(stack: ScaleStack, runs: int = 5) -> dict:
    """What the pieces of a services pass cost, timed from outside the daemon the way it runs them."""
    label = _home_label(stack.home)
    out: dict[str, Any] = {}
    all_containers = len(subprocess.run(["podman", "ps", "-a", "-q"], capture_output=True, text=True,
                                        check=True).stdout.split())
    walls, cpus, rows = [], [], 0
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        done = subprocess.run(["podman", "ps", "--all", "--format", "json", "--filter", f"label=conveyor.home={label}"],
                              capture_output=True, text=True, check=True)
        walls.append(time.monotonic() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        rows = len(json.loads(done.stdout or "[]"))
    out["podman_ps"] = {"containers_listed": rows, "containers_on_machine": all_containers, "runs": runs,
                        "wall_ms_median": round(1000 * statistics.median(walls), 1),
                        "cpu_ms_median": round(1000 * statistics.median(cpus), 1),
                        "output_bytes": len(done.stdout)}
    # HAProxy's runtime API as a pass uses it: per target group `show servers state TG` and
    # `show stat TG 4 -1`, and state.json read once per target group
    from conveyor.lb import config as lbcfg
    from conveyor.lb.runtime import RuntimeAPI

    per_env = {}
    for env in stack.layout.envs:
        lbdir = stack.home / "lb" / env
        api = RuntimeAPI(lbdir / lbcfg.ADMIN_SOCKET)
        state = json.loads((lbdir / "state.json").read_text())
        groups = [g["name"] for g in state.get("target_groups", [])] or []
        t0 = time.monotonic()
        c0 = time.process_time()
        for g in groups:
            api.servers_state(g)
            api.stat(g)
            json.loads((lbdir / "state.json").read_text())
        wall = time.monotonic() - t0
        cpu_ms = time.process_time() - c0
        t1 = time.monotonic()
        full = api.send("show stat")
        per_env[env] = {"target_groups": len(groups), "state_json_bytes": (lbdir / "state.json").stat().st_size,
                        "per_pass_calls": 2 * len(groups),
                        "per_pass_wall_ms": round(1000 * wall, 1), "per_pass_client_cpu_ms": round(1000 * cpu_ms, 1),
                        "show_stat_full_ms": round(1000 * (time.monotonic() - t1), 1),
                        "show_stat_full_bytes": len(full)}
    out["haproxy"] = per_env
    # what one `conveyor deploy` waiting for its outcome costs the daemon: it polls
    # GET .../deployment every 0.3 s
    calls = {}
    for name in (min(stack.layout.bluegreen), next(n for n in stack.layout.names if n not in stack.layout.bluegreen)):
        own0 = proc_cpu(stack.pid)[0]
        t0 = time.monotonic()
        for _ in range(50):
            stack.deployment(name)
        calls[stack.layout.kind(name)] = {"daemon_cpu_ms_per_call": round(20 * (proc_cpu(stack.pid)[0] - own0), 2),
                                          "wall_ms_per_call": round(20 * (time.monotonic() - t0), 2)}
    out["deploy_status_call"] = calls
    # the API poll this benchmark adds to the daemon's CPU
    own0 = proc_cpu(stack.pid)[0]
    t0 = time.monotonic()
    for _ in range(100):
        stack.daemon_stats()
    out["poll_cost"] = {"daemon_cpu_ms_per_call": round(10 * (proc_cpu(stack.pid)[0] - own0), 2),
                        "wall_ms_per_call": round(10 * (time.monotonic() - t0), 2),
                        "calls_per_s": round(1 / POLL_INTERVAL, 1)}
    return out


class Profiler:
    """py-spy on the daemon (if installed), from start() to stop(): --idle (waiting on `podman
    ps` or a socket counts: wall time), --nonblocking (the daemon is not paused to sample it).

        p = Profiler(stack, "idle"); p.start(); time.sleep(20); summary = p.stop()
    """

    def __init__(self, stack: ScaleStack, what: str, rate: int = 50):
        self.spy = shutil.which("py-spy")
        self.raw = stack.dir / f"profile-{what}.txt"
        self.argv = [self.spy or "py-spy", "record", "--pid", str(stack.pid), "--duration", "3600", "--rate", str(rate),
                     "--format", "raw", "--idle", "--threads", "--nonblocking", "--output", str(self.raw)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.spy:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> dict | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
        try:
            output, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        if not self.raw.exists():
            return {"error": (output or "").strip()[-300:]}
        return summarize_profile(self.raw.read_text())


def profile(stack: ScaleStack, seconds: float, what: str) -> dict | None:
    p = Profiler(stack, what)
    p.start()
    time.sleep(seconds)
    return p.stop()


#: Frames that say nothing about where a loop spends its time.
_GENERIC = ("Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run ", "_worker (thread", "<module>",
            "_run_module_as_main", "_run_code", "Event.wait", "Condition.wait")
#: Where the breakdowns start: a services pass, a deploys pass, a metrics sample.
ROOTS = ("ServiceController.reconcile", "DeployController.tick", "Watch._tick_watch", "Sampler.sample_once",
         "Watch._on_sample", "Api.deploy", "Api.deployment_status", "ServiceController._run_start",
         "ServiceController._stop_task", "LoadBalancer.apply")


def summarize_profile(text: str, top: int = 15) -> dict:
    """py-spy raw (collapsed, --idle: wall time) stacks → per thread that did anything: its
    share of wall time in each function (inclusive, generic frames left out), and for each of
    ROOTS the share of that root's samples under each function below it."""
    threads: dict[str, Counter] = {}
    totals: Counter = Counter()
    roots: dict[str, Counter] = {r: Counter() for r in ROOTS}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        name = frames[0].split("): ", 1)[-1].strip('"') if "): " in frames[0] else frames[0]
        totals[name] += n
        names = [_frame(f) for f in frames[1:]]
        for fn in set(names):
            if not fn.startswith(_GENERIC):
                threads.setdefault(name, Counter())[fn] += n
        for root in ROOTS:
            at = next((i for i, fn in enumerate(names) if fn.startswith(root + " ")), None)
            if at is not None:
                for fn in set(names[at:]):
                    roots[root][fn] += n
    out: dict[str, Any] = {"threads": {}, "breakdown": {}}
    for name, total in totals.most_common():
        busy = threads.get(name, Counter())
        if not busy or busy.most_common(1)[0][1] < 0.01 * total:
            continue
        out["threads"][name] = {"samples": total, "pct_of_wall": {fn: round(100 * k / total, 1)
                                                                 for fn, k in busy.most_common(top)}}
    for root, counter in roots.items():
        whole = max((k for fn, k in counter.items() if fn.startswith(root + " ")), default=0)
        if whole:
            out["breakdown"][root] = {"samples": whole, "pct": {fn: round(100 * k / whole, 1)
                                                                for fn, k in counter.most_common(top + 1)[1:]}}
    return out


def _frame(frame: str) -> str:
    """'reconcile (conveyor/.../controller.py:140)' → 'reconcile (controller.py)'."""
    if " (" not in frame:
        return frame
    fn, where = frame.split(" (", 1)
    return f"{fn} ({where.split(':')[0].rsplit('/', 1)[-1].rstrip(')')})"


# -- phase 3: deploys under load

class LoadProcess:
    """The constant-rate loads, one conveyor.loadgen.LoadGenerator per URL, in a process of their
    own at nice -5: on 2 busy cores the instrument must not be starved (by the daemon, the
    deploy CLIs or this script's threads) or it stops sending at its rate.

        with LoadProcess({"svc-00": url}, rate=30) as load:
            ...; results = load.stop({"svc-00": ("v2", t_deploy_started)})
    """

    def __init__(self, urls: dict[str, str], rate: float, duration: float):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_load_process, args=(child, urls, rate, duration), daemon=True)
        self.proc.start()
        if not self.conn.poll(30) or self.conn.recv() != "started":
            self.proc.kill()
            raise RuntimeError("the load process did not start")

    def stop(self, settle: dict[str, tuple[str, float]]) -> dict[str, dict]:
        """Stop every load; per name its LoadResult.to_json() and, for settle[name] = (version,
        after), when every 2xx answer began carrying that version (time.monotonic(), or None)."""
        self.conn.send(settle)
        if not self.conn.poll(120):
            raise RuntimeError("the load process did not answer")
        out = self.conn.recv()
        self.proc.join(10)
        return out

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()


def _load_process(conn, urls: dict[str, str], rate: float, duration: float) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    except OSError:
        pass
    gens = {n: LoadGenerator(u, rate=rate, duration=duration, version_header=VERSION_HEADER, keepalive_fraction=0.5)
            for n, u in urls.items()}
    for g in gens.values():
        g.start()
    conn.send("started")
    settle = conn.recv()
    out = {}
    for n, g in gens.items():
        result = g.stop()
        version, after = settle.get(n, (None, None))
        out[n] = {"load": result.to_json(), "started_at": result.started_at,
                  "settled": g.first_time_all(version, after=after) if version and after is not None else None}
    conn.send(out)


def deploy_round(stack: ScaleStack, poller: PassPoller, image: str, version: str, rate: float, log,
                 profiled: bool = False) -> dict:
    layout = stack.layout
    load = LoadProcess({n: f"http://127.0.0.1:{layout.port[n]}/version" for n in layout.deploying}, rate,
                       ROUND_TIMEOUT)
    results: dict[str, dict] = {}
    profiled_out = None
    t0 = time.monotonic()
    try:
        time.sleep(2.0)
        profiler = Profiler(stack, f"deploys-{version}") if profiled else None
        if profiler:
            profiler.start()
        cpu = CpuWindow(stack)
        wall0 = time.time()
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(layout.deploying)) as pool:
            futures = {n: pool.submit(stack.deploy, n, image) for n in layout.deploying}
            for n, f in futures.items():
                results[n] = f.result(timeout=ROUND_TIMEOUT)
        t1 = time.monotonic()
        window = cpu.end()
        profiled_out = profiler.stop() if profiler else None
        time.sleep(2.0)
        loads = load.stop({n: (version, r["start"]) for n, r in results.items()})
    finally:
        load.kill()
    per_service = {}
    for n in layout.deploying:
        r, lj, settled = results.get(n, {}), loads[n]["load"], loads[n]["settled"]
        d = stack.deployment(n).get("deployment") or {}
        per_service[n] = {
            "kind": layout.kind(n), "exit": r.get("exit"), "deploy_seconds": r.get("seconds"),
            "status": d.get("status") if layout.kind(n) == "bluegreen" else d.get("rolloutState"),
            "all_answers_new_after_s": None if settled is None else round(settled - r["start"], 2),
            "requests": lj["total"], "failed": lj["failed"],
            "failed_statuses": {k: v for k, v in lj["status_counts"].items() if not str(k).startswith("2")},
            "errors": lj["error_counts"], "achieved_rate": lj["achieved_rate"], "max_lag_ms": lj["max_lag_ms"],
            "longest_gap_ms": lj["longest_gap_ms"],
            "longest_gap_end_s": None if lj["longest_gap_at"] is None or not r else
            round(loads[n]["started_at"] + lj["longest_gap_at"] - r["start"], 2),
            "latency_p50_ms": lj["latency_ms"].get("p50"),
            "latency_p99_ms": lj["latency_ms"].get("p99"),
            "rate_kept": lj["achieved_rate"] >= CLEAN_ACHIEVED_FRACTION * rate and lj["max_lag_ms"] <= CLEAN_MAX_LAG_MS,
            "generator_cpu_pct": lj["cpu_percent_of_one_core"],
            "output": r.get("output", "")[-200:] if r.get("exit") else ""}
    loops = poller.window(t0, t1)
    out = {"version": version, "wall_s": round(t1 - t0, 1), "cpu": window, "loops": loops, "services": per_service,
           "failed_total": sum(s["failed"] for s in per_service.values()),
           "requests_total": sum(s["requests"] for s in per_service.values())}
    out["task_timings"] = task_timings(stack, wall0)
    out["haproxy_reloads_total"] = haproxy_reloads(stack)
    if profiled_out is not None:
        out["profile"] = profiled_out
    log(f"deploys to {version}: {len(per_service)} in {out['wall_s']} s; failed requests {out['failed_total']} of "
        f"{out['requests_total']}; deploy s " + ", ".join(f"{n} {s['deploy_seconds']}" for n, s in per_service.items())
        + f"; services pass p50 {loops['services']['p50_ms']} p95 {loops['services']['p95_ms']} ms; daemon CPU "
        f"{window['daemon_cpu_pct']} % (+children {window['daemon_children_cpu_pct']} %), machine "
        f"{window['machine_busy_pct_of_all_cores']} %")
    return out


# -- the run

def run(args: argparse.Namespace, out: dict, log) -> None:
    """The phases, filling `out` as they go (what was measured survives a failure)."""
    layout = Layout(args.services, args.bluegreen, args.environments, args.deploying, args.base_port,
                    args.grace_period)
    out["config"] = {
        "services": args.services, "bluegreen": sorted(layout.bluegreen), "environments": layout.envs,
        "tasks_per_service": 2, "deploying": layout.deploying, "rounds": args.rounds, "rate_per_listener": args.rate,
        "idle_seconds": args.idle_seconds, "health_check_grace_period_s": args.grace_period,
        "ports": [layout.ports()[0], layout.ports()[-1]],
        "health_check": "HAProxy HTTP /health every 1 s, 2 passes to healthy; deregistration delay 2 s",
        "bluegreen_deployment": BLUEGREEN, "rolling_deployment": ROLLING, "taskdef": TASKDEF,
        "poll_interval_s": POLL_INTERVAL}
    taken = ports_free(layout.ports())
    if taken:
        raise RuntimeError(f"listener ports already in use: {taken[:10]} (choose another --base-port)")
    versions = tuple(f"v{i + 1}" for i in range(args.rounds + 1))
    log(f"building {len(versions)} images ...")
    images = build_images(versions)
    if args.podman_baseline:
        out["podman_baseline"] = podman_baseline(images["v1"])
        log(f"podman alone: {json.dumps(out['podman_baseline'])}")
    stack = ScaleStack(layout)
    poller = None
    try:
        stack.up()
        log(f"daemon pid {stack.pid}, data {stack.home}, API :{stack.api_port}, registry :{stack.registry_port}, "
            f"listeners {layout.ports()[0]}-{layout.ports()[-1]}")
        poller = PassPoller(stack)
        poller.start()
        profiler = Profiler(stack, "startup") if args.profile_busy else None
        if profiler:
            profiler.start()
        out["startup"] = startup(stack, images["v1"], poller, log)
        if profiler:
            out["startup"]["profile"] = profiler.stop()
        out["settle_s"] = round(wait_quiet(stack) + SETTLE_SECONDS, 1)
        time.sleep(SETTLE_SECONDS)
        out["idle"] = idle(stack, poller, args.idle_seconds, log)
        out["pass_costs"] = pass_costs(stack)
        log(f"pass costs: {json.dumps(out['pass_costs'])}")
        if args.profile:
            out["profile_idle"] = profile(stack, PROFILE_SECONDS, "idle")
        out["rounds"] = []
        for i in range(args.rounds):
            out["rounds"].append(deploy_round(stack, poller, images[versions[i + 1]], versions[i + 1], args.rate, log,
                                              profiled=args.profile_busy and i == args.rounds - 1))
            wait_quiet(stack)
            time.sleep(SETTLE_SECONDS)
        out["after"] = {"daemon": stack.daemon_stats(), "rss_mb": round(proc_rss(stack.pid) / 2**20, 1)}
    finally:
        try:
            if poller is not None:
                poller.stop()
                out["poller"] = {"polls": poller.polls, "missed_passes": dict(poller.missed)}
        finally:
            out["cleanup"] = stack.close()
            log(f"cleanup: {out['cleanup']}")


def summarize(out: dict, args: argparse.Namespace) -> dict:
    """Medians over the rounds, and the verdicts."""
    rounds = out.get("rounds", [])
    svc = [s for r in rounds for s in r["services"].values()]
    med: dict[str, Any] = {}
    for kind in ("rolling", "bluegreen"):
        mine = [s for s in svc if s["kind"] == kind]
        if mine:
            med[f"{kind}_deploy_s"] = statistics.median(s["deploy_seconds"] for s in mine)
            med[f"{kind}_deploy_s_range"] = [min(s["deploy_seconds"] for s in mine),
                                             max(s["deploy_seconds"] for s in mine)]
    if rounds:
        for key in ("p50_ms", "p95_ms", "max_ms"):
            med[f"deploys_services_pass_{key}"] = statistics.median(r["loops"]["services"][key] for r in rounds)
            med[f"deploys_deploys_pass_{key}"] = statistics.median(r["loops"]["deploys"][key] for r in rounds)
        for key in ("daemon_cpu_pct", "daemon_with_children_cpu_pct", "machine_busy_pct_of_all_cores"):
            med[f"deploys_{key}"] = statistics.median(r["cpu"][key] for r in rounds)
        med["deploys_rss_mb_max"] = max(r["loops"]["rss_mb_max"] or 0 for r in rounds)
        med["round_wall_s"] = statistics.median(r["wall_s"] for r in rounds)
    out["median"] = med
    targets = {}
    if "startup" in out:
        st = out["startup"]
        targets["every task healthy and every listener answering (services)"] = _check(
            st["listeners_answering_200"]["ok"], ">=", st["services"])
    if svc:
        targets["failed requests during the deploys (sum over services and rounds)"] = _check(
            sum(s["failed"] for s in svc), "==", 0)
        targets["deploys that did not succeed"] = _check(sum(1 for s in svc if s["exit"] != 0), "==", 0)
        targets["loads that kept their rate (of all)"] = _check(sum(1 for s in svc if s["rate_kept"]), ">=", len(svc))
        # zero_downtime's bar (no 100 ms without a successful answer) plus the time between two
        # requests at this rate, which at 30 req/s is itself 33 ms
        targets["longest gap between successful answers, ms (max)"] = _check(
            max(s["longest_gap_ms"] for s in svc), "<", round(TARGET_LONGEST_GAP_MS + 1000 / args.rate, 1))
    out["targets"] = targets
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, help="services of 2 tasks each (default 50; quick 6)")
    parser.add_argument("--bluegreen", type=int, help="how many of them are CODE_DEPLOY (default max(5, deploying/2))")
    parser.add_argument("--deploying", type=int, help="services deployed at once under load (default 10; quick 4)")
    parser.add_argument("--environments", type=int, default=1, help="environments (one HAProxy each) the services "
                        "are spread over (default 1)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (default 60; quick 10)")
    parser.add_argument("--rate", type=float, help="req/s on each deploying service's listener (default 30; quick 20)")
    parser.add_argument("--rounds", type=int, help="rounds of deploys (default 3; quick 1)")
    parser.add_argument("--grace-period", type=int, default=0,
                        help="healthCheckGracePeriodSeconds of every service (default 0, ECS's default)")
    parser.add_argument("--base-port", type=int, default=21000, help="first listener port (default 21000)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help=f"py-spy the idle daemon for {PROFILE_SECONDS:g} s after the idle window (default on)")
    parser.add_argument("--podman-baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="first time 16 pod starts with podman alone, 8 at a time (default on)")
    parser.add_argument("--profile-busy", action="store_true",
                        help="also py-spy the daemon during the startup and the last round of deploys (costs CPU "
                             "while measuring)")
    parser.add_argument("--quick", action="store_true", help="6 services, 4 deploying, 10 s idle, 1 round")
    parser.add_argument("--output", type=Path,
                        help="default bench/results/scale-<date>.json (quick: scale-quick-<date>)")
    args = parser.parse_args(argv)
    q = args.quick
    args.services = args.services or (6 if q else 50)
    args.deploying = args.deploying if args.deploying is not None else (4 if q else 10)
    args.bluegreen = args.bluegreen if args.bluegreen is not None else max(2 if q else 5, (args.deploying + 1) // 2)
    args.idle_seconds = args.idle_seconds or (10.0 if q else 60.0)
    args.rate = args.rate or (20.0 if q else 30.0)
    args.rounds = args.rounds or (1 if q else 3)
    if args.bluegreen >= args.services or args.deploying > args.services:
        parser.error("--bluegreen must leave rolling services, --deploying at most --services")

    began, now = time.monotonic(), datetime.datetime.now(datetime.UTC)

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:7.1f} s] {message}", flush=True)

    command = ["python3", "bench/scale.py", *(sys.argv[1:] if argv is None else argv)]
    results: dict[str, Any] = {"benchmark": "scale", "date": now.isoformat(timespec="seconds"),
                               "command": " ".join(command), "machine": machine(),
                               "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    error = None
    try:
        run(args, results, log)
    except BaseException as exc:  # noqa: BLE001 - still write what was measured (also on Ctrl-C), then re-raise
        error = exc
        results["error"] = f"{type(exc).__name__}: {exc}"
    results["elapsed_seconds"] = round(time.monotonic() - began, 1)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    summarize(results, args)
    output = args.output or RESULTS_DIR / f"scale{'-quick' if q else ''}-{now.date().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_summary(results)
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    if error is not None:
        if isinstance(error, KeyboardInterrupt):
            return 130
        raise error
    return 0 if all(v["pass"] for v in results["targets"].values()) else 1


def print_summary(r: dict) -> None:
    print("\n== scale: one daemon, {} services of 2 tasks ==".format(r.get("config", {}).get("services")))
    st = r.get("startup")
    if st:
        print(f"startup: {st['tasks']} tasks healthy in {st['all_tasks_healthy_s']} s "
              f"({st['tasks_healthy_per_s']} tasks/s), every deployment done at {st['all_deployments_done_s']} s, "
              f"{len(st['deployments_retried'])} retried; daemon CPU {st['cpu']['daemon_cpu_pct']} % "
              f"(+children {st['cpu']['daemon_children_cpu_pct']} %), "
              f"machine {st['cpu']['machine_busy_pct_of_all_cores']} %")
    idle_ = r.get("idle")
    if idle_:
        lp, c = idle_["loops"], idle_["cpu"]
        print(f"idle {idle_['seconds']:g} s: services pass p50 {lp['services']['p50_ms']} / "
              f"p95 {lp['services']['p95_ms']} ms, deploys pass p50 {lp['deploys']['p50_ms']} / "
              f"p95 {lp['deploys']['p95_ms']} ms; daemon CPU "
              f"{c['daemon_cpu_pct']} % of a core (with children {c['daemon_with_children_cpu_pct']} %), RSS "
              f"{c['rss_mb']} MB; HAProxy {c['haproxy_cpu_pct']} %; machine {c['machine_busy_pct_of_all_cores']} %")
    if st:
        tt = st["task_timings"]
        print(f"  tasks: row -> RUNNING p50 {tt['to_running_s'].get('p50')} s (p95 {tt['to_running_s'].get('p95')}), "
              f"RUNNING -> registered p50 {tt['running_to_registered_s'].get('p50')} s (p95 "
              f"{tt['running_to_registered_s'].get('p95')}), RUNNING -> healthy p50 "
              f"{tt['running_to_healthy_s'].get('p50')} s (p95 {tt['running_to_healthy_s'].get('p95')}); "
              f"{len(tt['failed'])} failed; HAProxy reloads {st.get('haproxy_reloads')}"
              + "".join(f"\n    {f['service']}: {f['reason']}" for f in tt["failed"]))
    for phase in ("startup", "idle"):
        if r.get(phase):
            print(f"  CPU by process during {phase}, % of one core: " + ", ".join(
                f"{k} {v}" for k, v in r[phase]["cpu"]["by_category_pct_of_one_core"].items()))
    pc = r.get("pass_costs")
    if pc:
        ps = pc["podman_ps"]
        print(f"podman ps ({ps['containers_listed']} containers): {ps['wall_ms_median']} ms wall, "
              f"{ps['cpu_ms_median']} ms CPU")
    for i, rd in enumerate(r.get("rounds", [])):
        print(f"round {i + 1} (-> {rd['version']}): {rd['failed_total']} failed of {rd['requests_total']} requests; "
              f"services pass p50 {rd['loops']['services']['p50_ms']} / p95 {rd['loops']['services']['p95_ms']} ms; "
              f"daemon CPU {rd['cpu']['daemon_cpu_pct']} % (+children {rd['cpu']['daemon_children_cpu_pct']} %), "
              f"RSS max {rd['loops']['rss_mb_max']} MB")
        print("  CPU by process, % of one core: " + ", ".join(
            f"{k} {v}" for k, v in rd["cpu"]["by_category_pct_of_one_core"].items()))
        for n, s in rd["services"].items():
            print(f"   {n:8} {s['kind']:9} deploy {s['deploy_seconds']:6} s exit {s['exit']} {s['status']}; "
                  f"{s['failed']} failed of {s['requests']} at {s['achieved_rate']}/s (lag max {s['max_lag_ms']} ms), "
                  f"all new after {s['all_answers_new_after_s']} s")
    if r.get("median"):
        print("median over rounds: " + json.dumps(r["median"]))
    if r.get("error"):
        print(f"ERROR: {r['error']}")
    for name, verdict in r.get("targets", {}).items():
        print(f"{'PASS' if verdict['pass'] else 'FAIL'}  {name}: {verdict['value']} (target {verdict['target']})")


if __name__ == "__main__":
    sys.exit(main())
