"""DORA metrics of a real history: a pipeline whose CodeDeployToECS action releases to
`production` three times — v1 ships, a slow build trips its latency alarm under load and is
rolled back, v2 fixes it — then GET /api/v1/dora and `conveyor dora --json` count exactly that:
three production deployments, two successes, one change failure (the alarm), restored when the
traffic went back to blue, and lead times from each commit's committer time (set by hand) to its
deployment's success, as the stream recorded them."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

from e2e_support import GIT_ENV, action, wait_until
from test_e2e_bluegreen import SLOW_ALARM, Release, images  # noqa: F401 (images: the module's fixture)


def commit(root, message: str, committed: int) -> None:
    env = {**os.environ, **GIT_ENV, "GIT_COMMITTER_DATE": f"@{committed} +0200"}
    for args in (["add", "-A"], ["commit", "--quiet", "--allow-empty", "-m", message]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def api(daemon, path: str) -> dict:
    endpoint = json.loads((daemon.home / "daemon.json").read_text())
    token = (daemon.home / "token").read_text().strip()
    request = urllib.request.Request(f"http://127.0.0.1:{endpoint['port']}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def release(daemon, rel: Release, image: str, config: str, message: str, committed: int) -> dict:
    rel.write(config)
    (rel.root / "imageDetail.json").write_text(json.dumps({"ImageURI": image}))
    commit(rel.root, message, committed)
    ex = daemon.json("run", "--repo", str(rel.root))
    return wait_until(lambda: (lambda e: e if e["status"] in ("Succeeded", "Failed", "Stopped") else None)(
        daemon.execution(ex["id"])), 180, 0.3, what=f"execution of {message}")


def test_the_metrics_count_what_the_daemon_did(tmp_path, daemon, images):  # noqa: F811
    rel = Release(daemon, tmp_path, "terminationWaitMinutes: 0\n")
    subprocess.run(["git", "init", "--quiet", "-b", "main"], cwd=rel.root, check=True)
    now = int(time.time())
    commits = {"v1": now - 7200, "slow": now - 3600, "v2": now - 1800}
    first = release(daemon, rel, images["v1"], "terminationWaitMinutes: 0\n", "v1", commits["v1"])
    assert first["status"] == "Succeeded", json.dumps(action(first, "Deploy", "Deploy"))
    load = rel.load()
    try:
        bad = release(daemon, rel, images["slow"],
                      "config: CodeDeployDefault.ECSAllAtOnce\nterminationWaitMinutes: 40s\n" + SLOW_ALARM,
                      "slow", commits["slow"])
    finally:
        load.stop()
    assert bad["status"] == "Failed", json.dumps(action(bad, "Deploy", "Deploy"))
    wait_until(lambda: rel.status()["deployment"]["taskSets"]["replacement"].get("status") == "INACTIVE", 60,
               what="the rollback's cleanup")  # the next deployment waits for it (one at a time)
    fixed = release(daemon, rel, images["v2"], "terminationWaitMinutes: 0\n", "v2", commits["v2"])
    assert fixed["status"] == "Succeeded", json.dumps(action(fixed, "Deploy", "Deploy"))
    assert rel.version() == "v2"

    stream = api(daemon, "/api/v1/events?type=deployment-succeeded,deployment-alarm,deployment-rolled-back"
                         "&environment=production&limit=100")["events"]
    by_execution = {e["subject"].get("execution_id"): e for e in stream if e["type"] == "deployment-succeeded"}
    leads = sorted(by_execution[ex["id"]]["at"] - commits[name] for ex, name in ((first, "v1"), (fixed, "v2")))
    alarm = next(e for e in stream if e["type"] == "deployment-alarm")
    rolled_back = next(e for e in stream if e["type"] == "deployment-rolled-back")
    assert alarm["subject"]["execution_id"] == bad["id"] == rolled_back["subject"]["execution_id"]

    report = wait_until(lambda: (lambda r: r if r["summary"]["deployments"]["finished"] == 3 else None)(
        api(daemon, "/api/v1/dora?days=1")), 10, what="three finished deployments")
    s = report["summary"]
    assert report["environments"] == ["production"]
    assert s["deployments"] == {"succeeded": 2, "finished": 3, "failed": 1}
    assert s["changeFailureRate"]["rate"] == 1 / 3
    assert s["changeFailureRate"]["causes"] == {"alarm": 1, "failed": 0, "rolled-back": 0, "fix-forward": 0}
    assert s["deploymentFrequency"]["perDay"] == 2.0
    assert s["leadTime"]["count"] == 2 and s["leadTime"]["medianSeconds"] == sum(leads) / 2
    assert s["leadTime"]["p90Seconds"] == leads[1]
    assert s["timeToRestore"]["medianSeconds"] == max(0.0, rolled_back["at"] - alarm["at"])
    assert s["timeToRestore"]["unrestored"] == 0
    assert [g["pipeline"] for g in report["pipelines"]] == ["bg-test"]
    assert [(g["environment"], g["service"]) for g in report["services"]] == [("production", "orders")]
    assert sum(day["deployments"] for day in s["daily"]) == 2

    cli = json.loads(daemon("dora", "--json", "--days", "1", "--pipeline", "bg-test").stdout)
    assert cli["summary"]["deployments"] == s["deployments"]
    assert cli["summary"]["leadTime"] == s["leadTime"]
