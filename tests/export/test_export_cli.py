"""`conveyor export cloudformation` as a user runs it: in the example's directory it writes the
templates committed under examples/orders-service/aws/ byte for byte, lists on stderr what has
no AWS equivalent, and refuses an unknown environment with exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders-service"


def conveyor(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd / ".home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_example_exports_to_its_committed_templates(tmp_path):
    project = tmp_path / "orders-service"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("aws"))
    done = conveyor("export", "cloudformation", "--pipeline", cwd=project)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (project / "aws").iterdir())
    assert written == sorted(p.name for p in (EXAMPLE / "aws").glob("*.yaml"))
    for name in written:
        assert (project / "aws" / name).read_bytes() == (EXAMPLE / "aws" / name).read_bytes(), name
    assert done.stdout.splitlines() == [f"wrote aws/{name}" for name in
                                        ["staging.yaml", "production.yaml", "repositories.yaml", "pipeline.yaml"]]
    notes = done.stderr.splitlines()
    assert notes and all(line.startswith("note: ") for line in notes)
    # a second-based canary interval is never dropped silently
    assert ("note: environments.production.services.orders.deployment.config.canaryInterval: 3s → 1 min "
            "(CodeDeploy takes whole minutes, at least 1)") in notes


def test_one_environment_into_a_directory(tmp_path):
    project = tmp_path / "orders-service"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("aws"))
    done = conveyor("export", "cloudformation", "--env", "production", "-o", "out/cfn", cwd=project)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (project / "out" / "cfn").iterdir()) == ["production.yaml", "repositories.yaml"]


def test_an_unknown_environment_exits_2_naming_the_known_ones(tmp_path):
    project = tmp_path / "orders-service"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("aws"))
    done = conveyor("export", "cloudformation", "--env", "prod", cwd=project)
    assert done.returncode == 2
    assert "no environment 'prod' in conveyor.yml (environments: staging, production)" in done.stderr
    assert "Traceback" not in done.stderr and not (project / "aws").exists()
