"""The scaffold's pure parts: one name valid in every file, and rendered files that pass every
validator of `conveyor validate` whatever the plan holds (edge names, ports, paths, branches)."""

from __future__ import annotations

import pytest
import yaml

from conveyor.cli.init import check_rendered, usable_build_args
from conveyor.errors import ConfigError
from conveyor.registry.repositories import REPOSITORY_NAME
from conveyor.scaffold.dockerfile import BuildArg
from conveyor.scaffold.naming import NAME, check_name, service_name
from conveyor.scaffold.templates import Plan, q, render


@pytest.mark.parametrize("text, name", [
    ("orders-service", "orders-service"),
    ("Orders_Service", "orders-service"),
    ("my.app v2", "my-app-v2"),
    ("--weird--", "weird"),
    ("a", "a-app"),
    ("", "app"),
    ("☃☃", "app"),
    ("x" * 80, "x" * 64),
    ("a" * 63 + "-b", "a" * 63),         # cut at 64 leaves a trailing hyphen: dropped
])
def test_service_names_pass_every_rule(text, name):
    got = service_name(text)
    assert got == name
    assert check_name(got) is None and NAME.fullmatch(got) and REPOSITORY_NAME.fullmatch(got)
    assert 2 <= len(got) <= 64


@pytest.mark.parametrize("name", ["Orders", "a", "a--b", "-ab", "ab-", "a_b", "a.b", "x" * 65])
def test_names_given_by_hand_are_checked(name):
    assert check_name(name) is not None


@pytest.mark.parametrize("value, text", [
    ("main", "main"), ("release/1.x", "release/1.x"), ("/health", "/health"), ("no", '"no"'),
    ("true", '"true"'), ("8080", '"8080"'), ("/a?b=1", '"/a?b=1"'), ("x: y", '"x: y"'), ("#c", '"#c"'),
    ("python:3.12-slim", '"python:3.12-slim"'), ('say "hi"', '"say \\"hi\\""'),
])
def test_scalars_read_back_unchanged(value, text):
    assert q(value) == text
    assert yaml.safe_load(f"k: {q(value)}") == {"k": value}


PLANS = [
    Plan(name="ab", branch="main", dockerfile="Dockerfile", context=".", port=1, health_path="/"),
    Plan(name="x" * 64, branch="release/2026.12", dockerfile="deploy/docker/Containerfile", context="deploy/docker",
         port=65535, health_path="/status/ready?verbose=1&x=%20", staging_port=30001, production_port=30002,
         test_port=30003),
    Plan(name="shop", branch="yes", dockerfile="Dockerfile", context=".", port=3000, health_path="/health",
         build_args=(BuildArg("BASE_IMAGE", "registry.example.com:5000/base:1.2", 1),
                     BuildArg("QUOTED", 'a "b" #c: d', 3))),
]


@pytest.mark.parametrize("plan", PLANS, ids=["smallest", "largest", "build-args"])
def test_every_plan_renders_files_that_validate(plan):
    files = render(plan)
    check_rendered(files)   # raises ConfigError with the diagnostics when a file does not validate
    conf = yaml.safe_load(files["conveyor.yml"])
    assert conf["protectedBranches"] == [plan.branch]
    lb = conf["environments"]["production"]["services"][plan.name]["loadBalancer"]
    assert (lb["containerPort"], lb["healthCheck"]["path"]) == (plan.port, plan.health_path)
    spec = yaml.safe_load(files["buildspec.yml"])
    for arg in plan.build_args:
        assert spec["env"]["variables"][arg.name] == arg.default
        assert {"name": arg.name, "defaultValue": arg.default,
                "description": f"--build-arg {arg.name} (Dockerfile:{arg.line})"} in conf["pipeline"]["variables"]


def test_a_rendered_file_that_does_not_validate_is_refused():
    files = render(PLANS[0])
    files["taskdef.json"] = files["taskdef.json"].replace('"family"', '"familly"')
    with pytest.raises(ConfigError) as caught:
        check_rendered(files)
    assert any(d.file == "taskdef.json" and "family" in d.message for d in caught.value.diagnostics)


def test_build_args_without_a_default_or_with_a_taken_name_are_left_out():
    args = (BuildArg("BASE", "x", 1), BuildArg("NODEFAULT", None, 2), BuildArg("CODEBUILD_X", "1", 3),
            BuildArg("IMAGE_URI", "u", 4), BuildArg("TARGETARCH", "amd64", 5), BuildArg("BASE", "y", 6),
            BuildArg("EMPTY", "", 7))
    keep, skipped = usable_build_args(args)
    assert keep == (BuildArg("BASE", "x", 1),)
    assert skipped == ["NODEFAULT (no default: builds leave it unset)",
                       "CODEBUILD_X (a name the build already sets)", "IMAGE_URI (a name the build already sets)",
                       "TARGETARCH (a name the build already sets)",
                       "EMPTY (a default of 0 characters: builds use the Dockerfile's; a pipeline variable's default "
                       "is 1-1000)"]
