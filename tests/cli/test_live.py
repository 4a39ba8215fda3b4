"""The live views of `run --follow`, `deploy` and `setup`: drawn by rich on a recorded terminal
(Console(record=True, force_terminal=True)) they show the rows expected; when standard output is
not a terminal, or TERM=dumb, or --plain/CONVEYOR_PLAIN, the commands get the plain lines."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from conveyor.cli import live
from conveyor.cli.main import build_parser, main

EXECUTION = {
    "id": "0123456789abcdef", "pipeline": "orders", "status": "InProgress", "commit": "abcdef123456",
    "startedAt": 100.0, "duration": None, "reason": "",
    "stages": [
        {"name": "Source", "status": "Succeeded", "actions": [
            {"name": "Source", "provider": "Git", "status": "Succeeded", "startedAt": 100.0, "endedAt": 101.5,
             "summary": "main@abcdef1", "attempt": 1}]},
        {"name": "Build", "status": "InProgress", "actions": [
            {"name": "Compile", "provider": "CodeBuild", "status": "InProgress", "startedAt": 101.5, "attempt": 2},
            {"name": "Lint", "provider": "Command", "status": "Failed", "startedAt": 101.5, "endedAt": 103.0,
             "error": "exit 1: E501 line too long", "attempt": 1}]},
        {"name": "Approval", "status": None, "actions": [
            {"name": "Approve", "provider": "Manual", "status": None, "attempt": 1}]},
    ]}

DEPLOYMENT = {
    "id": "d-ABC123", "environment": "production", "service": "orders", "taskDefinition": "orders:7",
    "status": "InProgress", "phase": "Traffic", "traffic": 10, "done": False, "outcome": "InProgress",
    "createdAt": 200.0, "waitingFor": "canary: 10% for 60 s", "original_tg": "production-orders-1",
    "replacement_tg": "production-orders-2",
    "lifecycleEvents": [
        {"lifecycleEventName": "BeforeInstall", "status": "Succeeded", "startTime": 200.0, "endTime": 201.0},
        {"lifecycleEventName": "AfterAllowTestTraffic", "status": "InProgress", "startTime": 202.0, "endTime": None,
         "hook": "smoke", "attempts": 1},
        {"lifecycleEventName": "AfterAllowTraffic", "status": "Pending", "startTime": None, "endTime": None}],
    "taskSets": {"original": {"id": "ts-1", "status": "PRIMARY", "taskDefinition": "orders:6",
                              "targetGroup": "production-orders-1", "healthy": 2, "desired": 2},
                 "replacement": {"id": "ts-2", "status": "ACTIVE", "taskDefinition": "orders:7",
                                 "targetGroup": "production-orders-2", "healthy": 1, "desired": 2}}}


def recorded() -> Console:
    return Console(record=True, force_terminal=True, width=140, file=io.StringIO(), color_system="truecolor")


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_the_execution_table_has_a_row_per_action_with_status_time_and_detail():
    console = recorded()
    console.print(live.execution_table(EXECUTION, now=110.0))
    text = lines_of(console.export_text())
    assert text[0] == "execution 01234567 of orders (commit abcdef1) InProgress 10.0s"
    assert "Source Source Git ✓ Succeeded 1.5s main@abcdef1" in text
    assert "Build Compile CodeBuild … InProgress 8.5s (attempt 2)" in text
    assert "Lint Command ✗ Failed 1.5s exit 1: E501 line too long" in text
    assert "Approval Approve Manual · -" in text


def test_the_live_execution_view_ends_with_the_closing_line_and_its_notes():
    console = recorded()
    with live.LiveExecution(console, clock=lambda: 110.0) as view:
        view.update(EXECUTION)
        view.update({**EXECUTION, "status": "Succeeded", "duration": 12.0})
        view.note("a note")
    text = lines_of(console.export_text(clear=False))
    assert "execution 01234567 Succeeded in 12.0s" in text
    assert "Build Compile CodeBuild … InProgress 8.5s (attempt 2)" in text  # the table as it was drawn
    assert text[-1] == "a note"
    assert "\x1b[" in console.export_text(styles=True)  # drawn with a terminal's escapes


def test_the_deployment_panel_shows_phases_traffic_and_task_sets():
    console = recorded()
    console.print(live.deployment_panel(DEPLOYMENT, now=210.0))
    text = lines_of(console.export_text())
    assert text[0] == "deployment d-ABC123 production/orders → orders:7 InProgress Traffic 10.0s"
    assert "waiting for: canary: 10% for 60 s" in text
    blue = next(line for line in text if line.startswith("blue"))
    green = next(line for line in text if line.startswith("green"))
    assert blue.endswith("90% production-orders-1") and green.endswith("10% production-orders-2")
    assert "BeforeInstall Succeeded 1.0s" in text
    assert "AfterAllowTestTraffic InProgress 8.0s smoke (attempt 1)" in text
    assert "replacement task set ts-2 ACTIVE orders:7 in production-orders-2: 1/2 healthy" in text


def test_a_rolling_deployment_shows_its_task_counts_and_no_split():
    console = recorded()
    console.print(live.deployment_panel({"id": "ecs-svc/1", "environment": "staging", "service": "orders",
                                         "taskDefinition": "orders:3", "status": "PRIMARY",
                                         "rolloutState": "IN_PROGRESS", "done": False, "createdAt": 0.0,
                                         "runningCount": 1, "pendingCount": 1, "failedTasks": 0,
                                         "waitingFor": "1 of 2 new tasks healthy"}, now=5.0))
    text = lines_of(console.export_text())
    assert "tasks: 1 running, 1 pending" in text and not any(line.startswith("green") for line in text)


def test_setup_lines_keep_their_text_and_the_running_step_gets_a_spinner():
    console = recorded()
    ticks = iter([0.0, 42.0])
    view = live.LiveSetup(console, clock=lambda: next(ticks))
    view("✓ podman 4.3.1")
    view("→ building conveyor/base…")
    assert view.status is not None  # the spinner runs while the step does
    view("✓ conveyor/base (mmdebstrap, 42 s)")
    view.close()
    assert view.status is None
    shown = [line for line in lines_of(console.export_text()) if not "\u2800" <= line[:1] <= "\u28ff"]  # spinner
    assert shown == ["✓ podman 4.3.1", "→ building conveyor/base…", "(42 s)",
                                               "✓ conveyor/base (mmdebstrap, 42 s)"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("env, stream, expected", [
    ({"TERM": "xterm-256color"}, Tty(), True),
    ({"TERM": "xterm-256color", "NO_COLOR": "1"}, Tty(), True),  # no colours, still live
    ({"TERM": "dumb"}, Tty(), False),
    ({"TERM": "xterm", live.PLAIN_ENV: "1"}, Tty(), False),
    ({"TERM": "xterm"}, io.StringIO(), False),
])
def test_live_only_on_a_capable_terminal_nobody_asked_to_keep_plain(env, stream, expected):
    assert live.wanted(stream, env) is expected


def test_no_color_drops_the_colours_but_not_the_view(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    console = Console(force_terminal=True, width=140, file=io.StringIO())
    console.print(live.execution_table(EXECUTION, now=110.0))
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[1m" in written and "\x1b[3" not in written  # bold stays, no foreground colour
    assert "Compile" in written


def test_without_a_terminal_the_views_print_the_plain_lines(capsys):
    with live.execution_view() as view:  # pytest's captured stdout is not a terminal
        assert isinstance(view, live.PlainExecution)
        view.update({**EXECUTION, "status": "Succeeded", "duration": 3.0})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "execution 01234567 of orders (commit abcdef1)"
    assert out[-1] == "execution 01234567 Succeeded in 3.0s"
    with live.deployment_view() as dview:
        assert isinstance(dview, live.PlainDeployment)
        dview.update(DEPLOYMENT)
        dview.update(DEPLOYMENT)  # the same wait: once
    assert capsys.readouterr().out == "  canary: 10% for 60 s (production traffic on green: 10%)\n"
    with live.setup_echo() as out_echo:
        assert out_echo is live.echo


def test_json_is_never_drawn_live_even_on_a_terminal(monkeypatch):
    monkeypatch.setattr(live, "wanted", lambda *a, **k: True)
    with live.execution_view(quiet=True) as view:
        assert isinstance(view, live.PlainExecution) and view.quiet


def test_plain_flag_sets_the_plain_environment(monkeypatch, capsys):
    monkeypatch.delenv(live.PLAIN_ENV, raising=False)
    assert build_parser().parse_args(["--plain", "status"]).plain
    main(["--plain", "completion", "bash"])
    import os

    assert os.environ.get(live.PLAIN_ENV) == "1"
    monkeypatch.delenv(live.PLAIN_ENV)


class Scripted:
    """A client whose GETs answer the given states in turn (the last one again after that)."""

    def __init__(self, *answers: dict):
        self.answers = list(answers)

    def get(self, path: str) -> dict:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_run_follow_on_a_terminal_draws_the_table_and_ends_as_before(monkeypatch):
    from conveyor.cli import commands

    console = recorded()
    monkeypatch.setattr(live, "wanted", lambda *a, **k: True)
    monkeypatch.setattr(live, "make_console", lambda stream=None: console)
    monkeypatch.setattr(commands, "FOLLOW_INTERVAL", 0)
    done = {**EXECUTION, "status": "Failed", "duration": 3.0, "reason": "Lint failed"}
    assert commands.follow(Scripted(EXECUTION, done), EXECUTION["id"]) == 1
    text = lines_of(console.export_text())
    assert "Lint Command ✗ Failed 1.5s exit 1: E501 line too long" in text
    assert text[-1] == "execution 01234567 Failed in 3.0s — Lint failed"


def test_deploy_on_a_terminal_draws_the_deployment_then_prints_the_outcome(monkeypatch, capsys):
    import argparse

    from conveyor.cli import releases

    console = recorded()
    monkeypatch.setattr(live, "wanted", lambda *a, **k: True)
    monkeypatch.setattr(live, "make_console", lambda stream=None: console)
    monkeypatch.setattr(releases.time, "sleep", lambda s: None)
    failed = {**DEPLOYMENT, "status": "Failed", "done": True, "outcome": "Failed", "reason": "alarm errors",
              "traffic": 0}
    args = argparse.Namespace(timeout=1, json=False)
    assert releases.wait(Scripted(DEPLOYMENT, failed), DEPLOYMENT["id"], args) == 1  # type: ignore[arg-type]
    drawn = lines_of(console.export_text())
    assert any(line.startswith("green") and line.endswith("10% production-orders-2") for line in drawn)
    assert capsys.readouterr().err.startswith("✗ deployment d-ABC123 failed: alarm errors")
