"""Which environments DORA counts: conveyor.yml's `production:` flag (validated with the file's
line and column like every key), else the names production and prod."""

from __future__ import annotations

import textwrap

from conveyor.config.environments import check_environments
from conveyor.documents.located import load_text
from conveyor.dora.production import is_production, production_flags

PIPELINE = """\
name: demo
pipeline:
  stages:
    - name: Source
      actions:
        - {name: Source, provider: Git, outputArtifacts: [src]}
environments:
"""


def check(environments: str) -> list[str]:
    doc = load_text(PIPELINE + textwrap.indent(textwrap.dedent(environments), "  "), "conveyor.yml")
    return [str(d) for d in check_environments(doc, read_taskdef=lambda value: None)]


def test_the_flag_is_a_boolean_reported_at_its_position():
    assert check("live: {production: true}\nprod: {production: false}\n") == []
    assert check("live:\n  production: yes please\n") == [
        "conveyor.yml:9:5 environments.live.production: expected true or false, got a string"]
    assert check("live: {prodution: true}\n") == [
        "conveyor.yml:8:10 environments.live.prodution: unknown key 'prodution' (did you mean 'production'?)"]


def test_names_decide_when_no_pipeline_says():
    assert [is_production(n, {}) for n in ("production", "prod", "staging", "Production", "prod-eu")] == [
        True, True, False, False, False]


def test_the_flag_overrides_the_name_and_true_wins_between_pipelines():
    flags = production_flags([
        {"environments": {"live": {"production": True}, "prod": {"production": False}, "qa": {}}},
        {"environments": {"live": {"production": False}, "staging": None}},
        {"name": "no-environments"},
    ])
    assert flags == {"live": True, "prod": False}
    assert (is_production("live", flags), is_production("prod", flags), is_production("production", flags)) == (
        True, False, True)
