"""The build shell: one shell instance across commands and phases (CodeBuild 0.2, aws-semantics
§1.5), run for real — with sh and bash on the host, and inside a container."""

from __future__ import annotations

import shutil
import threading

import pytest
from stack_support import stack_missing

from conveyor.build.shell import CANCELLED, TIMED_OUT, ShellGone, ShellSession
from conveyor.providers.local.process import LinePart

SHELLS = [s for s in ("sh", "bash") if shutil.which(s)]


@pytest.fixture(params=SHELLS)
def shell(request, tmp_path):
    lines: list[str] = []
    session = ShellSession([request.param], on_line=lines.append, cwd=str(tmp_path))
    session.start()
    session.lines = lines  # type: ignore[attr-defined]
    yield session
    session.close()


def test_cd_and_export_persist_across_commands(shell, tmp_path):
    assert shell.run("mkdir -p app && cd app && export MODE=test") == 0
    assert shell.run('echo "$MODE in $(pwd)"') == 0
    assert shell.lines == [f"test in {tmp_path}/app"]


def test_exit_status_of_each_command(shell):
    assert shell.run("true") == 0
    assert shell.run("false") == 1
    assert shell.run("sh -c 'exit 42'") == 42
    assert shell.alive


def test_a_syntax_error_fails_the_command_but_keeps_the_shell(shell):
    shell.run("export KEPT=yes")
    assert shell.run("if then") == 2
    assert any("then" in line for line in shell.lines)
    shell.lines.clear()
    assert shell.run('echo "$KEPT"') == 0
    assert shell.lines == ["yes"]


def test_commands_cannot_read_the_next_command(shell):
    assert shell.run("cat; echo after-cat") == 0
    assert shell.run("echo next") == 0
    assert shell.lines == ["after-cat", "next"]


def test_output_is_kept_exactly(shell):
    shell.run(r'printf "no newline"')
    shell.run(r'printf "a\n\nb\n\n"')
    shell.run(r'echo "  two  spaces \\ and a backslash"')
    shell.run("echo one; echo two >&2")
    assert shell.lines == ["no newline", "a", "", "b", "", "  two  spaces \\ and a backslash", "one", "two"]


def test_multi_line_commands_run_as_one(shell):
    assert shell.run("for i in 1 2 3; do\n  echo n$i\ndone") == 0
    assert shell.lines == ["n1", "n2", "n3"]


def test_variables_reads_the_session_state(shell):
    shell.run("export A='x y'; B=2; C=''")
    assert shell.variables(["A", "B", "C", "UNSET", "bad-name"]) == {"A": "x y", "B": "2", "C": ""}


def test_exit_ends_the_session_with_its_status(shell):
    assert shell.run("exit 3") == 3
    assert not shell.alive
    with pytest.raises(ShellGone):
        shell.run("echo never")


def test_timeout_and_cancel_stop_the_command(shell):
    assert shell.run("sleep 30", timeout=0.5) == TIMED_OUT
    assert not shell.alive


def test_cancel(tmp_path):
    cancel = threading.Event()
    with ShellSession(["sh"], on_line=lambda _: None, cwd=str(tmp_path)) as sh:
        threading.Timer(0.3, cancel.set).start()
        assert sh.run("sleep 30", cancel=cancel) == CANCELLED


def test_output_cannot_forge_the_end_marker(tmp_path):
    lines: list[str] = []
    with ShellSession(["sh"], on_line=lines.append, cwd=str(tmp_path)) as sh:
        assert sh.run("echo '__CV_DONE_0000000000000000 0'; exit_code=5; (exit 5)") == 5
    assert lines == ["__CV_DONE_0000000000000000 0"]


@pytest.mark.podman
def test_the_same_session_inside_a_container(tmp_path):
    from conveyor.images import BUSYBOX_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    engine = detect_engine()
    if not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"{BUSYBOX_IMAGE} is missing: run `conveyor setup`")
    lines: list[str] = []
    argv = [engine.binary, "run", "-i", "--rm", "--volume", f"{tmp_path}:/src", "--workdir", "/src",
            BUSYBOX_IMAGE, "sh"]
    with ShellSession(argv, on_line=lines.append) as sh:
        assert sh.run("mkdir -p out && cd out && export WHERE=container") == 0
        assert sh.run('echo "$WHERE $(pwd)" > result.txt; cat result.txt') == 0
        assert sh.run("false") == 1
    assert lines == ["container /src/out"]
    assert (tmp_path / "out" / "result.txt").read_text() == "container /src/out\n"


def test_over_long_lines_come_in_parts_and_long_values_stay_whole(shell):
    """Output is read 64 KiB at a time (memory stays bounded): a longer line arrives as LineParts
    and then its end; one ending exactly on a boundary, before the next command's marker, is
    ended by an empty piece; exported values longer than a piece come back whole."""
    size = 64 * 1024
    assert shell.run(f"head -c {2 * size} /dev/zero | tr '\\0' x") == 0  # no newline at all
    assert shell.run("echo next") == 0
    assert [type(line) for line in shell.lines] == [LinePart, LinePart, str, str]
    assert "".join(shell.lines[:3]) == "x" * (2 * size) and shell.lines[3] == "next"
    assert shell.run(f'export BIG="$(head -c {size + 10} /dev/zero | tr "\\0" y)"') == 0
    assert shell.variables(["BIG"]) == {"BIG": "y" * (size + 10)}
