"""`conveyor verify`'s usage errors (exit 2, one clear line, no traceback) and an unreachable
daemon (exit 3), through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "verify", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (["staging"], "the following arguments are required: SERVICE"),
    (["staging", "orders", "--rate", "fast"], "argument --rate: not a number: 'fast'"),
    (["staging", "orders", "--rate", "nan"], "argument --rate: not a finite number"),
    (["staging", "orders", "--rate", "0"], "--rate must be a number > 0"),
    (["staging", "orders", "--during", "restart"], "argument --during: invalid choice: 'restart'"),
    (["staging", "orders", "--method", "DELETE"], "argument --method: invalid choice: 'DELETE'"),
    (["staging", "orders", "--method", "post"], "--method POST needs --path"),
    (["staging", "orders", "--during", "deploy", "--duration", "10"], "--duration is for a load alone"),
    (["staging", "orders", "--image", "reg/orders:v2"], "--image goes with --during deploy"),
    (["staging", "orders", "--post-fraction", "0.3"], "--post-fraction needs --post-path"),
    (["staging", "orders", "--path", "version"], "--path must be an absolute path"),
])
def test_usage_errors_exit_2_with_the_reason(tmp_path, args, message):
    done = cli(tmp_path, *args)
    assert done.returncode == 2, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_unreachable_daemon_exits_3(tmp_path):
    done = cli(tmp_path, "staging", "orders", "--duration", "1")
    assert done.returncode == 3, done
    assert "the Conveyor daemon is not running" in done.stderr
