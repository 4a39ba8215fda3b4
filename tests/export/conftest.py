"""Exporting conveyor.yml files to CloudFormation and linting the result, for the export tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from conveyor.config.pipeline import load_pipeline
from conveyor.export.environment import environment_template
from conveyor.export.notes import Notes
from conveyor.export.template import Template

#: A region whose schemas have every resource type the export uses.
LINT_REGIONS = ["eu-west-1", "us-east-1"]


def export(conveyor_yml: Path, environment: str) -> tuple[Template, Notes]:
    """The environment's template and notes; task definitions and AppSpecs next to conveyor.yml."""
    notes = Notes()
    template = environment_template(load_pipeline(conveyor_yml), environment, repository_root=conveyor_yml.parent,
                                    notes=notes)
    return template, notes


def lint_findings(text: str) -> list[str]:
    """cfn-lint's findings on a template, as 'E3002 line 6: message'."""
    found = lint(text, config=ManualArgs(regions=LINT_REGIONS))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in found]


@pytest.fixture
def exported() -> Callable[[Path, str], tuple[Template, Notes]]:
    return export


@pytest.fixture
def cfn_lint() -> Callable[[str], list[str]]:
    return lint_findings
