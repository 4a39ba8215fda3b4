"""The offline verbs and the CLI's promises: exact messages, exit codes (0 ok, 1 failed,
2 bad input, 3 daemon unreachable), and never a traceback for a user's mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(home or cwd / ".home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


BAD = """\
name: demo
pipeline:
  executionMode: Queued
  stages:
    - name: Source
      actions:
        - name: Src
          provider: Git
          outputArtifacts: [src]
    - name: Build
      actions:
        - name: B
          provider: Codebuild
          inputArtifacts: [srcx]
"""


def test_validate_reports_every_error_with_position_and_exits_2(tmp_path):
    (tmp_path / "conveyor.yml").write_text(BAD)
    done = cli("validate", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "conveyor.yml:3:3 pipeline.executionMode: unknown executionMode 'Queued' (did you mean 'QUEUED'?)",
        "conveyor.yml:13:11 pipeline.stages[1].actions[0].provider: unknown provider 'Codebuild' "
        "(did you mean 'CodeBuild'?)",
        "conveyor.yml:14:28 pipeline.stages[1].actions[0].inputArtifacts[0]: input artifact 'srcx' is not produced "
        "by any action (known: src)",
        "3 errors",
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("text, expected", [
    ("", "conveyor.yml:1:1: the file is empty; expected a YAML mapping"),
    ("- a\n- b\n", "conveyor.yml:1:1: expected a mapping at the top level (name:, pipeline:, ...), got a list"),
    ("name: [x\n", "conveyor.yml:2:1: malformed YAML: expected ',' or ']', but got '<stream end>'"),
    ("name: a\nname: b\n", "conveyor.yml:2:1 name: duplicate key 'name' (first defined on line 1)"),
])
def test_broken_files_get_one_line_with_the_position(tmp_path, text, expected):
    (tmp_path / "conveyor.yml").write_text(text)
    done = cli("validate", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == expected
    assert "Traceback" not in done.stderr


def test_validate_json_and_a_missing_file(tmp_path):
    (tmp_path / "conveyor.yml").write_text(BAD)
    out = json.loads(cli("validate", "--json", cwd=tmp_path).stdout)
    assert out["errors"] == 3 and out["files"][0]["valid"] is False
    missing = cli("validate", "nope.yml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == ["nope.yml: file not found", "1 error"]


def test_reference_and_example_files_are_valid(tmp_path):
    for path in (REPO / "docs" / "conveyor.reference.yml", REPO / "examples" / "orders-service" / "conveyor.yml"):
        done = cli("validate", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "is valid" in done.stdout


def test_daemon_not_running_is_exit_3_with_the_next_step(tmp_path):
    done = cli("status", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        f"conveyor: the Conveyor daemon is not running (data dir {tmp_path / '.home'})",
        "  next: start it with `conveyor up`",
    ]


def test_bad_usage_is_exit_2(tmp_path):
    done = cli("stop", cwd=tmp_path)
    assert done.returncode == 2
    assert "the following arguments are required: execution" in done.stderr


def test_import_codepipeline_writes_a_valid_conveyor_yml(tmp_path):
    src = tmp_path / "pipeline.json"
    src.write_text(json.dumps({"pipeline": {
        "name": "imported", "roleArn": "arn:aws:iam::123456789012:role/p",
        "artifactStore": {"type": "S3", "location": "bucket-name"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS",
                                                   "provider": "CodeStarSourceConnection", "version": "1"},
                "configuration": {"ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
                                  "FullRepositoryId": "me/app", "BranchName": "main"},
                "outputArtifacts": [{"name": "SourceOutput"}]}]},
            {"name": "Approve", "actions": [{
                "name": "Approve", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual",
                                                    "version": "1"},
                "configuration": {"CustomData": "check it"}}]},
        ]}}))
    done = cli("import", "codepipeline", str(src), "-o", "conveyor.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cli("validate", cwd=tmp_path).returncode == 0
    text = (tmp_path / "conveyor.yml").read_text()
    assert "provider: Git" in text and "provider: Manual" in text and "check it" in text
