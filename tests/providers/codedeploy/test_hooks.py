"""Lifecycle hooks, invoked for real: subprocesses, an HTTP server on 127.0.0.1, and podman."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from stack_support import stack_missing

from conveyor.errors import ConveyorError
from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local import containers
from conveyor.providers.local.codedeploy.hooks import (
    DEFAULT_CALLBACK_DELAY,
    FAILED,
    HOOK_ENV_VARS,
    IN_PROGRESS,
    LOG_TAIL_CHARS,
    PENDING,
    SUCCEEDED,
    HookContext,
    HookResult,
    HookSpec,
    hook_payload,
    invoke_hook,
    new_execution_id,
    read_report,
)
from conveyor.providers.local.codedeploy.hooks_command import (
    clean_env_command,
    container_command,
    container_name,
)
from conveyor.providers.local.codedeploy.hooks_http import url_problem
from conveyor.providers.local.containers import ContainerEngine
from conveyor.secrets.masking import Masker


def ctx_for(workdir=None, **changes) -> HookContext:
    values = {"deployment_id": "d-ABCDEF123", "execution_id": "exec-1", "lifecycle_event": "AfterAllowTestTraffic",
              "environment": "production", "service": "orders", "test_url": "http://127.0.0.1:9001",
              "production_url": "http://127.0.0.1:9000", "workdir": workdir, "attempt": 1, "details": None}
    values.update(changes)
    return HookContext(**values)


def sh(script: str, **kw) -> HookSpec:
    return HookSpec("hook", command=("sh", "-c", script), **kw)


def py(code: str, **kw) -> HookSpec:
    return HookSpec("hook", command=(sys.executable, "-c", code), **kw)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


# --- the report a hook prints or returns (pure) ------------------------------------------------

@pytest.mark.parametrize("text, status, delay, error", [
    ('{"hookStatus": "SUCCEEDED"}', SUCCEEDED, 0.0, None),
    ('{"hookStatus": "failed"}', FAILED, 0.0, None),
    ('{"hookStatus": "IN_PROGRESS"}', IN_PROGRESS, DEFAULT_CALLBACK_DELAY, None),
    ('{"hookStatus": "In_Progress", "callBackDelay": 2.5}', IN_PROGRESS, 2.5, None),
    ('{"status": "Succeeded"}', SUCCEEDED, 0.0, None),
    ('{"status": "InProgress", "callBackDelay": 0}', IN_PROGRESS, 0.0, None),
    ('{"hookStatus": "DONE"}', FAILED, 0.0, "invalid hookStatus 'DONE' (expected SUCCEEDED, FAILED or IN_PROGRESS)"),
    ('{"hookStatus": null}', FAILED, 0.0, "invalid hookStatus null (expected SUCCEEDED, FAILED or IN_PROGRESS)"),
    ('{"status": "ok"}', FAILED, 0.0, "invalid status 'ok' (expected Succeeded, Failed or InProgress)"),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": -1}', FAILED, 0.0,
     "invalid callBackDelay -1 (expected a number of seconds ≥ 0)"),
    ('{"hookStatus": "IN_PROGRESS", "callBackDelay": "5"}', FAILED, 0.0,
     "invalid callBackDelay '5' (expected a number of seconds ≥ 0)"),
])
def test_read_report(text, status, delay, error):
    report = read_report(text)
    assert (report.status, report.callback_delay, report.error) == (status, delay, error)


@pytest.mark.parametrize("text", ["", "done", "[1, 2]", '{"result": "SUCCEEDED"}', '{"hookStatus": ', "{}"])
def test_not_a_report(text):
    assert read_report(text) is None


def test_payload_and_env_carry_the_same_facts():
    ctx = ctx_for(attempt=2, details={"n": 1})
    assert hook_payload(ctx) == {
        "DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "exec-1",
        "LifecycleEvent": "AfterAllowTestTraffic", "Environment": "production", "Service": "orders",
        "TestUrl": "http://127.0.0.1:9001", "ProductionUrl": "http://127.0.0.1:9000", "Attempt": 2,
        "hookDetails": {"n": 1}}


def test_execution_ids_are_opaque_and_unique():
    ids = {new_execution_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 32 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_result_round_trips_through_json():
    result = HookResult(IN_PROGRESS, "reported IN_PROGRESS", 5.0, {"n": [1, 2]}, "tail")
    assert HookResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    assert not result.done and HookResult(FAILED, "x").done


# --- golden argv ----------------------------------------------------------------------------

def test_command_hook_runs_under_env_i():
    cmd = clean_env_command(["./smoke.sh", "--fast"], {"PATH": "/bin", "A": "x y"}, "/src")
    assert cmd.argv[1:] == ["-i", "--", "PATH=/bin", "A=x y", "./smoke.sh", "--fast"]
    assert cmd.cwd == "/src"


def test_container_hook_argv():
    cmd = container_command(ContainerEngine("podman"), "localhost/smoke:1", ["sh", "-c", "./smoke.sh"],
                            env_file="/tmp/env", name=container_name("ex/1", 2), workdir=Path("/srv/src"))
    assert str(cmd) == ("podman run --init --env-file /tmp/env --rm --name cv-hook-ex-1-2 "
                        "--volume /srv/src:/workspace:ro --workdir /workspace --label conveyor.hook=cv-hook-ex-1-2 "
                        "--network host "
                        "localhost/smoke:1 sh -c ./smoke.sh")


# --- command hooks --------------------------------------------------------------------------

def test_exit_0_succeeds(tmp_path):
    result = invoke_hook(sh("echo checking; exit 0"), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message, result.log_tail) == (SUCCEEDED, "exited with code 0", "checking")


def test_exit_3_fails_with_the_code_and_output(tmp_path):
    result = invoke_hook(sh("echo 'GET /health -> 500' >&2; exit 3"), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (FAILED, "exited with code 3")
    assert result.log_tail == "GET /health -> 500"


def test_exit_127_says_command_not_found(tmp_path):
    result = invoke_hook(sh("no-such-tool-xyz"), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (FAILED, "exited with code 127 (command not found)")
    plain = invoke_hook(sh("exit 125"), ctx_for(tmp_path), timeout=10)  # 125 means something only to podman
    assert plain.message == "exited with code 125"


def test_killed_by_a_signal(tmp_path):
    result = invoke_hook(sh("kill -KILL $$"), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (FAILED, "killed by SIGKILL")


def test_timeout_kills_the_whole_process_group(tmp_path):
    script = "sleep 60 & echo $! > child.pid; echo started; wait"
    result = invoke_hook(sh(script), ctx_for(tmp_path), timeout=0.5, grace=0.5)
    assert (result.status, result.message, result.log_tail) == (FAILED, "timed out after 0.5 s", "started")
    assert not alive(int((tmp_path / "child.pid").read_text()))


def test_timeout_kills_a_hook_that_ignores_sigterm(tmp_path):
    script = "trap '' TERM; sleep 60 & echo $! > child.pid; wait; wait; wait"
    result = invoke_hook(sh(script), ctx_for(tmp_path), timeout=0.3, grace=0.3)
    # The shell ignores SIGTERM: that it and its child are gone shows the SIGKILL after the grace.
    assert result.message == "timed out after 0.3 s"
    assert not alive(int((tmp_path / "child.pid").read_text()))


def test_cancel_stops_the_hook(tmp_path):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    result = invoke_hook(sh("sleep 30"), ctx_for(tmp_path), timeout=30, cancel=cancel, grace=0.5)
    assert (result.status, result.message) == (FAILED, "cancelled")


POLLER = """
import json, os
details = json.loads(os.environ["CONVEYOR_HOOK_DETAILS"]) or {"polls": 0}
polls = details["polls"] + 1
print("attempt", os.environ["CONVEYOR_HOOK_ATTEMPT"], "polls", polls)
if polls < 3:
    print(json.dumps({"hookStatus": "IN_PROGRESS", "callBackDelay": 0.5, "hookDetails": {"polls": polls}}))
else:
    print(json.dumps({"hookStatus": "SUCCEEDED", "hookDetails": {"polls": polls}}))
"""


def test_in_progress_details_round_trip_between_attempts(tmp_path):
    spec, ctx, seen = py(POLLER), ctx_for(tmp_path), []
    while True:
        result = invoke_hook(spec, ctx, timeout=10)
        seen.append((result.status, result.callback_delay, result.details, result.message))
        if result.done:
            break
        ctx = ctx_for(tmp_path, attempt=ctx.attempt + 1, details=result.details)
    assert seen == [
        (IN_PROGRESS, 0.5, {"polls": 1}, "reported IN_PROGRESS; polling again in 0.5 s"),
        (IN_PROGRESS, 0.5, {"polls": 2}, "reported IN_PROGRESS; polling again in 0.5 s"),
        (SUCCEEDED, 0.0, {"polls": 3}, "reported SUCCEEDED"),
    ]
    assert result.log_tail.startswith("attempt 3 polls 3\n")


def test_in_progress_without_details_keeps_the_previous_ones_and_waits_30_s(tmp_path):
    result = invoke_hook(sh("""echo '{"hookStatus": "in_progress"}'"""), ctx_for(tmp_path, details={"k": 1}),
                         timeout=10)
    assert (result.status, result.callback_delay, result.details) == (IN_PROGRESS, 30.0, {"k": 1})


def test_report_overrides_the_exit_code(tmp_path):
    failed = invoke_hook(sh("""echo '{"status": "Failed"}'; exit 0"""), ctx_for(tmp_path), timeout=10)
    assert (failed.status, failed.message) == (FAILED, "reported Failed")
    passed = invoke_hook(sh("""echo '{"hookStatus": "SUCCEEDED"}'; exit 1"""), ctx_for(tmp_path), timeout=10)
    assert (passed.status, passed.message) == (SUCCEEDED, "reported SUCCEEDED (exited with code 1)")


def test_only_the_last_line_is_a_report(tmp_path):
    result = invoke_hook(sh("""echo '{"hookStatus": "FAILED"}'; echo all fine"""), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (SUCCEEDED, "exited with code 0")


def test_invalid_hook_status_fails(tmp_path):
    result = invoke_hook(sh("""echo '{"hookStatus": "MAYBE"}'"""), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (
        FAILED, "invalid hookStatus 'MAYBE' (expected SUCCEEDED, FAILED or IN_PROGRESS)")


def test_missing_executable_fails_with_a_clear_message(tmp_path):
    on_path = invoke_hook(HookSpec("h", command=("no-such-hook-xyz", "--x")), ctx_for(tmp_path), timeout=10)
    assert on_path.status == FAILED
    assert on_path.message.startswith("hook command 'no-such-hook-xyz' not found on PATH (")
    relative = invoke_hook(HookSpec("h", command=("./hooks/smoke.sh",)), ctx_for(tmp_path), timeout=10)
    assert relative.message == f"hook command './hooks/smoke.sh' not found (in {tmp_path})"
    (tmp_path / "plain.sh").write_text("echo hi\n")
    not_exec = invoke_hook(HookSpec("h", command=("./plain.sh",)), ctx_for(tmp_path), timeout=10)
    assert not_exec.message == ("hook command './plain.sh' is not executable "
                                "(chmod +x it, or run it with its interpreter)")


def test_a_script_in_the_deployed_source_runs_there(tmp_path):
    script = tmp_path / "hooks" / "smoke.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\npwd\nls\n")
    script.chmod(0o755)
    result = invoke_hook(HookSpec("h", command=("./hooks/smoke.sh",)), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.log_tail) == (SUCCEEDED, f"{tmp_path}\nhooks")


def test_without_a_workdir_the_hook_runs_in_a_scratch_directory_that_is_removed(tmp_path):
    result = invoke_hook(sh("pwd"), ctx_for(None), timeout=10)
    scratch = Path(result.log_tail)
    assert result.status == SUCCEEDED and scratch.name.startswith("cv-hook-")
    assert not scratch.exists()


def test_environment_is_minimal_plus_spec_env_plus_hook_vars(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVEYOR_TEST_DAEMON_SECRET", "must-not-leak")
    monkeypatch.setenv("LANG", "C.UTF-8")
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    spec = py(dump, env={"SMOKE_PATH": "/health", "CONVEYOR_DEPLOYMENT_ID": "spoofed"})
    ctx = ctx_for(tmp_path, attempt=2, details={"polls": 1})
    result = invoke_hook(spec, ctx, timeout=10)
    env = json.loads(result.log_tail)
    assert set(env) <= {"PATH", "HOME", "LANG", "SMOKE_PATH", "PWD", "LC_CTYPE", *HOOK_ENV_VARS}
    assert {k: env[k] for k in HOOK_ENV_VARS} == {
        "CONVEYOR_DEPLOYMENT_ID": "d-ABCDEF123", "CONVEYOR_HOOK_EXECUTION_ID": "exec-1",
        "CONVEYOR_LIFECYCLE_EVENT": "AfterAllowTestTraffic", "CONVEYOR_ENVIRONMENT": "production",
        "CONVEYOR_SERVICE": "orders", "CONVEYOR_TEST_URL": "http://127.0.0.1:9001",
        "CONVEYOR_PRODUCTION_URL": "http://127.0.0.1:9000", "CONVEYOR_HOOK_ATTEMPT": "2",
        "CONVEYOR_HOOK_DETAILS": '{"polls":1}'}
    assert (env["SMOKE_PATH"], env["PATH"], env["HOME"], env["LANG"]) == (
        "/health", os.environ["PATH"], os.environ.get("HOME", "/"), "C.UTF-8")


def test_invalid_env_name_fails_before_running(tmp_path):
    result = invoke_hook(sh("touch ran", env={"BAD-NAME": "1"}), ctx_for(tmp_path), timeout=10)
    assert (result.status, result.message) == (FAILED, "invalid environment variable name 'BAD-NAME' in the hook's env")
    assert not (tmp_path / "ran").exists()


def test_output_is_masked_in_tail_message_and_streamed_lines(tmp_path):
    lines = []
    def mask(text: str) -> str:
        return text.replace("s3cret-token", "***")

    result = invoke_hook(sh("echo token=$T; exit 4", env={"T": "s3cret-token"}), ctx_for(tmp_path), timeout=10,
                         mask=mask, on_line=lines.append)
    assert (result.log_tail, lines) == ("token=***", ["token=***"])
    missing = invoke_hook(HookSpec("h", command=("./s3cret-token",)), ctx_for(tmp_path), timeout=10, mask=mask)
    assert missing.message == f"hook command './***' not found (in {tmp_path})"


def test_a_secret_across_the_64_kib_read_boundary_is_masked(tmp_path):
    """The hook prints one line of 64 KiB - 5 characters and then the secret: it is read in two
    pieces, the secret's first 5 characters in the first. The daemon's Masker masks across."""
    secret = "s3cret-token-value"
    lines: list[str] = []
    script = f"head -c {64 * 1024 - 5} /dev/zero | tr '\\0' x; echo \"$T tail\"; exit 4"
    result = invoke_hook(sh(script, env={"T": secret}), ctx_for(tmp_path), timeout=30,
                         mask=Masker([secret]).mask, on_line=lines.append)
    shown = "".join(lines)
    assert secret not in shown and shown == "x" * (64 * 1024 - 5) + "*** tail"
    assert result.log_tail.endswith("xxx*** tail") and secret[5:] not in result.log_tail


def test_log_tail_keeps_the_last_4_kb(tmp_path):
    result = invoke_hook(py("for i in range(2000): print(f'line {i:04d}')"), ctx_for(tmp_path), timeout=10)
    assert len(result.log_tail) <= LOG_TAIL_CHARS
    assert result.log_tail.endswith("line 1999") and "line 1000" not in result.log_tail


# --- HTTP hooks -----------------------------------------------------------------------------

class HookServer(BaseHTTPRequestHandler):
    """Answers by path; records what each request carried."""

    received: ClassVar[list] = []
    release: ClassVar[threading.Event] = threading.Event()
    ROUTES: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/empty": (200, b""),
        "/text": (200, b"ok"),
        "/failed": (200, b'{"hookStatus": "FAILED"}'),
        "/polling": (200, b'{"hookStatus": "IN_PROGRESS", "callBackDelay": 1, "hookDetails": {"step": 2}}'),
        "/accepted": (202, b""),
        "/accepted-succeeded": (202, b'{"status": "Succeeded"}'),
        "/error": (500, b"<html>\n  boom: database s3cret-token unreachable\n</html>"),
        "/redirect": (302, b""),
    }

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        if self.path == "/slow":  # answers only once the test is over: a hook that returns timed out
            type(self).release.wait(60)
        code, payload = self.ROUTES.get(self.path, (404, b"no such hook"))
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/empty")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HookServer)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    HookServer.release.set()
    httpd.shutdown()
    httpd.server_close()


def http(url: str) -> HookSpec:
    return HookSpec("hook", url=url)


def test_http_hook_receives_the_payload(server):
    HookServer.received.clear()
    ctx = ctx_for(attempt=3, details={"step": 1})
    result = invoke_hook(http(server + "/empty"), ctx, timeout=5)
    assert (result.status, result.message) == (SUCCEEDED, "HTTP 200")
    assert HookServer.received == [("/empty", "application/json", hook_payload(ctx))]


@pytest.mark.parametrize("path, status, message, delay, details", [
    ("/text", SUCCEEDED, "HTTP 200", 0.0, None),
    ("/failed", FAILED, "reported FAILED (HTTP 200)", 0.0, None),
    ("/polling", IN_PROGRESS, "reported IN_PROGRESS (HTTP 200); polling again in 1 s", 1.0, {"step": 2}),
    ("/accepted", PENDING, "HTTP 202: accepted; waiting for the hook to report its status", 0.0, None),
    ("/accepted-succeeded", SUCCEEDED, "reported Succeeded (HTTP 202)", 0.0, None),
    ("/redirect", FAILED, "HTTP 302 (redirects are not followed)", 0.0, None),
    ("/missing", FAILED, "HTTP 404: no such hook", 0.0, None),
])
def test_http_verdicts(server, path, status, message, delay, details):
    result = invoke_hook(http(server + path), ctx_for(), timeout=5)
    assert (result.status, result.message, result.callback_delay, result.details) == (
        status, message, delay, details)


def test_http_500_fails_with_a_masked_body_excerpt(server):
    result = invoke_hook(http(server + "/error"), ctx_for(), timeout=5,
                         mask=lambda t: t.replace("s3cret-token", "***"))
    assert (result.status, result.message) == (FAILED, "HTTP 500: <html> boom: database *** unreachable </html>")
    assert "s3cret-token" not in result.log_tail


def test_http_connection_refused_fails():
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke_hook(http(f"http://127.0.0.1:{port}/hook"), ctx_for(), timeout=5)
    assert (result.status, result.message) == (FAILED, f"POST http://127.0.0.1:{port}/hook: connection refused")


def test_http_hook_times_out(server):
    result = invoke_hook(http(server + "/slow"), ctx_for(), timeout=0.3)  # /slow never answers in time
    assert (result.status, result.message) == (FAILED, "timed out after 0.3 s")


def test_http_cancel(server):
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    result = invoke_hook(http(server + "/slow"), ctx_for(), timeout=5, cancel=cancel)
    assert (result.status, result.message) == (FAILED, "cancelled")


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "hook URL 'file:///etc/passwd': only http:// and https:// URLs can be hooks"),
    ("ftp://127.0.0.1/x", "hook URL 'ftp://127.0.0.1/x': only http:// and https:// URLs can be hooks"),
    ("http:///nohost", "hook URL 'http:///nohost' has no host"),
])
def test_only_http_urls(url, message):
    assert url_problem(url) == message
    assert invoke_hook(http(url), ctx_for(), timeout=5) == HookResult(FAILED, message)


def test_a_hook_with_nothing_to_run_fails():
    assert invoke_hook(HookSpec("empty"), ctx_for(), timeout=5) == HookResult(
        FAILED, "hook 'empty' has no command, image or url")


# --- container hooks ------------------------------------------------------------------------

podman = ContainerEngine("podman")


def _need_busybox():
    try:
        present = containers.image_exists(podman, BUSYBOX_IMAGE)
    except ConveyorError as exc:
        stack_missing(f"podman unusable ({exc}); run `conveyor setup`")
    if not present:
        stack_missing(f"{BUSYBOX_IMAGE} is absent; run `conveyor setup` to build it")


@pytest.mark.podman
def test_container_hook_gets_the_env_and_the_source_and_reports(tmp_path):
    _need_busybox()
    (tmp_path / "marker.txt").write_text("from the source\n")
    script = ('echo "$CONVEYOR_DEPLOYMENT_ID $CONVEYOR_LIFECYCLE_EVENT $CONVEYOR_HOOK_DETAILS $GREETING"; '
              'cat marker.txt; echo \'{"hookStatus": "FAILED"}\'')
    spec = HookSpec("smoke", image=BUSYBOX_IMAGE, container_command=("sh", "-c", script), env={"GREETING": "hi"})
    result = invoke_hook(spec, ctx_for(tmp_path, details={"a": 1}), timeout=60, engine=podman)
    assert (result.status, result.message) == (FAILED, "reported FAILED")
    assert result.log_tail == ('d-ABCDEF123 AfterAllowTestTraffic {"a":1} hi\nfrom the source\n'
                               '{"hookStatus": "FAILED"}')


@pytest.mark.podman
def test_container_hook_exit_code_and_timeout(tmp_path):
    _need_busybox()
    ok = invoke_hook(HookSpec("h", image=BUSYBOX_IMAGE, container_command=("true",)), ctx_for(), timeout=60,
                     engine=podman)
    assert (ok.status, ok.message) == (SUCCEEDED, "exited with code 0")
    ctx = ctx_for(execution_id=new_execution_id())
    slow = invoke_hook(HookSpec("h", image=BUSYBOX_IMAGE, container_command=("sleep", "60")), ctx, timeout=1,
                       engine=podman)
    assert (slow.status, slow.message) == (FAILED, "timed out after 1 s")
    left = subprocess.run(["podman", "ps", "-a", "--quiet", "--filter", f"name={container_name(ctx.execution_id, 1)}"],
                          capture_output=True, text=True, check=True)
    assert left.stdout.strip() == ""

