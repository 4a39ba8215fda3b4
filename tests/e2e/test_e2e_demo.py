"""The README's main job: `conveyor demo --yes` runs the orders-service pipeline end to end —
a push triggers it, the CodeBuild action runs the example's buildspec (unit tests with a JUnit
report, the image, a push to the local registry), the ECS action rolls the image out to staging
behind HAProxy, and the approval is given."""

from __future__ import annotations

import re
import subprocess

import pytest

from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.registry.uris import DEFAULT_PORT
from conveyor.stack.components import BASE_IMAGE


@pytest.mark.podman
def test_demo_runs_end_to_end(conveyor):
    engine = detect_engine()
    if not image_exists(engine, BASE_IMAGE):
        pytest.skip(f"{BASE_IMAGE} is missing: run `conveyor setup`")
    # the registry port the insecure-registry drop-in of `conveyor setup` names
    conveyor.env["CONVEYOR_REGISTRY_PORT"] = str(DEFAULT_PORT)
    done = conveyor("demo", "--yes")
    out = done.stdout
    assert "remote: conveyor: started execution" in out
    for stage in ("Source", "Build", "DeployStaging", "Approval"):
        assert re.search(rf"^{stage}\s+Succeeded\s", out, re.M), out
    assert re.search(r"^tests: unit-tests: SUCCEEDED — (\d+) tests, \1 passed, 0 failed$", out, re.M), out
    image = re.search(r"image built, tested and pushed to the local registry: (\S+)", out).group(1)
    try:
        assert image_exists(engine, image)
        ex = conveyor.json("history")[0]
        assert ex["status"] == "Succeeded" and ex["trigger"]["type"] == "GitPush"
        assert image.endswith(f"/orders-service:{ex['commit'][:7]}")
        detail = conveyor.execution(ex["id"])
        approval = detail["stages"][3]["actions"][0]["approval"]
        assert approval["by"] == "conveyor-demo" and approval["decision"] == "Approved"
        logs = conveyor("logs", ex["id"], "--stage", "Build").stdout
        assert re.search(r"Ran \d+ tests", logs) and "Phase complete: POST_BUILD State: SUCCEEDED" in logs
        [repo] = conveyor.json("image", "ls", "orders-service")["repositories"]
        assert [i["imageTags"] for i in repo["images"]] == [[ex["commit"][:7]]]
        # staging serves the commit just pushed, behind HAProxy
        assert re.search(rf"curl http://127.0.0.1:8081/version → .*\"commit\": \"{ex['commit']}.*the commit just pushed",
                         out), out
        svc = conveyor.json("service", "describe", "staging", "orders")
        assert (svc["runningCount"], svc["healthyCount"], svc["rolloutState"]) == (2, 2, "COMPLETED")
    finally:
        conveyor("down", "--all", check=False)
        subprocess.run([engine.binary, "rmi", "-f", image], capture_output=True)
