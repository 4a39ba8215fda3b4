"""The command target: argv (no shell), the event JSON on stdin, a minimal environment, exit
status classification, the timeout killing the process group, output cut and masked."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import pytest
from target_fixtures import message, secrets_from

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.target import DeliveryError, event_payload
from conveyor.notify.targets import build_target
from conveyor.secrets.masking import default_masker


def run(argv: list[str], timeout: float = 10, msg=None) -> str:
    target = TargetDef("command", {"argv": argv, "timeoutSeconds": timeout})
    return build_target(target, secrets_from({}), allow_host_commands=True).send(msg or message())


def script(tmp_path, body: str) -> list[str]:
    path = tmp_path / "hook.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_event_json_on_stdin_and_a_minimal_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak-to-the-command")
    out = tmp_path / "got.json"
    argv = script(tmp_path, f"""\
        import json, os, sys
        data = sys.stdin.read()
        with open({str(out)!r}, "w") as f:
            json.dump({{"stdin": data, "env": dict(os.environ), "argv": sys.argv[1:]}}, f)
        print("paged on-call")
        """)
    msg = message()
    receipt = run(argv + ["--team", "web; rm -rf /", "$HOME"], msg=msg)
    assert receipt.endswith("exited 0: paged on-call")
    got = json.loads(out.read_text())
    assert json.loads(got["stdin"]) == json.loads(json.dumps(event_payload(msg)))
    assert got["argv"] == ["--team", "web; rm -rf /", "$HOME"]      # no shell: passed as they are
    env = {k: v for k, v in got["env"].items() if k not in ("LC_CTYPE",)}   # Python may add LC_CTYPE
    assert set(env) == {"PATH", "HOME", "CONVEYOR_EVENT_TYPE", "CONVEYOR_DELIVERY_ID"}
    assert env["CONVEYOR_EVENT_TYPE"] == "pipeline-execution-failed" and env["CONVEYOR_DELIVERY_ID"] == "dlv-0001"


@pytest.mark.parametrize("code, retry", [(1, True), (2, True), (75, True), (126, False), (127, False)])
def test_exit_status_classification(tmp_path, code, retry):
    argv = script(tmp_path, f"import sys; sys.stdin.read(); print('boom'); sys.exit({code})")
    with pytest.raises(DeliveryError) as err:
        run(argv)
    assert err.value.retry is retry and f"exited {code}" in str(err.value) and "boom" in str(err.value)


def test_a_program_that_is_not_there_gives_up(tmp_path):
    with pytest.raises(DeliveryError) as err:
        run([str(tmp_path / "no-such-program")])
    assert err.value.retry is False and "command not found" in str(err.value)
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(DeliveryError) as err:
        run([str(plain)])
    assert err.value.retry is False and "not executable" in str(err.value)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"      # a zombie is dead, not yet reaped
    except FileNotFoundError:
        return False


def test_the_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    argv = script(tmp_path, f"""\
        import os, pathlib, subprocess, sys, time
        sys.stdin.read()
        subprocess.Popen([sys.executable, "-c",
                          "import os, pathlib, time; pathlib.Path({str(pidfile)!r}).write_text(str(os.getpid())); "
                          "time.sleep(120)"])
        while not pathlib.Path({str(pidfile)!r}).exists():
            time.sleep(0.01)
        print("started", flush=True)
        time.sleep(120)
        """)
    with pytest.raises(DeliveryError) as err:
        run(argv, timeout=2)
    assert err.value.retry is True and "killed after 2s" in str(err.value) and "started" in str(err.value)
    pid = int(pidfile.read_text())
    for _ in range(500):        # SIGKILL is asynchronous: wait for the kernel to finish it
        if not _alive(pid):
            break
        time.sleep(0.01)
    assert not _alive(pid)


def test_output_is_cut_and_masked(tmp_path):
    default_masker().add("s3cret-token-in-output")
    argv = script(tmp_path, "import sys; sys.stdin.read(); print('x' * 5000); print('token=s3cret-token-in-output')")
    receipt = run(argv)
    assert "s3cret-token-in-output" not in receipt and "token=***" in receipt
    assert len(receipt) < 600 and "…" in receipt


def test_host_commands_must_be_allowed():
    target = TargetDef("command", {"argv": ["true"], "timeoutSeconds": 5})
    with pytest.raises(DeliveryError) as err:
        build_target(target, secrets_from({}), allow_host_commands=False)
    assert err.value.retry is False and "allowHostCommands: true" in str(err.value)
