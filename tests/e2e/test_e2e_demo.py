"""The README's main job: `conveyor demo --yes` runs the orders-service pipeline end to end —
a push triggers it, the CodeBuild action runs the example's buildspec (unit tests with a JUnit
report, the image, a push to the local registry), the ECS action rolls the image out to staging
behind HAProxy, the approval is given and CodeDeployToECS releases it to production as a canary
with a smoke-test hook. With --bad-release a second commit fails under traffic: the alarm on
green's 5xx stops it before production traffic reaches it, with zero failed production requests."""

from __future__ import annotations

import re
import subprocess

import pytest
from stack_support import stack_missing

from conveyor.images import BASE_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.registry.uris import DEFAULT_PORT


@pytest.mark.podman
def test_demo_runs_end_to_end(conveyor):
    engine = detect_engine()
    if not image_exists(engine, BASE_IMAGE):
        stack_missing(f"{BASE_IMAGE} is missing: run `conveyor setup`")
    # the registry port the insecure-registry drop-in of `conveyor setup` names
    conveyor.env["CONVEYOR_REGISTRY_PORT"] = str(DEFAULT_PORT)
    done = conveyor("demo", "--yes", "--bad-release", check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    good, bad = out.split("--bad-release: git push", 1)
    assert "remote: conveyor: started execution" in out
    for stage in ("Source", "Build", "DeployStaging", "Approval", "DeployProduction"):
        assert re.search(rf"^{stage}\s+Succeeded\s", good, re.M), out
    assert re.search(r"^DeployProduction\s+Failed\s", bad, re.M), out
    assert "ALARM_ACTIVE: alarm orders-5xx is in ALARM" in bad and "traffic back on blue in" in bad, bad
    assert re.search(r"production listener during the bad release: \d+ requests, 0 failed", bad), bad
    # the team's webhook (a local receiver checking each signature) heard what the example's rule selects
    team = good.split("notifications the team's webhook received", 1)[1]
    for kind in ("manual-approval-needed", "deployment-succeeded", "pipeline-execution-succeeded"):
        assert re.search(rf"^  {kind} .*\[signature verified", team, re.M), team
    heard_types = re.findall(r"^  ([a-z]+(?:-[a-z]+)+) ", team.split("\n\n", 1)[0], re.M)
    assert sorted(heard_types) == ["deployment-succeeded", "manual-approval-needed", "pipeline-execution-succeeded"]
    assert "staging/orders" not in team  # the rule takes production's deployments only
    heard = bad.split("notifications of the bad release", 1)[1]
    for kind in ("deployment-alarm", "deployment-rolled-back", "pipeline-execution-failed"):
        assert re.search(rf"^  {kind} .*\[signature verified", heard, re.M), heard
    assert "not received within" not in out, out
    # it ends with the dashboard's address: a one-time login link, never the token
    assert re.search(r"^watch it in the dashboard: http://127\.0\.0\.1:\d+/login/link\?code=\S+$", out, re.M), out
    assert (conveyor.home / "token").read_text().strip() not in out
    assert re.search(r"^tests: unit-tests: SUCCEEDED — (\d+) tests, \1 passed, 0 failed$", out, re.M), out
    image = re.search(r"image built, tested and pushed to the local registry: (\S+)", out).group(1)
    try:
        assert image_exists(engine, image)
        ex = conveyor.json("history")[1]
        assert ex["status"] == "Succeeded" and ex["trigger"]["type"] == "GitPush"
        assert image.endswith(f"/orders-service:{ex['commit'][:7]}")
        detail = conveyor.execution(ex["id"])
        approval = detail["stages"][3]["actions"][0]["approval"]
        assert approval["by"] == "conveyor-demo" and approval["decision"] == "Approved"
        logs = conveyor("logs", ex["id"], "--stage", "Build").stdout
        assert re.search(r"Ran \d+ tests", logs) and "Phase complete: POST_BUILD State: SUCCEEDED" in logs
        [repo] = conveyor.json("image", "ls", "orders-service")["repositories"]
        assert [ex["commit"][:7]] in [i["imageTags"] for i in repo["images"]]
        # staging serves the commit just pushed, behind HAProxy
        assert re.search(rf"curl http://127.0.0.1:8081/version → .*\"commit\": \"{ex['commit']}"
                         r".*the commit just pushed", out), out
        # production: the canary with its hook, then the same commit behind the production listener
        assert re.search(rf"curl http://127.0.0.1:8080/version → .*\"commit\": \"{ex['commit']}"
                         r".*the commit just pushed", good), good
        assert "hooks: AfterAllowTestTraffic Succeeded" in good
        status = conveyor.json("deploy", "status", "production", "orders")
        assert status["deployment"]["error_code"] == "ALARM_ACTIVE"
        assert status["deployment"]["traffic"] == 0  # the bad release never got production traffic
    finally:
        conveyor("down", "--all", check=False)
        subprocess.run([engine.binary, "rmi", "-f", image], capture_output=True)
        bad = re.search(r"--bad-release: git push origin main \((\w+)\)", out)
        if bad:
            subprocess.run([engine.binary, "rmi", "-f", image.rsplit(":", 1)[0] + ":" + bad.group(1)],
                           capture_output=True)
