"""CUCUMBERJSON from a real cucumber-js run, and the shapes cucumber-ruby adds (backgrounds, hooks)."""

import json
from pathlib import Path

from conveyor.reports import FAILED, SKIPPED, SUCCEEDED, UNKNOWN, parse_report

FIXTURES = Path(__file__).parent / "fixtures"


def test_cucumber_js_scenarios_statuses_and_the_line_of_the_deciding_step():
    report = parse_report(FIXTURES / "cucumber-js.json", "CUCUMBERJSON", label="cucumber-js.json")
    assert (report.format, report.status) == ("CUCUMBERJSON", FAILED)
    assert report.status_counts == {"SUCCEEDED": 1, "FAILED": 1, "ERROR": 0, "SKIPPED": 0, "UNKNOWN": 2}
    assert [(c.suite, c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("Checkout", "Paying with a valid card", SUCCEEDED, None, "features/checkout.feature", 4),
        ("Checkout", "Paying with an expired card", FAILED, "AssertionError [ERR_ASSERTION]: payment was declined",
         "features/checkout.feature", 12),
        ("Checkout", "Paying with a voucher", UNKNOWN, "Undefined step: When the customer pays with a voucher",
         "features/checkout.feature", 16),
        ("Refunds", "Refund to the original card", UNKNOWN, "Pending step: When the customer asks for a refund",
         "features/refunds.feature", 6),
    ]
    expired = report.cases[1]
    assert "false !== true" in expired.details and "steps.js:17:10" in expired.details


def test_durations_are_nanoseconds_summed_over_steps_and_hooks():
    data = json.loads((FIXTURES / "cucumber-js.json").read_text())
    refund = data[1]["elements"][0]
    hook = refund["steps"][0]
    assert (hook["keyword"], hook["hidden"]) == ("Before", True)  # cucumber-js writes hooks as hidden steps
    expected = sum(s["result"]["duration"] for s in refund["steps"]) / 1e9
    report = parse_report(FIXTURES / "cucumber-js.json", "CUCUMBERJSON")
    assert report.cases[3].duration_seconds == expected
    assert report.cases[3].duration_ns == sum(s["result"]["duration"] for s in refund["steps"])
    assert report.duration_seconds == round(sum(c.duration_seconds for c in report.cases), 9)


def step(keyword, name, line, status, **extra):
    return {"keyword": keyword, "name": name, "line": line, "result": {"status": status, "duration": 1000, **extra}}


def test_ruby_backgrounds_hooks_and_all_skipped(tmp_path):
    features = [{
        "uri": "features/login.feature", "keyword": "Feature", "name": "Login", "elements": [
            {"type": "background", "keyword": "Background", "name": "", "line": 3,
             "steps": [step("Given ", "a user", 4, "failed", error_message="no database\n  at step.rb:3")]},
            {"type": "scenario", "keyword": "Scenario", "name": "Good password", "line": 6,
             "steps": [step("When ", "I log in", 7, "skipped")]},
            {"type": "scenario", "keyword": "Scenario", "name": "Dry run", "line": 9,
             "steps": [step("When ", "I log in", 10, "skipped")]},
            {"type": "scenario", "keyword": "Scenario", "name": "Hook fails", "line": 12,
             "after": [{"match": {"location": "hooks.rb:1"}, "result": {"status": "failed", "error_message": "boom"}}],
             "steps": [step("When ", "I log in", 13, "passed")]},
            {"type": "scenario", "keyword": "Scenario", "name": "Two matches", "line": 15,
             "steps": [step("When ", "I log in", 16, "ambiguous")]},
        ]}]
    path = tmp_path / "cucumber.json"
    path.write_text(json.dumps(features))
    report = parse_report(path, "CUCUMBERJSON")
    assert [(c.name, c.status, c.message, c.line) for c in report.cases] == [
        ("Good password", FAILED, "no database", 4),  # the background's failure is the scenario's
        ("Dry run", SKIPPED, None, 9),
        ("Hook fails", FAILED, "boom", 12),
        ("Two matches", UNKNOWN, "Ambiguous step: When I log in", 16),
    ]


def test_an_empty_run_is_an_empty_report(tmp_path):
    path = tmp_path / "cucumber.json"
    path.write_text("[]")
    report = parse_report(path, "CUCUMBERJSON")
    assert (report.total, report.status) == (0, SUCCEEDED)
