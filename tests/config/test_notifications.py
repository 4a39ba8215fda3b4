"""conveyor.yml's `notifications:`: the rule format, and every mistake reported at once at its
file:line:col and key path."""

from __future__ import annotations

from conveyor.config.pipeline import load_pipeline_text
from conveyor.errors import ConfigError

HEAD = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
    - name: Hold
      actions:
        - {name: Pause, provider: Wait, seconds: 0}
environments:
  production:
    services:
      web: {taskDefinition: taskdef.json, loadBalancer: {port: 18080, container: web, containerPort: 8080}}
"""


def errors(text: str) -> list[str]:
    try:
        load_pipeline_text(text, "conveyor.yml")
    except ConfigError as exc:
        return [str(d) for d in exc.diagnostics if d.severity == "error"]
    return []


def test_a_full_rule_reads_as_a_rule():
    text = HEAD + """\
notifications:
  - name: production
    events: [pipeline-execution-failed, codepipeline-pipeline-manual-approval-needed, deployment-*]
    environments: [production]
    services: [web]
    stages: [Hold]
    severity: warning
    detailType: basic
    targets:
      - webhook: {url: "http://127.0.0.1:9100/hook", secret: receiver-hmac}
    target: arn:aws:sns:eu-west-1:123456789012:team
"""
    (rule,) = load_pipeline_text(text).notifications
    assert rule.name == "production"
    assert rule.events == ("pipeline-execution-failed", "manual-approval-needed", "deployment-*")
    assert (rule.environments, rule.services, rule.stages) == (("production",), ("web",), ("Hold",))
    assert (rule.severity, rule.detail_type) == ("warning", "BASIC")
    assert rule.arn == "arn:aws:sns:eu-west-1:123456789012:team"
    assert [(t.kind, t.spec["url"], t.spec["secret"]) for t in rule.targets] == [
        ("webhook", "http://127.0.0.1:9100/hook", "receiver-hmac")]
    assert rule.wants("deployment-rolled-back") and not rule.wants("service-steady-state")


def test_names_default_to_the_key_or_the_position():
    mapped = load_pipeline_text(HEAD + "notifications:\n  ops: {events: [pipeline-execution-failed]}\n")
    listed = load_pipeline_text(HEAD + "notifications:\n  - {events: [pipeline-execution-failed]}\n"
                                       "  - {events: [deployment-failed]}\n")
    assert [r.name for r in mapped.notifications] == ["ops"]
    assert [r.name for r in listed.notifications] == ["rule-1", "rule-2"]
    assert [r.detail_type for r in listed.notifications] == ["FULL", "FULL"]


def test_every_mistake_at_once_with_where_it_is():
    text = HEAD + """\
notifications:
  - name: bad name!
    events: [pipeline-execution-fialed, "nothing-*", 7]
    environments: [staging]
    services: [api]
    stages: [Deploy]
    severity: loud
    detailType: LOUD
    colour: red
    target: mailto:ops@example.com
  - events: []
  - name: dup
    events: [deployment-failed]
  - name: dup
    events: [deployment-failed]
  - just a string
"""
    assert errors(text) == [
        "conveyor.yml:15:5 notifications[0].name: invalid rule name 'bad name!': expected 1-64 characters matching "
        "[A-Za-z0-9._@-]+",
        "conveyor.yml:16:14 notifications[0].events[0]: unknown event type 'pipeline-execution-fialed' "
        "(did you mean 'pipeline-execution-failed'?)",
        "conveyor.yml:16:41 notifications[0].events[1]: 'nothing-*' matches no event type (a glob uses * only, "
        "e.g. deployment-*)",
        "conveyor.yml:16:54 notifications[0].events[2]: expected an event type, got an integer",
        "conveyor.yml:17:20 notifications[0].environments[0]: unknown environment 'staging' (defined: production)",
        "conveyor.yml:18:16 notifications[0].services[0]: unknown service 'api' (defined: web)",
        "conveyor.yml:19:14 notifications[0].stages[0]: unknown stage 'Deploy' (defined: Hold, Source)",
        "conveyor.yml:20:5 notifications[0].severity: unknown severity 'loud'; expected one of info, warning, error",
        "conveyor.yml:21:5 notifications[0].detailType: unknown detailType 'LOUD'; expected one of FULL, BASIC",
        "conveyor.yml:22:5 notifications[0].colour: unknown rule key 'colour'",
        "conveyor.yml:23:5 notifications[0].target: expected an SNS topic or AWS Chatbot Slack channel ARN (the "
        "AWS export's target), got 'mailto:ops@example.com'; local delivery goes under `targets:`",
        "conveyor.yml:24:5 notifications[1].events: expected at least one event type, e.g. "
        "[pipeline-execution-failed]",
        "conveyor.yml:27:5 notifications[3].name: duplicate rule name 'dup' (also notifications[2])",
        "conveyor.yml:29:5 notifications[4]: expected a rule (a mapping with events:, targets:, ...), got a string",
    ]


def test_a_command_target_runs_on_the_host_so_it_needs_the_opt_in():
    text = HEAD + """\
notifications:
  - events: [pipeline-execution-failed]
    targets:
      - command: [./notify.sh]
"""
    assert errors(text) == [
        "conveyor.yml:17:9 notifications[0].targets[0]: a command target runs on the host as the daemon's user; "
        "allow it with `allowHostCommands: true` at the top level of conveyor.yml (on a protected branch)"]
    assert errors(text + "allowHostCommands: true\n") == []


def test_the_type_of_the_section_and_of_a_target_list():
    assert errors(HEAD + "notifications: 3\n") == [
        "conveyor.yml:14:1 notifications: expected a list of rules or a mapping of rule names to rules, "
        "got an integer"]
    assert errors(HEAD + "notifications:\n  - {events: [deployment-failed], targets: {webhook: {}}}\n") == [
        "conveyor.yml:15:35 notifications[0].targets: expected a list, got a mapping"]
