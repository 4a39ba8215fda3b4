"""CodeBuild phase transitions and build statuses as data (aws-semantics §1.4, §1.6, §1.7).

A build walks the fixed phase list; after each phase the runner reports how it ended and
`next_phase` says what runs next. Nothing here runs a command or reads a clock: the runner does
that and feeds the outcomes in, so every rule can be tested over the whole matrix.

    step = next_phase(BUILD, FAILED)              # no on-failure: the default edges (§1.6)
    step.phase, step.succeeding, step.reason      # ('POST_BUILD', '0', 'post-build-after-failure')

Inside a command phase: `commands` run one at a time until the first failure, then `finally`
runs (`runs_finally`), and the phase status is `phase_outcome(commands, finally)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Collection, Mapping, NamedTuple

# BuildPhaseType, in order [api]
SUBMITTED, QUEUED, PROVISIONING = "SUBMITTED", "QUEUED", "PROVISIONING"
DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"
INSTALL, PRE_BUILD, BUILD, POST_BUILD = "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"
UPLOAD_ARTIFACTS, FINALIZING, COMPLETED = "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"
PHASES = (SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD, BUILD,
          POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED)
COMMAND_PHASES = (INSTALL, PRE_BUILD, BUILD, POST_BUILD)  # the buildspec's phases, in this order
BUILDSPEC_NAMES = {"install": INSTALL, "pre_build": PRE_BUILD, "build": BUILD,
                   "post_build": POST_BUILD}

# StatusType [api]
SUCCEEDED, FAILED, FAULT, TIMED_OUT = "SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT"
IN_PROGRESS, STOPPED = "IN_PROGRESS", "STOPPED"
OUTCOMES = (SUCCEEDED, FAILED, FAULT, TIMED_OUT, STOPPED)  # how a phase can end
# These end the build at once: the shell is gone, so no `finally`, no retry, no on-failure.
# [inferred] they go to FINALIZING (the container is still cleaned up) and win over FAILED.
INTERRUPTIONS = frozenset({FAULT, TIMED_OUT, STOPPED})

# Reasons a step was taken: a catalog the runner logs and tests assert.
R_NEXT = "next"                              # the phase succeeded
R_RETRY = "retry"                            # on-failure RETRY*, attempts left, message matched
R_CONTINUE = "continue"                      # on-failure CONTINUE
R_ABORT = "abort"                            # on-failure ABORT
R_SKIP_TO_FINALIZING = "skip-to-finalizing"  # default edge for PROVISIONING..PRE_BUILD failures
R_POST_BUILD_AFTER_FAILURE = "post-build-after-failure"     # default edge for BUILD
R_UPLOAD_AFTER_FAILURE = "upload-artifacts-after-failure"   # default edge for POST_BUILD
R_FAILED_FORWARD = "failed-forward"          # UPLOAD_ARTIFACTS/FINALIZING failures still move on
R_NOTHING_TO_FINALIZE = "nothing-to-finalize"  # [inferred] SUBMITTED/QUEUED end: no container yet
R_INTERRUPTED = "interrupted"                # FAULT / TIMED_OUT / STOPPED

# Default edge taken when a phase FAILED and no on-failure applies (§1.6; INSTALL/PRE_BUILD from
# the doc diagram, not the text). UPLOAD_ARTIFACTS is "always attempted, even if BUILD fails".
DEFAULT_ON_FAILED: dict[str, tuple[str, str]] = {
    SUBMITTED: (COMPLETED, R_NOTHING_TO_FINALIZE),
    QUEUED: (COMPLETED, R_NOTHING_TO_FINALIZE),
    PROVISIONING: (FINALIZING, R_SKIP_TO_FINALIZING),
    DOWNLOAD_SOURCE: (FINALIZING, R_SKIP_TO_FINALIZING),
    INSTALL: (FINALIZING, R_SKIP_TO_FINALIZING),
    PRE_BUILD: (FINALIZING, R_SKIP_TO_FINALIZING),
    BUILD: (POST_BUILD, R_POST_BUILD_AFTER_FAILURE),
    POST_BUILD: (UPLOAD_ARTIFACTS, R_UPLOAD_AFTER_FAILURE),
    UPLOAD_ARTIFACTS: (FINALIZING, R_FAILED_FORWARD),
    FINALIZING: (COMPLETED, R_FAILED_FORWARD),
}

# on-failure (§1.4, current build-spec-ref)
ABORT, CONTINUE, RETRY = "ABORT", "CONTINUE", "RETRY"
DEFAULT_RETRY_COUNT = 3          # RETRY / RETRY-<regex>: "up to 3 times"
MAX_RETRY_COUNT = 100            # RETRY-<count>: 0–100
DEFAULT_RETRY_REGEX = ".*"       # RETRY / RETRY-<count>: any error message

# Timeouts (§1.7, botocore CreateProjectInput)
DEFAULT_BUILD_TIMEOUT_MINUTES = 60
BUILD_TIMEOUT_RANGE = (5, 2160)
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480  # default per Terraform/Pulumi docs citing AWS
QUEUED_TIMEOUT_RANGE = (5, 480)


class OnFailureError(ValueError):
    """An `on-failure` value that is none of ABORT, CONTINUE, RETRY[-count][-regex]."""


@dataclass(frozen=True)
class OnFailureSpec:
    """A phase's `on-failure`. `count` and `regex` only mean something for RETRY.

    >>> OnFailureSpec.parse("RETRY-2-timeout")
    OnFailureSpec(mode='RETRY', count=2, regex='timeout')
    >>> OnFailureSpec.parse("RETRY").count
    3
    """

    mode: str
    count: int = DEFAULT_RETRY_COUNT
    regex: str = DEFAULT_RETRY_REGEX

    def __post_init__(self) -> None:
        if self.mode not in (ABORT, CONTINUE, RETRY):
            raise OnFailureError(
                f"on-failure mode must be ABORT, CONTINUE or RETRY, not {self.mode!r}")
        if not 0 <= self.count <= MAX_RETRY_COUNT:
            raise OnFailureError(
                f"on-failure retry count must be 0–{MAX_RETRY_COUNT}, not {self.count}")
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise OnFailureError(
                f"on-failure retry regex {self.regex!r} is invalid: {exc}") from exc

    @classmethod
    def parse(cls, text: str) -> OnFailureSpec:
        """Read the buildspec value. Case-sensitive, as documented [inferred: AWS may be lenient].

        After `RETRY-`, a leading all-digit part is the count; whatever follows the next `-` (or
        the whole remainder when it is not all digits) is the regex, so regexes may contain `-`.
        """
        if text in (ABORT, CONTINUE, RETRY):
            return cls(text)
        if not re.fullmatch(r"RETRY-(?![0-9]+-$).+", text, re.DOTALL):
            raise OnFailureError(
                f"on-failure {text!r} is not one of ABORT, CONTINUE, RETRY, RETRY-<count>, "
                "RETRY-<regex>, RETRY-<count>-<regex>")
        rest = text[len(RETRY) + 1:]
        head, _, tail = rest.partition("-")
        if head.isascii() and head.isdigit():
            return cls(RETRY, int(head), tail or DEFAULT_RETRY_REGEX)
        return cls(RETRY, DEFAULT_RETRY_COUNT, rest)

    def allows_retry(self, attempt: int, message: str) -> bool:
        """Whether attempt `attempt` (1 = the first run) may be followed by another.

        [inferred] the regex is searched (not anchored) in the phase-context message, e.g.
        `Error while executing command: make. Reason: exit status 2`.
        """
        return (self.mode == RETRY and attempt - 1 < self.count
                and re.search(self.regex, message) is not None)


@dataclass(frozen=True)
class Step:
    """What happens after a phase ended: which phase runs next and with which attempt number.

    `verdict` is the build status if the build ended now; `succeeding` is the value of
    CODEBUILD_BUILD_SUCCEEDING the next phase sees. `done` once the next phase is COMPLETED.
    """

    phase: str
    attempt: int
    verdict: str
    reason: str

    @property
    def succeeding(self) -> str:
        return "1" if self.verdict == SUCCEEDED else "0"

    @property
    def done(self) -> bool:
        return self.phase == COMPLETED


def runs_finally(commands_outcome: str) -> bool:
    """`finally` runs after `commands` whether they succeeded or one failed (§1.4).

    [inferred] not after a timeout, a stop or a fault: the shell running them is gone.
    """
    return commands_outcome in (SUCCEEDED, FAILED)


def phase_outcome(commands_outcome: str, finally_outcome: str | None = None) -> str:
    """The phase status: an interruption wins, then any failure (a failing `finally` fails the
    phase like a failing command, §1.6).

    >>> phase_outcome(SUCCEEDED, FAILED)
    'FAILED'
    """
    for outcome in (commands_outcome, finally_outcome):
        if outcome in INTERRUPTIONS:
            return outcome
    if FAILED in (commands_outcome, finally_outcome):
        return FAILED
    return SUCCEEDED


def combine_verdict(verdict: str, outcome: str) -> str:
    """The build status so far after a phase ended with `outcome` (and was not retried)."""
    if outcome in INTERRUPTIONS:
        return outcome
    if outcome == FAILED and verdict == SUCCEEDED:
        return FAILED  # [inferred] also after CONTINUE: the build is no longer succeeding
    return verdict


def following(phase: str) -> str:
    """The next phase in the fixed order."""
    return PHASES[PHASES.index(phase) + 1]


def next_phase(current: str, outcome: str, on_failure: OnFailureSpec | None = None,
               attempt: int = 1, *, message: str = "", verdict: str = SUCCEEDED) -> Step:
    """The step after phase `current` (attempt `attempt`) ended with `outcome`.

    `verdict` is the build status before this phase (the previous Step's verdict); `message` the
    phase-context message, matched by RETRY-<regex>. `on_failure` only applies to command phases.

    >>> next_phase(INSTALL, FAILED, OnFailureSpec.parse("RETRY-1"), 1)
    Step(phase='INSTALL', attempt=2, verdict='SUCCEEDED', reason='retry')
    >>> next_phase(INSTALL, FAILED, OnFailureSpec.parse("RETRY-1"), 2).phase
    'FINALIZING'
    """
    if current not in PHASES or current == COMPLETED:
        raise ValueError(f"no phase follows {current!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"a phase ends with one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if outcome == SUCCEEDED:
        return Step(following(current), 1, verdict, R_NEXT)
    after = combine_verdict(verdict, outcome)
    if outcome in INTERRUPTIONS:
        target = COMPLETED if current in (SUBMITTED, QUEUED, FINALIZING) else FINALIZING
        return Step(target, 1, after, R_INTERRUPTED)
    if on_failure is not None and current in COMMAND_PHASES:
        if on_failure.allows_retry(attempt, message):
            return Step(current, attempt + 1, verdict, R_RETRY)
        if on_failure.mode == CONTINUE:
            return Step(following(current), 1, after, R_CONTINUE)
        if on_failure.mode == ABORT:
            return Step(FINALIZING, 1, after, R_ABORT)
        # [inferred] RETRY with no attempts left or a message that does not match: default edges
    target, reason = DEFAULT_ON_FAILED[current]
    return Step(target, 1, after, reason)


def timed_out(started: datetime, now: datetime, timeout_minutes: int) -> bool:
    """Build timeout (`timeoutInMinutes`) or queued timeout check with the clock passed in.

    [inferred] the build timeout counts from the end of QUEUED, the queued one from SUBMITTED.
    """
    return now - started >= timedelta(minutes=timeout_minutes)


def check_timeout(minutes: int, *, queued: bool = False) -> int:
    low, high = QUEUED_TIMEOUT_RANGE if queued else BUILD_TIMEOUT_RANGE
    name = "queuedTimeoutInMinutes" if queued else "timeoutInMinutes"
    if not low <= minutes <= high:
        raise ValueError(f"{name} must be {low}–{high}, not {minutes}")
    return minutes


# --- whole-build walk, for tests and dry runs -------------------------------------------------

@dataclass(frozen=True)
class PhaseResult:
    """How one attempt of a phase went: its commands, its `finally` (when it runs), and the
    phase-context message RETRY-<regex> is matched against."""

    commands: str = SUCCEEDED
    finally_: str = SUCCEEDED
    message: str = ""


class PhaseEvent(NamedTuple):
    phase: str
    ran_commands: bool
    ran_finally: bool
    status: str       # the phase status; for COMPLETED, the build status
    succeeding: str   # CODEBUILD_BUILD_SUCCEEDING as the phase saw it on entry


MAX_STEPS = len(PHASES) + len(COMMAND_PHASES) * (MAX_RETRY_COUNT + 1)


def simulate(outcome: Callable[[str, int], str | PhaseResult],
             on_failure: Mapping[str, OnFailureSpec | None] | None = None, *,
             commands: Collection[str] = COMMAND_PHASES,
             finally_: Collection[str] = ()) -> list[PhaseEvent]:
    """Walk a whole build. `outcome(phase, attempt)` says how each attempt ends (a status for
    the commands, or a PhaseResult); `commands`/`finally_` name the phases the buildspec gives
    commands / a `finally` block. A command phase without commands still appears, succeeding.

    >>> [e.phase for e in simulate(lambda p, a: FAILED if p == INSTALL else SUCCEEDED)][4:]
    ['INSTALL', 'FINALIZING', 'COMPLETED']
    """
    on_failure = on_failure or {}
    events: list[PhaseEvent] = []
    step = Step(SUBMITTED, 1, SUCCEEDED, R_NEXT)
    while not step.done:
        if len(events) >= MAX_STEPS:
            raise RuntimeError("simulate: the build did not converge")  # a bug in the rules
        phase = step.phase
        result = outcome(phase, step.attempt)
        if isinstance(result, str):
            result = PhaseResult(result)
        ran_commands = phase in COMMAND_PHASES and phase in commands
        ran_finally = ran_commands and phase in finally_ and runs_finally(result.commands)
        status = phase_outcome(result.commands, result.finally_ if ran_finally else None)
        events.append(PhaseEvent(phase, ran_commands, ran_finally, status, step.succeeding))
        step = next_phase(phase, status, on_failure.get(phase), step.attempt,
                          message=result.message, verdict=step.verdict)
    events.append(PhaseEvent(COMPLETED, False, False, step.verdict, step.succeeding))
    return events
