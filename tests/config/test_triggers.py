"""pipeline.triggers: branch, tag and pull-request filters, and their errors (all at once, at
their line, column and key path)."""

from __future__ import annotations

import pytest

from conveyor.config.model import PullRequestDef
from conveyor.config.pipeline import load_pipeline_text
from conveyor.errors import ConfigError

HEAD = """\
name: p
pipeline:
  triggers:
{triggers}
  stages:
    - name: Source
      actions:
        - {{name: Source, provider: Git, outputArtifacts: [src]}}
    - name: Wait
      actions:
        - {{name: Pause, provider: Wait, seconds: 0}}
"""


def load(triggers: str):
    return load_pipeline_text(HEAD.format(triggers=triggers))


def errors(triggers: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(triggers)
    return [str(d) for d in info.value.diagnostics]


def test_tag_and_pull_request_triggers_are_read_into_the_model():
    definition = load("""\
    - branches: [main]
    - tags: {includes: ["v*"], excludes: ["v0.*"]}
    - pullRequest:
        events: [open, UPDATED]
        branches: [main]
        paths: ["src/**"]
    - pullRequest: {}""")
    push, tag, pr, every = definition.triggers
    assert (push.kind, tag.kind, pr.kind) == ("push", "tag", "pullRequest")
    assert tag.tags == (("v*",), ("v0.*",)) and tag.source == "Source"
    assert pr.pull_request == PullRequestDef(("OPEN", "UPDATED"), (("main",), ()), (("src/**",), ()))
    assert every.pull_request == PullRequestDef(("OPEN", "UPDATED", "CLOSED"))


def test_every_trigger_mistake_is_reported_at_once_with_its_place():
    assert errors("""\
    - tags: [v*]
      branches: [main]
    - pullRequest: {events: [opened, OPEN, open]}
      paths: [a]
    - pullRequest: {events: [], target: main}
    - tags: ["[v"]
      paths: [x]
    - pullRequest: [open]""") == [
        "conveyor.yml:5:7 pipeline.triggers[0].branches: a trigger with tags fires on tag pushes only and takes "
        "no 'branches' (as CodePipeline's push filter); put branch filters in another trigger",
        "conveyor.yml:6:30 pipeline.triggers[1].pullRequest.events[0]: unknown pull request event 'opened'; "
        "expected one of open, updated, closed",
        "conveyor.yml:6:44 pipeline.triggers[1].pullRequest.events[2]: event 'open' is listed twice",
        "conveyor.yml:7:7 pipeline.triggers[1].paths: a pull-request trigger filters under pullRequest: "
        "(move 'paths' there), or make this a separate push trigger",
        "conveyor.yml:8:21 pipeline.triggers[2].pullRequest.events: events takes 1 to 3 of open, updated, "
        "closed, got 0",
        "conveyor.yml:8:33 pipeline.triggers[2].pullRequest.target: unknown key 'target'",
        "conveyor.yml:9:14 pipeline.triggers[3].tags[0]: invalid glob '[v': '[' is never closed by ']' at position 0",
        "conveyor.yml:10:7 pipeline.triggers[3].paths: a trigger with tags fires on tag pushes only and takes "
        "no 'paths' (as CodePipeline's push filter); put branch filters in another trigger",
        "conveyor.yml:11:7 pipeline.triggers[4].pullRequest: expected a mapping, got a list",
    ]
