import os
import threading
import time

import pytest

from conveyor.errors import ConveyorError
from conveyor.providers.local import process
from conveyor.providers.local.process import (
    CANCELLED,
    TIMED_OUT,
    Command,
    CommandFailed,
    CommandNotFound,
    CommandTimedOut,
    run,
    stream,
)


def sh(script: str, **kw) -> Command:
    return Command(["sh", "-c", script], **kw)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


# --- Command as data ---------------------------------------------------------------------

def test_str_is_a_shell_quoted_line():
    assert str(Command(["echo", "a b", "it's", "$HOME"])) == "echo 'a b' 'it'\"'\"'s' '$HOME'"


def test_display_shows_cwd_and_extra_env():
    cmd = Command(["make", "test"], env={"A": "1", "B": "x y"}, cwd="/src dir")
    assert cmd.display() == "cd '/src dir' && A=1 B='x y' make test"


def test_redacted_strings_never_show():
    cmd = Command(["podman", "login", "-p", "s3cret"], env={"TOKEN": "s3cret"}, redact=("s3cret",))
    assert str(cmd) == "podman login -p ***"
    assert "s3cret" not in cmd.display()
    with pytest.raises(CommandFailed) as err:
        run(Command(["sh", "-c", "echo bad s3cret >&2; exit 1"], redact=("s3cret",)))
    assert "s3cret" not in str(err.value)


# --- run -----------------------------------------------------------------------------------

def test_run_captures_output_and_duration():
    done = run(sh("echo out; echo err >&2"))
    assert (done.returncode, done.stdout, done.stderr, done.ok) == (0, "out\n", "err\n", True)
    assert done.duration >= 0


def test_run_passes_input_env_and_cwd(tmp_path):
    done = run(sh('cat; echo "$GREETING"; pwd', input=b"from stdin\n",
                  env={"GREETING": "hello"}, cwd=str(tmp_path)))
    assert done.stdout == f"from stdin\nhello\n{tmp_path}\n"
    assert "PATH" in os.environ  # the extra env is added to, not instead of, ours


def test_run_nonzero_raises_with_argv_code_and_stderr_tail():
    with pytest.raises(CommandFailed) as err:
        run(sh("echo one >&2; echo two >&2; exit 3"))
    assert err.value.returncode == 3
    assert err.value.argv == ["sh", "-c", "echo one >&2; echo two >&2; exit 3"]
    assert str(err.value) == "`sh -c 'echo one >&2; echo two >&2; exit 3'` exited with 3: one | two"
    assert isinstance(err.value, ConveyorError)


def test_run_nonzero_without_check_returns():
    assert run(sh("exit 4"), check=False).returncode == 4


def test_missing_executable_is_a_clear_error():
    with pytest.raises(CommandNotFound) as err:
        run(Command(["no-such-tool-xyz", "--version"]))
    assert str(err.value) == "no-such-tool-xyz: command not found"
    assert err.value.hint == "install it with `conveyor setup`"
    assert isinstance(err.value.__cause__, FileNotFoundError)


def test_missing_cwd_is_not_reported_as_missing_executable():
    with pytest.raises(ConveyorError, match="working directory /no/such/dir does not exist"):
        run(Command(["true"], cwd="/no/such/dir"))


def test_run_timeout_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    with pytest.raises(CommandTimedOut, match="did not finish within 0.5 s"):
        run(sh(f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5))
    assert wait_gone(int(pidfile.read_text()))


def test_dry_run_prints_instead_of_running(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(process, "ECHO", shown.append)
    marker = tmp_path / "ran"
    assert run(Command(["touch", str(marker)], cwd="/"), dry_run=True).returncode == 0
    monkeypatch.setattr(process, "DRY_RUN", True)
    assert stream(Command(["touch", str(marker)]), print) == 0
    assert not marker.exists()
    assert shown == [f"$ cd / && touch {marker}", f"$ touch {marker}"]


# --- stream --------------------------------------------------------------------------------

def test_stream_merges_stdout_and_stderr_in_order():
    lines = []
    code = stream(sh("echo a; echo b >&2; echo c; exit 7"), lines.append)
    assert (code, lines) == (7, ["a", "b", "c"])


def test_stream_handles_lots_of_output_without_deadlock():
    count = []
    code = stream(sh("seq 1 200000; seq 1 50000 >&2"), lambda line: count.append(1), timeout=60)
    assert code == 0 and len(count) == 250000


def test_stream_feeds_input():
    lines = []
    assert stream(Command(["cat"], input=b"x" * 1_000_000 + b"\nend\n"), lines.append) == 0
    assert lines[-1] == "end"
    assert len(lines[0]) == process.MAX_LINE_BYTES  # long lines arrive in bounded chunks
    assert sum(len(line) for line in lines[:-1]) == 1_000_000


def test_stream_cancel_kills_the_group_and_returns_cancelled(tmp_path):
    pidfile = tmp_path / "child.pid"
    cancel = threading.Event()
    lines = []

    def on_line(line):
        lines.append(line)
        cancel.set()

    # SIGTERM is enough: were the 10-minute grace waited out, the test would hang, not pass.
    code = stream(sh(f"sleep 60 & echo $! > {pidfile}; echo started; wait"), on_line, cancel, grace=600)
    assert code == CANCELLED and lines == ["started"]
    assert wait_gone(int(pidfile.read_text()))


def test_stream_timeout_returns_timed_out():
    assert stream(sh("echo hi; sleep 60"), print, timeout=0.5, grace=600) == TIMED_OUT


def test_stream_sigkills_what_ignores_sigterm():
    lines = []
    script = "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.1; done"
    code = stream(sh(script), lines.append, timeout=0.5, grace=1.0)
    # It saw SIGTERM and went on looping: only the SIGKILL after the grace can have ended it.
    assert code == TIMED_OUT
    assert lines[0] == "ready" and "got TERM" in lines


def test_stream_on_line_error_kills_and_propagates(tmp_path):
    pidfile = tmp_path / "pid"

    def boom(line):
        raise RuntimeError("consumer broke")

    with pytest.raises(RuntimeError, match="consumer broke"):
        stream(sh(f"echo $$ > {pidfile}; echo x; sleep 60"), boom)
    assert wait_gone(int(pidfile.read_text()))


def test_stream_returns_when_a_background_job_keeps_the_pipe(tmp_path):
    pidfile = tmp_path / "pid"
    code = stream(sh(f"sleep 30 & echo $! > {pidfile}; exit 0"), print, grace=0.5)
    assert code == 0
    assert wait_gone(int(pidfile.read_text()))


def test_stream_reports_signal_deaths_as_negative():
    assert stream(sh("kill -9 $$"), print) == -9


def test_stream_from_many_worker_threads():
    results = {}

    def work(i):
        out = []
        results[i] = (stream(sh(f"seq 1 {1000 + i}; exit {i}"), out.append), len(out))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: (i, 1000 + i) for i in range(8)}


def test_stream_missing_executable_raises():
    with pytest.raises(CommandNotFound):
        stream(Command(["no-such-tool-xyz"]), print)


def test_start_and_terminate_a_daemon(tmp_path):
    logfile = tmp_path / "d.log"
    proc = process.start(sh("echo up; trap 'echo bye; exit 0' TERM; sleep 60 & wait"),
                         log_path=str(logfile))
    time.sleep(0.3)
    assert process.terminate(proc, grace=2) == 0
    assert logfile.read_text() == "up\nbye\n"
