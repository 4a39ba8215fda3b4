"""The report as text for a terminal: the verdict first, then the numbers that back it.

    for line in render_lines(report, title="staging/orders"):
        print(line)
"""

from __future__ import annotations

from conveyor.verify.report import Failures, Report


def render_lines(report: Report, *, title: str, target: str = "") -> list[str]:
    mark = "✓ PASSED" if report.passed else "✗ FAILED"
    out = [f"{mark}  conveyor verify {title}" + (f"  ({target})" if target else "")]
    out += [f"  - {r}" for r in report.reasons]
    s = report.schedule
    out.append(f"requests   {report.requests} in {report.duration_s:.1f} s "
               f"(GET {report.methods.get('GET', 0)}, POST {report.methods.get('POST', 0)}); "
               f"ok {report.ok}, failed {report.failures.total}{_causes(report.failures)}")
    out.append(f"rate       asked {s.rate:g}/s, sent {s.achieved_rate:.1f}/s, latest start {s.max_lag_ms:.1f} ms "
               f"after its slot, {s.late_starts} late starts — {'kept' if s.kept else 'NOT KEPT'}")
    g = report.longest_gap
    out.append(f"longest gap between successes {g.ms:.1f} ms"
               + (f" (ended at {g.ended_at_s:.2f} s, {g.phase})" if g.ended_at_s is not None and g.phase else ""))
    if report.action is not None:
        a = report.action
        out.append(f"{a.kind:<10} {a.deployment_id} {a.outcome} in {a.seconds:.1f} s"
                   + (f" → {a.task_definition}" if a.task_definition else "") + (f" — {a.reason}" if a.reason else ""))
    out.append("")
    rows = [["PHASE", "FROM", "TO", "REQUESTS", "FAILED", "P50 MS", "P99 MS", "VERSIONS"]]
    for p in report.phases:
        rows.append([p.name, f"{p.start_s:.2f}s", f"{p.end_s:.2f}s", str(p.requests), str(p.failures.total),
                     _ms(p.latency_ms.get("p50")), _ms(p.latency_ms.get("p99")),
                     ", ".join(f"{v or '(none)'}: {n}" for v, n in p.versions.items()) or "-"])
    out += _table(rows)
    if report.versions:
        out.append("")
        out.append("versions answering (2xx):")
        for v in report.versions:
            out.append(f"  {v.version or '(no version header)'}  {v.first_s:.2f}s – {v.last_s:.2f}s  "
                       f"{v.count} answers")
    return out


def _causes(f: Failures) -> str:
    parts = [f"HTTP {k}: {n}" for k, n in sorted(f.by_status.items())]
    parts += [f"{k}: {n}" for k, n in sorted(f.by_error.items())]
    parts += [f"{m} failed: {n}" for m, n in sorted(f.by_method.items()) if f.total]
    return f" ({'; '.join(parts)})" if parts else ""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
