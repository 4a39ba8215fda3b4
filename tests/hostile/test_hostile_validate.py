"""Every hostile input of hostile_cases.py, through `conveyor validate --kind K` as a user runs it:
exit 2, a message that names the file with line and column, and never a traceback. The files of
one kind go to one `conveyor validate` process (one per case would cost minutes); each file must
still get its own positioned message, so a crash or a hang on one case fails the run and the
message says which. Time and memory per input are measured in bench/hostile_input.py, not here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hostile_cases import COMMON, JSON_ONLY, YAML_ONLY, Case, build_cases, cli_kind

#: Cases about the path rather than the content: the message names the file, with no position.
PATH_CASES = {"directory", "symlink-loop"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> list[Case]:
    return build_cases(tmp_path_factory.mktemp("hostile"))


def test_the_corpus_holds_at_least_the_69_kinds_of_the_issue(cases):
    names = {c.name for c in cases}
    assert len(names) == len(COMMON) + len(YAML_ONLY) + len(JSON_ONLY) >= 69
    assert {"billion-laughs", "deep-flow-100k", "huge-int", "nul-byte", "lone-surrogate-escape", "dev-zero-symlink",
            "fifo", "sparse-1gib", "utf16-bom", "tab-indentation", "invalid-utf8", "unterminated-string",
            "top-level-list"} <= names
    assert len(cases) > 300  # every common case for each of the 8 file kinds


def _validate(paths: list[Path], kind: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd / ".home")}
    # The timeout only stops a hang from blocking the suite (a FIFO read used to block forever).
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "validate", "--kind", kind,
                           *map(str, paths)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind", ["conveyor", "buildspec", "appspec", "pipeline", "taskdef", "imagedefinitions"])
def test_each_hostile_file_gets_a_positioned_error_and_exit_2(cases, kind, tmp_path):
    mine = [c for c in cases if cli_kind(c.kind) == kind]
    done = _validate([c.path for c in mine], kind, tmp_path)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-3000:]
    assert done.returncode == 2, output[-3000:]
    lines: dict[str, list[str]] = defaultdict(list)
    for line in output.splitlines():
        for c in mine:
            if line.startswith(f"{c.path}:"):
                lines[c.name + "/" + c.kind].append(line)
    missing, unpositioned = [], []
    for c in mine:
        found = lines[c.name + "/" + c.kind]
        if not found:
            missing.append(c.name + "/" + c.kind)
        elif c.name not in PATH_CASES and not any(re.match(rf"{re.escape(str(c.path))}:\d+:\d+[ :]", line)
                                                   for line in found):
            unpositioned.append(f"{c.name}/{c.kind}: {found[0]}")
    assert not missing, f"no message for {missing}"
    assert not unpositioned, "\n".join(unpositioned)


def test_a_path_case_names_the_file_and_says_why(cases, tmp_path):
    directory = next(c for c in cases if c.name == "directory" and c.kind == "conveyor")
    done = _validate([directory.path], "conveyor", tmp_path)
    assert done.returncode == 2
    assert f"{directory.path}: is a directory, expected a file" in done.stderr
