"""CodeBuild phase transitions (aws-semantics §1.4, §1.6, §1.7). Rules tagged [inferred] in
conveyor.build.phases are marked "assumed" here."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from conveyor.build.phases import (
    BUILD,
    COMMAND_PHASES,
    COMPLETED,
    DOWNLOAD_SOURCE,
    FAILED,
    FAULT,
    FINALIZING,
    INSTALL,
    OUTCOMES,
    PHASES,
    POST_BUILD,
    PRE_BUILD,
    PROVISIONING,
    QUEUED,
    STOPPED,
    SUBMITTED,
    SUCCEEDED,
    TIMED_OUT,
    UPLOAD_ARTIFACTS,
    OnFailureError,
    OnFailureSpec,
    PhaseEvent,
    PhaseResult,
    Step,
    check_timeout,
    combine_verdict,
    next_phase,
    phase_outcome,
    runs_finally,
    simulate,
    timed_out,
)

# --- on-failure parsing ------------------------------------------------------------------------

PARSE = [
    ("ABORT", OnFailureSpec("ABORT")),
    ("CONTINUE", OnFailureSpec("CONTINUE")),
    ("RETRY", OnFailureSpec("RETRY", 3, ".*")),
    ("RETRY-0", OnFailureSpec("RETRY", 0, ".*")),
    ("RETRY-5", OnFailureSpec("RETRY", 5, ".*")),
    ("RETRY-100", OnFailureSpec("RETRY", 100, ".*")),
    ("RETRY-timeout", OnFailureSpec("RETRY", 3, "timeout")),
    ("RETRY-exit status [12]", OnFailureSpec("RETRY", 3, "exit status [12]")),
    ("RETRY-2-timeout", OnFailureSpec("RETRY", 2, "timeout")),
    ("RETRY-2-connection-reset", OnFailureSpec("RETRY", 2, "connection-reset")),
    ("RETRY-net-err", OnFailureSpec("RETRY", 3, "net-err")),
    ("RETRY-a-", OnFailureSpec("RETRY", 3, "a-")),
]


@pytest.mark.parametrize("text,spec", PARSE)
def test_parse_on_failure(text, spec):
    assert OnFailureSpec.parse(text) == spec


@pytest.mark.parametrize("text,message", [
    ("abort", "is not one of ABORT, CONTINUE, RETRY"),  # assumed: case-sensitive
    ("STOP", "is not one of"),
    ("RETRY-", "is not one of"),
    ("RETRY-3-", "is not one of"),
    ("", "is not one of"),
    ("RETRY-101", "retry count must be 0–100, not 101"),
    ("RETRY-2-(", "retry regex '(' is invalid"),
])
def test_parse_on_failure_rejects(text, message):
    with pytest.raises(OnFailureError, match=None) as err:
        OnFailureSpec.parse(text)
    assert message in str(err.value)


def test_spec_rejects_bad_mode():
    with pytest.raises(OnFailureError, match="ABORT, CONTINUE or RETRY"):
        OnFailureSpec("SKIP")


@pytest.mark.parametrize("spec,attempt,message,allowed", [
    ("RETRY", 1, "anything", True),
    ("RETRY", 3, "anything", True),
    ("RETRY", 4, "anything", False),          # 3 retries = 4 attempts in all
    ("RETRY-0", 1, "anything", False),
    ("RETRY-1", 1, "", True),
    ("RETRY-1", 2, "", False),
    ("RETRY-timeout", 1, "Reason: timeout after 10s", True),  # assumed: searched, not anchored
    ("RETRY-timeout", 1, "Reason: exit status 1", False),
    ("RETRY-2-^Error", 2, "Error while executing command: x", True),
    ("RETRY-2-^Error", 3, "Error while executing command: x", False),
    ("ABORT", 1, "x", False),
    ("CONTINUE", 1, "x", False),
])
def test_allows_retry(spec, attempt, message, allowed):
    assert OnFailureSpec.parse(spec).allows_retry(attempt, message) is allowed


# --- inside one phase ----------------------------------------------------------------------------

@pytest.mark.parametrize("commands,runs", [
    (SUCCEEDED, True), (FAILED, True),                           # §1.4 "even if a command failed"
    (TIMED_OUT, False), (STOPPED, False), (FAULT, False),        # assumed: the shell is gone
])
def test_runs_finally(commands, runs):
    assert runs_finally(commands) is runs


@pytest.mark.parametrize("commands,final,status", [
    (SUCCEEDED, None, SUCCEEDED),
    (SUCCEEDED, SUCCEEDED, SUCCEEDED),
    (FAILED, None, FAILED),
    (FAILED, SUCCEEDED, FAILED),
    (SUCCEEDED, FAILED, FAILED),          # §1.6 a failing finally fails the phase
    (FAILED, FAILED, FAILED),
    (TIMED_OUT, None, TIMED_OUT),
    (SUCCEEDED, TIMED_OUT, TIMED_OUT),
    (FAILED, STOPPED, STOPPED),
    (FAULT, None, FAULT),
])
def test_phase_outcome(commands, final, status):
    assert phase_outcome(commands, final) == status


@pytest.mark.parametrize("verdict,outcome,after", [
    (SUCCEEDED, SUCCEEDED, SUCCEEDED),
    (SUCCEEDED, FAILED, FAILED),
    (FAILED, SUCCEEDED, FAILED),
    (FAILED, FAILED, FAILED),
    (FAILED, TIMED_OUT, TIMED_OUT),       # an interruption ends the build with its own status
    (SUCCEEDED, STOPPED, STOPPED),
    (SUCCEEDED, FAULT, FAULT),
    (TIMED_OUT, FAILED, TIMED_OUT),
])
def test_combine_verdict(verdict, outcome, after):
    assert combine_verdict(verdict, outcome) == after


# --- next_phase: the whole from × outcome matrix without on-failure ----------------------------

FAILED_EDGE = {
    SUBMITTED: (COMPLETED, "nothing-to-finalize"),          # assumed
    QUEUED: (COMPLETED, "nothing-to-finalize"),             # assumed
    PROVISIONING: (FINALIZING, "skip-to-finalizing"),
    DOWNLOAD_SOURCE: (FINALIZING, "skip-to-finalizing"),
    INSTALL: (FINALIZING, "skip-to-finalizing"),            # doc diagram
    PRE_BUILD: (FINALIZING, "skip-to-finalizing"),          # doc diagram
    BUILD: (POST_BUILD, "post-build-after-failure"),
    POST_BUILD: (UPLOAD_ARTIFACTS, "upload-artifacts-after-failure"),
    UPLOAD_ARTIFACTS: (FINALIZING, "failed-forward"),
    FINALIZING: (COMPLETED, "failed-forward"),
}


def expected_default(phase: str, outcome: str) -> tuple[str, str, str]:
    following = PHASES[PHASES.index(phase) + 1]
    if outcome == SUCCEEDED:
        return following, "next", SUCCEEDED
    if outcome == FAILED:
        return (*FAILED_EDGE[phase], FAILED)
    target = COMPLETED if phase in (SUBMITTED, QUEUED, FINALIZING) else FINALIZING  # assumed
    return target, "interrupted", outcome


MATRIX = [(p, o) for p in PHASES[:-1] for o in OUTCOMES]


@pytest.mark.parametrize("phase,outcome", MATRIX)
def test_default_matrix(phase, outcome):
    step = next_phase(phase, outcome)
    assert (step.phase, step.reason, step.verdict) == expected_default(phase, outcome)
    assert step.attempt == 1
    assert step.succeeding == ("1" if outcome == SUCCEEDED else "0")


@pytest.mark.parametrize("phase,outcome", MATRIX)
def test_on_failure_ignored_outside_command_phases(phase, outcome):
    if phase in COMMAND_PHASES:
        return
    for text in ("ABORT", "CONTINUE", "RETRY-5"):
        assert next_phase(phase, outcome, OnFailureSpec.parse(text)) == next_phase(phase, outcome)


@pytest.mark.parametrize("phase", COMMAND_PHASES)
def test_on_failure_continue_goes_to_next_phase(phase):
    step = next_phase(phase, FAILED, OnFailureSpec("CONTINUE"))
    assert step == Step(PHASES[PHASES.index(phase) + 1], 1, FAILED, "continue")
    assert step.succeeding == "0"


@pytest.mark.parametrize("phase", COMMAND_PHASES)
def test_on_failure_abort_skips_to_finalizing(phase):
    assert next_phase(phase, FAILED, OnFailureSpec("ABORT")) == Step(FINALIZING, 1, FAILED, "abort")


@pytest.mark.parametrize("phase", COMMAND_PHASES)
def test_on_failure_retry_reruns_the_phase(phase):
    spec = OnFailureSpec.parse("RETRY-2")
    assert next_phase(phase, FAILED, spec, 1) == Step(phase, 2, SUCCEEDED, "retry")
    assert next_phase(phase, FAILED, spec, 2) == Step(phase, 3, SUCCEEDED, "retry")
    # assumed: retries used up -> the default edge, as if on-failure were not set
    exhausted = next_phase(phase, FAILED, spec, 3)
    assert (exhausted.phase, exhausted.reason) == FAILED_EDGE[phase]


def test_retry_keeps_the_verdict_it_was_given():
    spec = OnFailureSpec.parse("RETRY")
    assert next_phase(POST_BUILD, FAILED, spec, 1, verdict=FAILED) == Step(POST_BUILD, 2, FAILED, "retry")


def test_retry_regex_mismatch_takes_default_edge():
    spec = OnFailureSpec.parse("RETRY-network")
    step = next_phase(BUILD, FAILED, spec, 1, message="Reason: exit status 1")
    assert step == Step(POST_BUILD, 1, FAILED, "post-build-after-failure")
    step = next_phase(BUILD, FAILED, spec, 1, message="network unreachable")
    assert step.reason == "retry"


@pytest.mark.parametrize("outcome", [TIMED_OUT, STOPPED, FAULT])
@pytest.mark.parametrize("text", ["RETRY", "CONTINUE", "ABORT"])
def test_interruptions_ignore_on_failure(outcome, text):
    step = next_phase(BUILD, outcome, OnFailureSpec.parse(text))
    assert step == Step(FINALIZING, 1, outcome, "interrupted")


@pytest.mark.parametrize("text", ["RETRY", "CONTINUE", "ABORT"])
def test_success_ignores_on_failure(text):
    assert next_phase(INSTALL, SUCCEEDED, OnFailureSpec.parse(text)) == Step(PRE_BUILD, 1, SUCCEEDED, "next")


def test_failed_verdict_carries_through_successes():
    assert next_phase(POST_BUILD, SUCCEEDED, verdict=FAILED) == Step(UPLOAD_ARTIFACTS, 1, FAILED, "next")


@pytest.mark.parametrize("phase,outcome,message", [
    (COMPLETED, SUCCEEDED, "no phase follows 'COMPLETED'"),
    ("TESTING", SUCCEEDED, "no phase follows 'TESTING'"),
    (BUILD, "IN_PROGRESS", "not 'IN_PROGRESS'"),
])
def test_next_phase_rejects(phase, outcome, message):
    with pytest.raises(ValueError) as err:
        next_phase(phase, outcome)
    assert message in str(err.value)


# --- whole builds --------------------------------------------------------------------------------

HEAD = [  # the phases before any buildspec command runs
    PhaseEvent(SUBMITTED, False, False, SUCCEEDED, "1"),
    PhaseEvent(QUEUED, False, False, SUCCEEDED, "1"),
    PhaseEvent(PROVISIONING, False, False, SUCCEEDED, "1"),
    PhaseEvent(DOWNLOAD_SOURCE, False, False, SUCCEEDED, "1"),
]


def ev(phase, status=SUCCEEDED, flag="1", cmds=True, fin=False):
    return PhaseEvent(phase, cmds, fin, status, flag)


def tail(status, flag):
    return [ev(FINALIZING, SUCCEEDED, flag, cmds=False), ev(COMPLETED, status, flag, cmds=False)]


def outcomes(table):
    """outcome function from {(phase, attempt) or phase: result}; SUCCEEDED otherwise."""
    return lambda phase, attempt: table.get((phase, attempt), table.get(phase, SUCCEEDED))


SCENARIOS = {
    "all succeed": (
        {}, {}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD), ev(POST_BUILD),
         ev(UPLOAD_ARTIFACTS, cmds=False), *tail(SUCCEEDED, "1")]),
    "install fails: straight to finalizing": (
        {INSTALL: FAILED}, {}, (),
        [ev(INSTALL, FAILED), *tail(FAILED, "0")]),
    "pre_build fails: finally runs, then finalizing": (
        {PRE_BUILD: FAILED}, {}, (PRE_BUILD,),
        [ev(INSTALL), ev(PRE_BUILD, FAILED, fin=True), *tail(FAILED, "0")]),
    "build fails: post_build sees 0, artifacts still uploaded": (
        {BUILD: FAILED}, {}, (BUILD, POST_BUILD),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED, fin=True), ev(POST_BUILD, flag="0", fin=True),
         ev(UPLOAD_ARTIFACTS, flag="0", cmds=False), *tail(FAILED, "0")]),
    "post_build fails: artifacts still uploaded": (
        {POST_BUILD: FAILED}, {}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD), ev(POST_BUILD, FAILED),
         ev(UPLOAD_ARTIFACTS, flag="0", cmds=False), *tail(FAILED, "0")]),
    "finally fails the phase": (
        {BUILD: PhaseResult(SUCCEEDED, FAILED)}, {}, (BUILD,),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED, fin=True), ev(POST_BUILD, flag="0"),
         ev(UPLOAD_ARTIFACTS, flag="0", cmds=False), *tail(FAILED, "0")]),
    "build aborts: no post_build, no upload": (
        {BUILD: FAILED}, {BUILD: "ABORT"}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED), *tail(FAILED, "0")]),
    "install continues: later phases see 0, build FAILED (assumed)": (
        {INSTALL: FAILED}, {INSTALL: "CONTINUE"}, (),
        [ev(INSTALL, FAILED), ev(PRE_BUILD, flag="0"), ev(BUILD, flag="0"), ev(POST_BUILD, flag="0"),
         ev(UPLOAD_ARTIFACTS, flag="0", cmds=False), *tail(FAILED, "0")]),
    "retry succeeds on the third attempt: build succeeds": (
        {(BUILD, 1): FAILED, (BUILD, 2): FAILED}, {BUILD: "RETRY"}, (BUILD,),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED, fin=True), ev(BUILD, FAILED, fin=True),
         ev(BUILD, fin=True), ev(POST_BUILD), ev(UPLOAD_ARTIFACTS, cmds=False), *tail(SUCCEEDED, "1")]),
    "RETRY-1 exhausted on pre_build: default edge": (
        {PRE_BUILD: FAILED}, {PRE_BUILD: "RETRY-1"}, (),
        [ev(INSTALL), ev(PRE_BUILD, FAILED), ev(PRE_BUILD, FAILED), *tail(FAILED, "0")]),
    "RETRY (3) on install: four attempts in all": (
        {INSTALL: FAILED}, {INSTALL: "RETRY"}, (),
        [ev(INSTALL, FAILED)] * 4 + tail(FAILED, "0")),
    "RETRY-0 never retries": (
        {BUILD: FAILED}, {BUILD: "RETRY-0", POST_BUILD: "ABORT"}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED), ev(POST_BUILD, flag="0"),
         ev(UPLOAD_ARTIFACTS, flag="0", cmds=False), *tail(FAILED, "0")]),
    "RETRY-regex matches the message": (
        {(INSTALL, 1): PhaseResult(FAILED, message="Reason: TLS handshake timeout")},
        {INSTALL: "RETRY-2-handshake"}, (),
        [ev(INSTALL, FAILED), ev(INSTALL), ev(PRE_BUILD), ev(BUILD), ev(POST_BUILD),
         ev(UPLOAD_ARTIFACTS, cmds=False), *tail(SUCCEEDED, "1")]),
    "RETRY-regex does not match: no retry": (
        {INSTALL: PhaseResult(FAILED, message="Reason: exit status 1")},
        {INSTALL: "RETRY-handshake"}, (),
        [ev(INSTALL, FAILED), *tail(FAILED, "0")]),
    "build times out: no finally, no post_build (assumed)": (
        {BUILD: TIMED_OUT}, {BUILD: "CONTINUE"}, (BUILD,),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, TIMED_OUT), *tail(TIMED_OUT, "0")]),
    "stopped in post_build after a failed build": (
        {BUILD: FAILED, POST_BUILD: STOPPED}, {}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD, FAILED), ev(POST_BUILD, STOPPED, "0"), *tail(STOPPED, "0")]),
    "provisioning fault": (
        {PROVISIONING: FAULT}, {}, (),
        "provisioning"),
    "queued timeout: nothing to finalize (assumed)": (
        {QUEUED: TIMED_OUT}, {}, (),
        "queued"),
    "upload fails (no matching artifact paths)": (
        {UPLOAD_ARTIFACTS: FAILED}, {}, (),
        [ev(INSTALL), ev(PRE_BUILD), ev(BUILD), ev(POST_BUILD),
         ev(UPLOAD_ARTIFACTS, FAILED, cmds=False), *tail(FAILED, "0")]),
    "phases without commands still pass through": (
        {}, {}, "only-build",
        [ev(INSTALL, cmds=False), ev(PRE_BUILD, cmds=False), ev(BUILD), ev(POST_BUILD, cmds=False),
         ev(UPLOAD_ARTIFACTS, cmds=False), *tail(SUCCEEDED, "1")]),
}

SPECIAL = {
    "provisioning": [HEAD[0], HEAD[1], PhaseEvent(PROVISIONING, False, False, FAULT, "1"),
                     ev(FINALIZING, SUCCEEDED, "0", cmds=False), ev(COMPLETED, FAULT, "0", cmds=False)],
    "queued": [HEAD[0], PhaseEvent(QUEUED, False, False, TIMED_OUT, "1"),
               ev(COMPLETED, TIMED_OUT, "0", cmds=False)],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_whole_build(name):
    table, specs, finally_, expected = SCENARIOS[name]
    on_failure = {phase: OnFailureSpec.parse(text) for phase, text in specs.items()}
    commands = (BUILD,) if finally_ == "only-build" else COMMAND_PHASES
    finally_ = () if finally_ == "only-build" else finally_
    events = simulate(outcomes(table), on_failure, commands=commands, finally_=finally_)
    if isinstance(expected, str):
        assert events == SPECIAL[expected]
    else:
        assert events == HEAD + expected


def test_simulate_passes_attempt_numbers():
    seen = []

    def outcome(phase, attempt):
        seen.append((phase, attempt))
        return FAILED if phase == BUILD and attempt < 3 else SUCCEEDED

    simulate(outcome, {BUILD: OnFailureSpec.parse("RETRY-5")})
    assert [a for p, a in seen if p == BUILD] == [1, 2, 3]


# --- timeouts ----------------------------------------------------------------------------------

T0 = datetime(2024, 5, 6, 7, 0, 0)


@pytest.mark.parametrize("elapsed,limit,result", [
    (timedelta(minutes=59, seconds=59), 60, False),
    (timedelta(minutes=60), 60, True),
    (timedelta(hours=9), 480, True),
    (timedelta(minutes=4), 5, False),
])
def test_timed_out(elapsed, limit, result):
    assert timed_out(T0, T0 + elapsed, limit) is result


@pytest.mark.parametrize("minutes,queued,ok", [
    (5, False, True), (2160, False, True), (4, False, False), (2161, False, False),
    (5, True, True), (480, True, True), (481, True, False),
])
def test_check_timeout(minutes, queued, ok):
    if ok:
        assert check_timeout(minutes, queued=queued) == minutes
    else:
        with pytest.raises(ValueError, match="must be"):
            check_timeout(minutes, queued=queued)
