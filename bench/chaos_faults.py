"""Fault suite, part 2: faults other than a daemon crash, each driven into the demo stack (or a
small stack of its own) under a constant load, with the safe state it must end in and the time
it took to get there. Run through `python3 bench/chaos.py faults [--only a,b] [--repeat N]`.

    registry-killed   the registry process (docker-registry) SIGKILLed while the build runs
    registry-hung     ... SIGSTOPped (alive, not answering) while the build runs
    haproxy-killed    production's HAProxy (master and workers) SIGKILLed during the canary
    podman-start      a rolling deploy whose tasks cannot start: an image that does not exist,
                      and a container that exits at once
    hook-timeout      a lifecycle hook that hangs (sleep 600) past its 3-s timeout
    clock-jump        the daemon's wall clock jumps +30 min in a build, +1 h in a canary, and
                      back 1 h in the next canary (simulated: see ClockShim)
    disk-full         the data directory on a 48-MB tmpfs, filled while a service serves

Each fault is a function returning a list of run records: {fault, variant, safe_state, reached,
bound_s, what_happened, ...}. `bound_s` is measured from the fault's injection to the safe
state's last condition (named in `bound_of`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos import TERMINAL, DemoStack, _alive, stage_status
from chaos_load import ChaosLoad, first_ok_after, window

PHASE_TIMEOUT = 180.0


# -- waiting on the demo stack

def until(fn: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


def finish(stack: DemoStack, ex_id: str, timeout: float = PHASE_TIMEOUT) -> dict:
    """Approve when asked; the execution once it has ended."""
    def done() -> dict | None:
        ex = stack.daemon.execution(ex_id)
        if ex.get("awaitingApproval"):
            stack.daemon.api("POST", f"/api/v1/executions/{ex_id}/approval",
                             {"decision": "Approved", "comment": "chaos", "by": "chaos"})
        return ex if ex["status"] in TERMINAL else None
    return until(done, timeout, f"execution {ex_id} to end", interval=0.2)


def production_deployment(stack: DemoStack, since: float) -> dict | None:
    d = stack.daemon.deployment()
    return d if d and d["created_at"] >= since else None


def in_canary(stack: DemoStack, ex_id: str, since: float) -> dict | None:
    """Approving on the way: the production deployment once 10 % is on green."""
    ex = stack.daemon.execution(ex_id)
    if ex.get("awaitingApproval"):
        stack.daemon.api("POST", f"/api/v1/executions/{ex_id}/approval",
                         {"decision": "Approved", "comment": "chaos", "by": "chaos"})
    if ex["status"] in TERMINAL:
        raise RuntimeError(f"execution {ex_id} ended ({ex['status']}) before the canary")
    d = production_deployment(stack, since)
    return d if d and d["phase"] == "AllowTraffic" and 0 < d["traffic"] < 100 else None


def action_error(ex: dict, stage: str) -> str | None:
    for s in ex["stages"]:
        if s["name"] == stage:
            for a in s["actions"]:
                if a.get("error") or a.get("summary"):
                    return str(a.get("error") or a.get("summary"))[:400]
    return None


def _record(fault: str, variant: str, safe_state: str, reached: bool, bound_s: float | None, bound_of: str,
            happened: str, **extra: Any) -> dict:
    return {"fault": fault, "variant": variant, "safe_state": safe_state, "reached": reached,
            "bound_s": None if bound_s is None else round(bound_s, 2), "bound_of": bound_of,
            "what_happened": happened, **extra}


# -- registry

def fault_registry(stack: DemoStack, rate: float, hung: bool) -> dict:
    name = "registry-hung" if hung else "registry-killed"
    pid_file = stack.home / "registry" / "registry.pid"
    version = f"{name}-{int(time.time())}"
    commit, pushed_at = stack.push(version)
    ex_id = stack.wait_execution(commit)["id"]
    until(lambda: stage_status(stack.daemon.execution(ex_id), "Build") == "InProgress", 60, "the build")
    time.sleep(1.0)  # into the build: the unit tests, then the image and its push
    old = int(pid_file.read_text())
    t0 = time.time()
    os.kill(old, signal.SIGSTOP if hung else signal.SIGKILL)

    def back() -> float | None:
        try:
            new = int(pid_file.read_text())
        except (OSError, ValueError):
            return None
        if new == old or not _alive(new):
            return None
        try:
            urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=2)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                return None
        except OSError:
            return None
        return time.time()

    try:
        restarted = until(back, 120, "the registry to be restarted", interval=0.1)
    finally:
        if hung and _alive(old):
            os.kill(old, signal.SIGCONT)
    ex = finish(stack, ex_id)
    retried = None
    if ex["status"] != "Succeeded":
        stack.daemon.api("POST", f"/api/v1/executions/{ex_id}/retry", {"stage": "Build", "mode": "FAILED_ACTIONS"})
        retried = finish(stack, ex_id)["status"]
    build = stage_status(ex, "Build")
    serving = _version(stack.production_url)
    ok = restarted is not None and (ex["status"] == "Succeeded" or (
        build == "Failed" and stage_status(ex, "DeployStaging") in (None, "NotStarted", "Pending")))
    return _record(name, "SIGSTOP during the build" if hung else "SIGKILL during the build",
                   "the daemon's supervisor restarts the registry; the build pushes once it is back, or fails "
                   "with the push error and deploys nothing; a retry then succeeds", ok, restarted - t0,
                   "fault -> registry restarted and answering",
                   f"registry back after {restarted - t0:.1f} s; execution {ex['status']} (Build {build}"
                   + (f": {action_error(ex, 'Build')}" if build != "Succeeded" else "") + ")"
                   + (f"; retried -> {retried}" if retried else ""),
                   execution=ex_id, execution_status=ex["status"], retried=retried, production_serves=serving)


# -- HAProxy

def fault_haproxy(stack: DemoStack, rate: float) -> dict:
    version = f"haproxy-{int(time.time())}"
    lb_dir = stack.home / "lb" / "production"
    with ChaosLoad(stack.production_url, rate) as load:
        commit, pushed_at = stack.push(version)
        ex_id = stack.wait_execution(commit)["id"]
        d = until(lambda: in_canary(stack, ex_id, pushed_at - 1), PHASE_TIMEOUT, "the canary", interval=0.1)
        master = int((lb_dir / "haproxy.pid").read_text().split()[0])
        pids = [master, *_children(master)]
        t0 = time.time()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        answered = until(lambda: _answers(stack.production_url) and time.time(), 120, "the listener to answer",
                         interval=0.02)
        ex = finish(stack, ex_id)
        final = production_deployment(stack, pushed_at - 1)
        time.sleep(1)
    seen = window(load.samples, t0 - 1, time.time())
    resumed = first_ok_after(load.samples, t0)
    try:
        new_master = int((lb_dir / "haproxy.pid").read_text().split()[0])
    except (OSError, ValueError):
        new_master = None
    restarted = new_master is not None and new_master != master and _alive(new_master)
    log = _log_lines(stack.home, "not running; restarting")
    ok = restarted and answered is not None and ex["status"] == "Succeeded" and final is not None
    return _record("haproxy-killed", f"SIGKILL of master + {len(pids) - 1} worker(s) at {d['traffic']} % on green",
                   "the daemon restarts HAProxy with the listeners and the current weights; the release goes on "
                   "(or rolls back); requests fail only while nothing listens", ok, answered - t0,
                   "kill -> production listener answers again",
                   f"restarted by the daemon: {restarted}; listener answered after {answered - t0:.2f} s, first 2xx "
                   f"of the load {None if resumed is None else round(resumed - t0, 2)} s; deployment "
                   f"{final and final['status']} ({final and final['traffic']} % on green); execution "
                   f"{ex['status']}; load from the kill to the end: {seen['failed']} failed of {seen['requests']} "
                   f"{seen['failed_kinds']}",
                   execution=ex_id, load_window=seen, load_verdict=load.verdict, daemon_log=log[-3:])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _version(url: str) -> str | None:
    import json

    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.loads(resp.read()).get("version")
    except (OSError, ValueError):
        return None


def _log_lines(home: Path, needle: str) -> list[str]:
    try:
        text = (home / "daemon.log").read_text(errors="replace")
    except OSError:
        return []
    return [line[:300] for line in text.splitlines() if needle in line]


# -- podman cannot start the task

def fault_podman(stack: DemoStack, rate: float) -> list[dict]:
    from conveyor.images import BUSYBOX_IMAGE

    out = []
    for variant, image in (("image does not exist", "localhost/conveyor-chaos/missing:none"),
                           ("container exits at once (busybox, no python3)", BUSYBOX_IMAGE)):
        before = _version(stack.staging_url)
        with ChaosLoad(stack.staging_url, rate) as load:
            time.sleep(1)
            t0 = time.time()
            done = stack.daemon.cli("deploy", "staging", "orders", "--image", image, "--file",
                                    str(stack.clone / "conveyor.yml"), "--timeout", "5", check=False)
            t1 = time.time()
            status = stack.daemon.api("GET", "/api/v1/services/staging/orders/deployment")
            until(lambda: _running(stack) == 2, 60, "2 tasks running again", interval=0.2)
            t2 = time.time()
            time.sleep(1)
        seen = window(load.samples, t0, time.time())
        d = status.get("deployment") or {}
        after = _version(stack.staging_url)
        ok = done.returncode != 0 and seen["failed"] == 0 and after == before and set(seen["versions"]) == {before}
        out.append(_record(
            "podman-start", variant,
            "the circuit breaker fails the deployment and rolls back to the last COMPLETED revision; the old "
            "tasks serve throughout (0 failed requests); `conveyor deploy` exits 1 with the reason", ok, t1 - t0,
            "deploy command -> it returned FAILED",
            f"deploy exited {done.returncode} after {t1 - t0:.1f} s: {_last_line(done.stdout + done.stderr)}"
            f"; 2 tasks running after {t2 - t0:.1f} s; staging served {seen['versions']} with {seen['failed']} "
            f"failed of {seen['requests']}",
            deployment={k: d.get(k) for k in ("id", "status", "rolloutState", "rolloutStateReason", "reason",
                                              "failedTasks")}, load_window=seen, load_verdict=load.verdict))
    return out


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else ""


def _running(stack: DemoStack) -> int:
    svc = stack.daemon.api("GET", "/api/v1/services/staging/orders")
    return int(svc.get("runningCount") or 0)


# -- a hook that hangs

SMOKE = "command: [python3, ci/smoke.py]"


def fault_hook(stack: DemoStack, rate: float) -> dict:
    path = stack.clone / "conveyor.yml"
    original = path.read_text()
    if SMOKE not in original or "timeoutSeconds: 60" not in original:
        raise RuntimeError("the example's hook is not where this fault expects it")
    path.write_text(original.replace(SMOKE, 'command: [sleep, "600"]').replace("timeoutSeconds: 60",
                                                                               "timeoutSeconds: 3"))
    before = _version(stack.production_url)
    with ChaosLoad(stack.production_url, rate) as load:
        commit, pushed_at = stack.push(f"hook-{int(time.time())}")
        ex_id = stack.wait_execution(commit)["id"]

        def hook_running() -> float | None:
            ex = stack.daemon.execution(ex_id)
            if ex.get("awaitingApproval"):
                stack.daemon.api("POST", f"/api/v1/executions/{ex_id}/approval",
                                 {"decision": "Approved", "comment": "chaos", "by": "chaos"})
            d = production_deployment(stack, pushed_at - 1)
            return time.time() if d and d["phase"] == "AfterAllowTestTraffic" else None

        t0 = until(hook_running, PHASE_TIMEOUT, "the hook to start")
        d = until(lambda: (x := production_deployment(stack, pushed_at - 1)) and x["status"] in TERMINAL and x,
                  PHASE_TIMEOUT, "the deployment to end", interval=0.1)
        t1 = time.time()
        ex = finish(stack, ex_id)
        time.sleep(1)
    sleeping = subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True,
                              check=False).stdout.split()
    seen = window(load.samples, pushed_at, time.time())
    # put the smoke test back, and show that the next release goes through
    path.write_text(original)
    commit2, _ = stack.push(f"hook-fixed-{int(time.time())}")
    fixed = finish(stack, stack.wait_execution(commit2)["id"])["status"]
    ok = (d["status"] in ("Failed", "Stopped") and not sleeping and seen["failed"] == 0
          and set(seen["versions"]) == {before} and fixed == "Succeeded")
    return _record("hook-timeout", "sleep 600 on AfterAllowTestTraffic, timeoutSeconds 3",
                   "the hook is failed at its timeout and its process group killed; the deployment fails and "
                   "rolls back before production traffic reaches green; the execution fails; the next release "
                   "succeeds", ok, t1 - t0, "hook start -> deployment ended",
                   f"deployment {d['status']} {d.get('error_code')}: {str(d.get('error_message'))[:200]} after "
                   f"{t1 - t0:.1f} s; hook processes left: {len(sleeping)}; execution {ex['status']}; production "
                   f"served {seen['versions']} with {seen['failed']} failed of {seen['requests']}; next release "
                   f"{fixed}", execution=ex_id, load_window=seen, load_verdict=load.verdict)


# -- the clock

class ClockShim:
    """Wall-clock jumps for the daemon without touching the machine's clock (other jobs share it,
    and libfaketime is not installed): a sitecustomize.py, put first on PYTHONPATH of the
    daemon (and of the commands it starts), that adds the offset written in a file to
    time.time() and time.time_ns(). time.monotonic() is left alone, as an NTP step leaves
    CLOCK_MONOTONIC alone. Conveyor's clocks are `clock=time.time` defaults bound at import,
    after sitecustomize ran, so they see the jump; C code (datetime.now()) does not.
    """

    SOURCE = textwrap.dedent('''\
        import os as _os
        import time as _time

        _file = _os.environ.get("CONVEYOR_CHAOS_CLOCK_FILE")
        if _file:
            _real, _real_ns, _mono = _time.time, _time.time_ns, _time.monotonic
            _cache = [0.0, -1.0]

            def _offset():
                now = _mono()
                if now - _cache[1] > 0.05:
                    try:
                        with open(_file) as f:
                            _cache[0] = float(f.read().strip() or 0)
                    except (OSError, ValueError):
                        _cache[0] = 0.0
                    _cache[1] = now
                return _cache[0]

            _time.time = lambda: _real() + _offset()
            _time.time_ns = lambda: _real_ns() + int(_offset() * 1e9)
        ''')

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "sitecustomize.py").write_text(self.SOURCE)
        self.dir, self.file = directory, directory / "offset"
        self.file.write_text("0")

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "PYTHONPATH": os.pathsep.join([str(self.dir), *filter(None, [env.get("PYTHONPATH")])]),
                "CONVEYOR_CHAOS_CLOCK_FILE": str(self.file)}

    def set(self, offset: float) -> None:
        self.file.write_text(str(offset))


def fault_clock(stack: DemoStack, shim: ClockShim, rate: float) -> list[dict]:
    out = []
    # (a) +30 min in a build whose timeoutInMinutes is 20
    shim.set(0)
    commit, pushed_at = stack.push(f"clock-build-{int(time.time())}")
    ex_id = stack.wait_execution(commit)["id"]
    until(lambda: stage_status(stack.daemon.execution(ex_id), "Build") == "InProgress", 60, "the build")
    time.sleep(0.5)
    t0 = time.time()
    shim.set(1800)
    ex = finish(stack, ex_id)
    t1 = time.time()
    build = stage_status(ex, "Build")
    out.append(_record("clock-jump", "+30 min during the build (timeoutInMinutes: 20)",
                       "timeouts count elapsed time, not wall-clock differences: the build is not timed out by a "
                       "clock step; the execution succeeds", ex["status"] == "Succeeded", t1 - t0,
                       "jump -> execution ended",
                       f"execution {ex['status']} (Build {build}"
                       + (f": {action_error(ex, 'Build')}" if build != "Succeeded" else "") + ")",
                       execution=ex_id))
    # (b) +1 h more during the 3-s canary; (c) in the next canary, back by 1 h
    out.append(_clock_canary(stack, shim, rate, "+1 h during the 3-s canary", base=1800.0, jump=3600.0))
    out.append(_clock_canary(stack, shim, rate, "-1 h during the 3-s canary", base=5400.0, jump=-3600.0))
    shim.set(0)
    return out


def _clock_canary(stack: DemoStack, shim: ClockShim, rate: float, variant: str, base: float, jump: float) -> dict:
    shim.set(base)
    with ChaosLoad(stack.production_url, rate) as load:
        commit, pushed_at = stack.push(f"clock-canary-{int(time.time())}")
        ex_id = stack.wait_execution(commit)["id"]
        since = pushed_at - 1 + base

        def canary_over() -> float | None:
            x = production_deployment(stack, since)
            return time.time() if x and (x["traffic"] == 100 or x["status"] in TERMINAL) else None

        d = until(lambda: in_canary(stack, ex_id, since), PHASE_TIMEOUT, "the canary", interval=0.05)
        t0 = time.time()
        shim.set(base + jump)
        stalled_after = None
        try:
            shifted = until(canary_over, 45, "the canary to end")
        except RuntimeError:
            stalled_after = time.time() - t0
            shim.set(base)  # the clock comes back: does the release go on?
            shifted = until(canary_over, 60, "the canary to end")
        ex = finish(stack, ex_id)
        time.sleep(1)
    seen = window(load.samples, t0, time.time())
    final = production_deployment(stack, since)
    canary_s = shifted - t0
    ok = ex["status"] == "Succeeded" and seen["failed"] == 0 and stalled_after is None and canary_s > 1.0
    return _record(
        "clock-jump", variant,
        "the canary keeps its configured length (3 s) whatever the wall clock does; the release ends "
        "Succeeded; no request fails", ok, canary_s, "jump -> 100 % on green",
        f"canary at {d['traffic']} % ended {canary_s:.2f} s after the jump"
        + (f" (stalled {stalled_after:.0f} s, until the clock was put back)" if stalled_after else "")
        + f"; deployment {final and final['status']}; execution {ex['status']}; {seen['failed']} failed of "
        f"{seen['requests']}", execution=ex_id, load_window=seen, load_verdict=load.verdict)


# -- disk full

def fault_disk(rate: float) -> dict:
    from zero_downtime import Stack, build_images

    images = build_images()
    work = Path(tempfile.mkdtemp(prefix="conveyor-chaos-disk-"))
    mnt = work / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mnt)], check=True)
    try:
        stack = Stack()
        home = mnt / "home"
        stack.env["CONVEYOR_HOME"] = str(home)
        with stack:
            pid = int((home / "daemon.pid").read_text())
            stack.deploy(images["v1"])
            with ChaosLoad(stack.url, rate) as load:
                time.sleep(1)
                filler = mnt / "filler"
                t_full = time.time()
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * (1 << 20))
                            f.flush()
                    except OSError:
                        pass
                free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
                time.sleep(5)  # a few control-loop passes on a full disk
                alive_full = _alive(pid)
                api_full = _api_ok(stack)
                under = stack.deploy(images["v2"], check=False)
                t_freed = time.time()
                filler.unlink()
                api_after = until(lambda: _api_ok(stack), 30, "the API")
                after = stack.deploy(images["v2"], check=False)
                t_ok = time.time()
                time.sleep(1)
            alive_end = _alive(pid)
            integrity = _integrity(home)
        seen = window(load.samples, t_full, time.time())
        log = _log_lines(home, "No space left") if home.exists() else []
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    ok = (alive_full and alive_end and seen["failed"] == 0 and after["exit"] == 0
          and all(v == "ok" for v in integrity.values()))
    return _record("disk-full", "48-MB tmpfs as CONVEYOR_HOME, filled to ENOSPC while serving",
                   "serving goes on (0 failed requests); the daemon stays up; what needs the disk fails with an "
                   "error and changes nothing; after space is freed a deploy succeeds with no restart; every "
                   "store passes integrity_check", ok, t_ok - t_freed, "space freed -> a deploy succeeded",
                   f"{free} bytes left; daemon alive on a full disk: {alive_full}, API answered: {api_full}; deploy "
                   f"on a full disk exited {under['exit']} ({under['stderr'][-200:]!r}); after freeing: API "
                   f"{bool(api_after)}, deploy exited {after['exit']} in {after['seconds']} s; integrity {integrity}; "
                   f"load {seen['failed']} failed of {seen['requests']}; log lines with ENOSPC: {len(log)}",
                   load_window=seen, load_verdict=load.verdict, daemon_log=log[-3:])


def _api_ok(stack: Any) -> bool:
    done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", "status"], env=stack.env,
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode == 0


def _integrity(home: Path) -> dict[str, str]:
    out = {}
    for path in sorted(home.rglob("*.db")):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
                out[path.name] = db.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.Error as exc:
            out[path.name] = f"error: {exc}"
    return out


# -- the scenario

FAULTS = ("podman-start", "registry-killed", "registry-hung", "haproxy-killed", "clock-jump", "hook-timeout",
          "disk-full")


def scenario_faults(args: argparse.Namespace) -> dict:
    only = [f.strip() for f in args.only.split(",")] if args.only else list(FAULTS)
    unknown = set(only) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(FAULTS)}")
    records: list[dict] = []
    demo_faults = [f for f in FAULTS if f in only and f != "disk-full"]
    if demo_faults:
        work = Path(tempfile.mkdtemp(prefix="conveyor-chaos-faults-"))
        stack = DemoStack(work)
        shim = ClockShim(work / "clockshim")
        stack.daemon.env = shim.env(stack.daemon.env)
        try:
            first = stack.start()
            print(f"first release: {first['seconds']} s", flush=True)
            for fault in demo_faults:
                for i in range(args.repeat):
                    print(f"{fault} run {i + 1}/{args.repeat} ...", flush=True)
                    try:
                        got = _run_demo_fault(fault, stack, shim, args.rate)
                    except Exception as exc:  # noqa: BLE001 - a fault that broke the driver is a finding
                        got = [_record(fault, "error", "", False, None, "", f"the driver failed: {exc}")]
                    for r in got:
                        print(f"  {r['variant']}: {'REACHED' if r['reached'] else 'NOT REACHED'} "
                              f"(bound {r['bound_s']} s): {r['what_happened']}", flush=True)
                    records += got
        finally:
            shim.set(0)
            stack.stop()
    if "disk-full" in only:
        for i in range(args.repeat):
            print(f"disk-full run {i + 1}/{args.repeat} ...", flush=True)
            try:
                r = fault_disk(args.rate)
            except Exception as exc:  # noqa: BLE001
                r = _record("disk-full", "error", "", False, None, "", f"the driver failed: {exc}")
            print(f"  {r['variant']}: {'REACHED' if r['reached'] else 'NOT REACHED'} (bound {r['bound_s']} s): "
                  f"{r['what_happened']}", flush=True)
            records.append(r)
    table: dict[str, dict] = {}
    for r in records:
        row = table.setdefault(f"{r['fault']}: {r['variant']}", {"runs": 0, "reached": 0, "bounds": []})
        row["runs"] += 1
        row["reached"] += bool(r["reached"])
        if r["bound_s"] is not None:
            row["bounds"].append(r["bound_s"])
    for row in table.values():
        row["bound_median_s"] = statistics.median(row["bounds"]) if row["bounds"] else None
    return {"config": {"only": only, "repeat": args.repeat, "rate": args.rate},
            "table": table, "runs": records,
            "targets": {"faults ending in their safe state": {
                "value": sum(r["reached"] for r in records), "target": f"== {len(records)}",
                "pass": all(r["reached"] for r in records)}}}


def _run_demo_fault(fault: str, stack: DemoStack, shim: ClockShim, rate: float) -> list[dict]:
    if fault == "podman-start":
        return fault_podman(stack, rate)
    if fault in ("registry-killed", "registry-hung"):
        return [fault_registry(stack, rate, hung=fault == "registry-hung")]
    if fault == "haproxy-killed":
        return [fault_haproxy(stack, rate)]
    if fault == "clock-jump":
        return fault_clock(stack, shim, rate)
    if fault == "hook-timeout":
        return [fault_hook(stack, rate)]
    raise ValueError(fault)
