"""The README's main job: `conveyor demo --yes` runs the orders-service pipeline end to end —
a push triggers it, the unit tests run in a container, the image is built, the approval given."""

from __future__ import annotations

import re
import subprocess

import pytest

from conveyor.providers.local.containers import detect_engine, image_exists
from conveyor.stack.components import BASE_IMAGE


@pytest.mark.podman
def test_demo_runs_end_to_end(conveyor):
    engine = detect_engine()
    if not image_exists(engine, BASE_IMAGE):
        pytest.skip(f"{BASE_IMAGE} is missing: run `conveyor setup`")
    done = conveyor("demo", "--yes")
    out = done.stdout
    assert "remote: conveyor: started execution" in out
    for stage in ("Source", "Test", "Build", "Approval"):
        assert re.search(rf"^{stage}\s+Succeeded\s", out, re.M), out
    image = re.search(r"image built and tested: (\S+)", out).group(1)
    try:
        assert image_exists(engine, image)
        ex = conveyor.json("history")[0]
        assert ex["status"] == "Succeeded" and ex["trigger"]["type"] == "GitPush"
        detail = conveyor.execution(ex["id"])
        approval = detail["stages"][3]["actions"][0]["approval"]
        assert approval["by"] == "conveyor-demo" and approval["decision"] == "Approved"
        logs = conveyor("logs", ex["id"], "--stage", "Test").stdout
        assert re.search(r"Ran \d+ tests", logs) and "OK" in logs
    finally:
        subprocess.run([engine.binary, "rmi", "-f", image], capture_output=True)
