"""conveyor.config.notification_targets: each target kind's keys, defaults, and the errors (with
file:line:col and key path) for what a user gets wrong, all reported at once."""

from __future__ import annotations

import textwrap

import pytest

from conveyor.config.notification_targets import TargetDef, check_target
from conveyor.documents.checker import Checker
from conveyor.documents.located import load_text


def check(yaml_text: str) -> tuple[list[TargetDef | None], list[str]]:
    doc = load_text(textwrap.dedent(yaml_text), "conveyor.yml")
    chk = Checker(doc)
    found = [check_target(chk, ("targets", i), t) for i, t in enumerate(doc.data["targets"])]
    return found, [str(d) for d in chk.diagnostics]


def test_every_kind_with_defaults_filled_in():
    found, problems = check("""\
        targets:
          - webhook: {url: "https://hooks.example.com/c", secret: hooks/conveyor}
          - slack: {url: slack/deploys}
          - email: {to: [team@example.com], from: conveyor@example.com, host: smtp.example.com,
                    username: conveyor, password: smtp/conveyor}
          - command: [/usr/local/bin/page, --team, web]
          - commitStatus: {provider: gitlab, repository: acme/web/orders, token: "gitlab/token:value"}
        """)
    assert problems == []
    webhook, slack, email, command, status = found
    assert webhook == TargetDef("webhook", {"url": "https://hooks.example.com/c", "secret": "hooks/conveyor",
                                            "format": "conveyor", "headers": {}, "timeoutSeconds": 10})
    assert slack is not None and slack.spec["url"] == "slack/deploys" and slack.secret_names() == ["slack/deploys"]
    assert email is not None and email.spec["port"] == 587 and email.spec["starttls"] is True
    assert email.spec["to"] == ["team@example.com"]
    assert command == TargetDef("command", {"argv": ["/usr/local/bin/page", "--team", "web"], "timeoutSeconds": 30})
    assert status is not None and status.spec["api"] == "https://gitlab.com/api/v4"
    assert status.spec["context"] is None and status.secret_names() == ["gitlab/token:value"]


def test_command_mapping_form_and_cdevents_format():
    found, problems = check("""\
        targets:
          - command: {argv: [notify-send, hi], timeoutSeconds: 5}
          - webhook: {url: "http://127.0.0.1:9000/", secret: s1, format: cdevents, headers: {X-Team: web}}
        """)
    assert problems == []
    assert found[0] == TargetDef("command", {"argv": ["notify-send", "hi"], "timeoutSeconds": 5})
    assert found[1] is not None and found[1].spec["format"] == "cdevents"
    assert found[1].spec["headers"] == {"X-Team": "web"}


def test_all_problems_reported_with_positions_and_paths():
    found, problems = check("""\
        targets:
          - webhok: {url: x}
          - webhook: {url: "ftp://x", format: xml, headers: {X-Conveyor-Event: x}, timeoutSeconds: 0}
          - slack: {url: "https://hooks.slack.com/services/T0/B0/xyz"}
          - email: {to: [not-an-address], from: a@b.c, host: smtp.example.com, starttls: false}
          - command: []
          - commitStatus: {provider: bitbucket, repository: x, token: t}
          - {webhook: {}, slack: {}}
        """)
    assert found == [None] * 7
    text = "\n".join(problems)
    assert "conveyor.yml:2:5 targets[0].webhok: unknown target kind 'webhok' (did you mean 'webhook'?)" in text
    assert "targets[1].webhook: missing required key 'secret'" in text
    assert "conveyor.yml:3:15 targets[1].webhook.url: expected an http or https URL" in text
    assert "targets[1].webhook.format: unknown format 'xml'" in text
    assert "targets[1].webhook.headers.X-Conveyor-Event: header 'X-Conveyor-Event' is set by Conveyor" in text
    assert "targets[1].webhook.timeoutSeconds: timeoutSeconds must be more than 0" in text
    assert "targets[2].slack.url: url names a secret in the secret store, not the value itself" in text
    assert "targets[3].email.to[0]: invalid email address 'not-an-address'" in text
    assert "targets[3].email.starttls: starttls: false sends the password and the message in clear text" in text
    assert "targets[4].command: give the program to run" in text
    assert "targets[5].commitStatus.provider: unknown provider 'bitbucket'" in text
    assert "targets[6]: expected a target: a mapping with one key" in text
    # the Slack URL (a credential) is not echoed back
    assert "xyz" not in text


def test_plain_smtp_needs_insecure_and_refuses_a_password():
    found, problems = check("""\
        targets:
          - email: {to: a@example.com, from: c@example.com, host: 127.0.0.1, port: 2525, starttls: false,
                    insecure: true}
          - email: {to: a@example.com, from: c@example.com, host: 127.0.0.1, starttls: false, insecure: true,
                    username: u, password: smtp/pw}
        """)
    assert found[0] is not None and found[0].spec["to"] == ["a@example.com"] and found[0].spec["insecure"] is True
    assert found[1] is None
    assert any("refusing to log in without STARTTLS" in p for p in problems)


@pytest.mark.parametrize("repo, ok", [("acme/orders", True), ("acme", False), ("acme/orders/x", False)])
def test_github_repository_shape(repo, ok):
    found, problems = check(f"""\
        targets:
          - commitStatus: {{provider: github, repository: "{repo}", token: gh/token, context: ci/conveyor}}
        """)
    assert (found[0] is not None) is ok
    if ok:
        assert found[0].spec == {"provider": "github", "api": "https://api.github.com", "repository": repo,
                                 "token": "gh/token", "context": "ci/conveyor", "timeoutSeconds": 10}
    else:
        assert "invalid github repository" in problems[0]


def test_plain_http_to_another_machine_is_a_warning_not_an_error():
    found, problems = check("""\
        targets:
          - webhook: {url: "http://hooks.example.com/", secret: s1}
        """)
    assert found[0] is not None
    assert len(problems) == 1 and "warning: plain http to another machine" in problems[0]


def test_username_without_password_and_header_injection():
    found, problems = check("""\
        targets:
          - email: {to: [a@example.com], from: c@example.com, host: smtp.example.com, username: u}
          - webhook: {url: "https://h.example.com/", secret: s, headers: {X-A: "v\\r\\nX-Evil: 1"}}
        """)
    assert found == [None, None]
    assert any("username needs password" in p for p in problems)
    assert any("targets[1].webhook.headers.X-A: a header value cannot contain control characters" in p
               for p in problems)


def test_status_api_must_be_https_except_to_this_machine_and_tokens_are_not_secret_names():
    found, problems = check("""\
        targets:
          - commitStatus: {provider: github, api: "http://ghe.example.com/api/v3", repository: a/b, token: t}
          - commitStatus: {provider: github, api: "http://127.0.0.1:8999", repository: a/b, token: t}
          - commitStatus: {provider: gitlab, repository: 42, token: glpat-abcdefghijklmnopqrst}
          - commitStatus: {provider: gitlab, repository: 42, token: glpat-name}
        """)
    assert found[0] is None and found[2] is None
    assert found[1] is not None and found[1].spec["api"] == "http://127.0.0.1:8999"
    assert found[3] is not None and found[3].spec["repository"] == "42"
    assert any("targets[0].commitStatus.api: expected an https URL" in p for p in problems)
    assert any("targets[2].commitStatus.token: token names a secret in the secret store" in p for p in problems)
    assert not any("abcdefghijklmnopqrst" in p for p in problems)


def test_ca_file_is_absolute_and_only_with_starttls():
    found, problems = check("""\
        targets:
          - email: {to: [a@example.com], from: c@example.com, host: smtp.example.com, caFile: /etc/ssl/test-ca.pem}
          - email: {to: [a@example.com], from: c@example.com, host: smtp.example.com, caFile: certs/ca.pem}
          - email: {to: [a@example.com], from: c@example.com, host: 127.0.0.1, starttls: false, insecure: true,
                    caFile: /etc/ssl/test-ca.pem}
        """)
    assert found[0] is not None and found[0].spec["caFile"] == "/etc/ssl/test-ca.pem"
    assert found[1] is None and found[2] is None
    assert any("targets[1].email.caFile: caFile must be an absolute path" in p for p in problems)
    assert any("targets[2].email.caFile: caFile is used only with starttls: true" in p for p in problems)
