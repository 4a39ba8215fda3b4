"""docs/conveyor.reference.yml is the documentation of every conveyor.yml key (STYLE.md §12):
it must validate cleanly and cover every key the validator knows, so it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conveyor.config.model import (
    DEFAULT_EXECUTION_MODE,
    DEFAULT_POLL_INTERVAL_SECONDS,
    action_configuration,
)
from conveyor.config.pipeline import PIPELINE_KEYS, TOP_KEYS, check_file, load_pipeline
from conveyor.config.providers import (
    ACTION_KEYS,
    ACTION_TIMEOUT_DEFAULT_MINUTES,
    MANUAL_TIMEOUT_DEFAULT_MINUTES,
    PROVIDERS,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "conveyor.reference.yml"
EXAMPLE = ROOT / "examples" / "orders-service" / "conveyor.yml"
RUNNABLE_PROVIDERS = ("Git", "Command", "Manual", "Wait")

# Keys the validator accepts that the reference does not use yet. Reported to the lead; remove an
# entry when the reference covers it (the test fails if an entry is no longer missing).
NOT_YET_USED_IN_REFERENCE: set[str] = set()
NOT_YET_NAMED_IN_REFERENCE: set[str] = set()


@pytest.fixture(scope="module")
def data() -> dict:
    return yaml.safe_load(REFERENCE.read_text())


@pytest.fixture(scope="module")
def text() -> str:
    return REFERENCE.read_text()


def actions(data: dict) -> list[dict]:
    return [a for stage in data["pipeline"]["stages"] for a in stage["actions"]]


def test_the_reference_validates_without_errors_or_warnings():
    assert [str(d) for d in check_file(REFERENCE, "docs/conveyor.reference.yml")] == []
    pipeline = load_pipeline(REFERENCE)
    assert pipeline.warnings == ()
    assert pipeline.execution_mode == "QUEUED"


def test_the_example_service_pipeline_validates():
    assert [str(d) for d in check_file(EXAMPLE, "examples/orders-service/conveyor.yml")] == []


def test_every_key_is_used_at_least_once(data):
    missing = set()
    used_by_provider: dict[str, set[str]] = {}
    used_action_keys: set[str] = set()
    for action in actions(data):
        used_action_keys |= set(action)
        used_by_provider.setdefault(action["provider"], set()).update(action_configuration(action))
    for provider in RUNNABLE_PROVIDERS:
        missing |= {f"{provider}.{k}" for k in PROVIDERS[provider].keys if k not in used_by_provider.get(provider, ())}
    missing |= {f"action.{k}" for k in ACTION_KEYS if k not in used_action_keys}
    missing |= {f"pipeline.{k}" for k in PIPELINE_KEYS if k not in data["pipeline"]}
    missing |= {f"top.{k}" for k in TOP_KEYS if k not in data}
    assert missing == NOT_YET_USED_IN_REFERENCE


def test_every_key_and_provider_is_named_in_the_file(text):
    """Weak form of "every key has a comment": each key name, and each provider, appears in the file."""
    names = set(TOP_KEYS) | set(PIPELINE_KEYS) | set(ACTION_KEYS) | set(PROVIDERS)
    names |= {"defaultValue", "description", "source", "branches", "paths", "includes", "excludes",
              "target", "services"}
    for provider in RUNNABLE_PROVIDERS:
        names |= set(PROVIDERS[provider].keys)
    absent = {n for n in names if not re.search(rf"\b{re.escape(n)}\b", text)}
    assert absent == NOT_YET_NAMED_IN_REFERENCE


def test_the_header_lists_every_provider(text):
    line = next(ln for ln in text.splitlines() if "provider: Git" in ln)
    listed = line.split("#", 1)[1].split("|")
    assert {p.strip() for p in listed} == set(PROVIDERS)


def test_the_documented_defaults_are_the_real_ones(text):
    assert f"{DEFAULT_EXECUTION_MODE} (default" in text
    assert f"Default {DEFAULT_POLL_INTERVAL_SECONDS}." in text
    assert f"default {ACTION_TIMEOUT_DEFAULT_MINUTES}; a timed-out action fails" in text
    assert f"default 7 days ({MANUAL_TIMEOUT_DEFAULT_MINUTES})" in text
    assert f"branch: {PROVIDERS['Git'].keys['branch'].default}" in text
