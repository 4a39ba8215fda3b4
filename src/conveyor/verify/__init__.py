"""`conveyor verify`: the zero-downtime claim as a command. Constant-rate open-loop load on a
service's production listener while a deployment or a rollback runs (or for a fixed time),
then a report that passes only when no request failed, the generator kept its rate and the
deployment succeeded.

The package, by concern:

    report   the verdict and its numbers from the generator's samples (pure: phases, failures by
             cause, the longest gap between successes, latency, versions over time, rate kept)
    run      VerifyPlan (the options and their usage errors), the run itself against a DaemonApi
    render   the report as terminal text
"""

from conveyor.verify.render import render_lines
from conveyor.verify.report import ActionOutcome, Phase, Report, build_report
from conveyor.verify.run import DaemonApi, Target, VerifyPlan, resolve_target, run_verify

__all__ = ["ActionOutcome", "DaemonApi", "Phase", "Report", "Target", "VerifyPlan", "build_report", "render_lines",
           "resolve_target", "run_verify"]
