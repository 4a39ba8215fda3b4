"""The ECS AppSpec rules one by one (aws-semantics §5.2), with the exact messages and positions a
user sees, and `conveyor validate --kind appspec` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conveyor.config.appspec import (
    AppSpec,
    check_appspec_file,
    container_problems,
    hook_function_name,
    load_appspec,
    parse_appspec,
    split_task_definition,
)
from conveyor.config.taskdef import parse_taskdef
from conveyor.errors import ConfigError

P = "Resources[0].TargetService.Properties"
GOOD = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 8080
Hooks:
  - AfterAllowTestTraffic: smoke-test
  - BeforeInstall: "arn:aws:lambda:us-east-1:111122223333:function:prepare:live"
"""


def appspec(properties: str = "", *, hooks: str = "", version: str = "version: 0.0\n",
            task: str = "<TASK_DEFINITION>", lbi: str = "ContainerName: web\nContainerPort: 8080") -> str:
    """A YAML AppSpec with the given pieces: `properties` and `lbi` are YAML lines placed under
    Properties and LoadBalancerInfo; `hooks` is appended as is. Line 6 is TaskDefinition, 8-9 are
    LoadBalancerInfo's lines, 10 the first line of `properties` (or of `hooks`)."""
    lines = [version.rstrip("\n")] if version else []
    lines += ["Resources:", "  - TargetService:", "      Type: AWS::ECS::Service", "      Properties:",
              f"        TaskDefinition: {task}", "        LoadBalancerInfo:"]
    lines += ["          " + line for line in lbi.splitlines()]
    lines += ["        " + line for line in textwrap.dedent(properties).splitlines()]
    return "\n".join(lines) + "\n" + hooks


def problems(text: str, source: str = "appspec.yaml") -> list[str]:
    return [str(d) for d in parse_appspec(text, source)[1]]


# --- a valid file, as a value --------------------------------------------------------------------


def test_a_valid_appspec_becomes_a_value_with_hooks_in_file_order():
    spec, diagnostics = parse_appspec(GOOD, "appspec.yaml")
    assert diagnostics == []
    assert spec == AppSpec("<TASK_DEFINITION>", "web", 8080, hooks=(
        ("AfterAllowTestTraffic", "smoke-test"),
        ("BeforeInstall", "arn:aws:lambda:us-east-1:111122223333:function:prepare:live")))
    assert spec.needs_task_definition and spec.raw == GOOD
    assert spec.hook("BeforeInstall").endswith(":prepare:live") and spec.hook("AfterInstall") is None


def test_json_is_read_too_and_the_same_rules_apply():
    text = json.dumps({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:3",
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]}, indent=2)
    spec, diagnostics = parse_appspec(text, "appspec.json")
    assert diagnostics == [] and spec.task_definition_revision() == ("web", 3)


@pytest.mark.parametrize("text, expected", [
    ('{"version": 0.0,\n "Resources": [}\n', "appspec.json:2:16: malformed JSON: Expecting value"),
    ("version: 0.0\nResources: [x\n", "appspec.yaml:3:1: malformed YAML: expected ',' or ']', but got '<stream end>'"),
    ("", "appspec.yaml:1:1: the file is empty; expected a YAML mapping"),
    ("- a\n", "appspec.yaml:1:1: expected a mapping at the top level (an ECS AppSpec: version: 0.0, Resources: "),
    ("version: 0.0\nversion: 0.0\n", "appspec.yaml:2:1 version: duplicate key 'version' (first defined on line 1)"),
])
def test_broken_files_get_one_diagnostic_with_the_position(text, expected):
    source = "appspec.json" if text.startswith("{") else "appspec.yaml"
    found = problems(text, source)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_json_is_recognised_by_its_first_character_whatever_the_name():
    found = problems('{"version": 0.0,,}', "appspec.txt")
    assert found == ["appspec.txt:1:17: malformed JSON: Expecting property name enclosed in double quotes"]


def test_a_syntax_error_next_to_a_template_placeholder_says_to_render_the_file():
    text = '{\n  "version": 0.0,\n  "Hooks": [ %{ if HOOKS } ]\n}\n'
    (found,) = problems(text, "appspec.json.tpl")
    assert found.startswith("appspec.json.tpl:3:14: malformed JSON: Expecting value ('%{ if HOOKS }' is a template "
                            "placeholder that was not rendered")


# --- version -------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["version: 0.0\n", "version: '0.0'\n", 'version: "0.0"\n'])
def test_version_0_0_as_a_number_or_a_string(line):
    assert problems(appspec(version=line)) == []


@pytest.mark.parametrize("line, shown", [("version: 1\n", "1"), ("version: 0\n", "0"), ("version: 0.1\n", "0.1"),
                                         ("version: '1.0'\n", "'1.0'"), ("version: true\n", "True")])
def test_any_other_version_is_an_error(line, shown):
    assert problems(appspec(version=line)) == [
        f"appspec.yaml:1:1 version: version must be 0.0, the only AppSpec version, got {shown}"]


def test_a_missing_version_is_an_error():
    assert problems(appspec(version="")) == [
        "appspec.yaml:1:1: missing required key 'version': an AppSpec starts with version: 0.0"]


# --- Resources, TargetService, Properties --------------------------------------------------------


def test_resources_is_required_and_says_what_an_ecs_appspec_looks_like():
    (found,) = problems("version: 0.0\n")
    assert found.startswith("appspec.yaml:1:1: missing required key 'Resources': an ECS AppSpec names the service to "
                            "deploy (version: 0.0, Resources: [- TargetService: {Type: AWS::ECS::Service")


@pytest.mark.parametrize("resources, expected", [
    ("Resources:\n  TargetService: {}\n", "appspec.yaml:2:1 Resources: expected a list with one TargetService, got a "
                                          "mapping"),
    ("Resources: []\n", "appspec.yaml:2:1 Resources: Resources must hold exactly one TargetService (one ECS service "
                        "per deployment), got 0 entries"),
    ("Resources: [x]\n", "appspec.yaml:2:13 Resources[0]: expected a mapping with the single key TargetService, got "
                         "a string"),
    ("Resources:\n  - MyService: {Type: AWS::ECS::Service}\n",
     "appspec.yaml:3:5 Resources[0]: missing required key 'TargetService'"),
])
def test_the_shape_of_resources(resources, expected):
    assert expected in problems("version: 0.0\n" + resources)


def test_two_target_services_are_refused():
    text = appspec() + "  - TargetService: {Type: AWS::ECS::Service}\n"
    text = text.replace("Hooks", "")
    assert "appspec.yaml:2:1 Resources: Resources must hold exactly one TargetService (one ECS service per " \
           "deployment), got 2 entries" in problems(text)


def test_the_type_must_be_an_ecs_service():
    text = appspec().replace("AWS::ECS::Service", "AWS::ECS::Services")
    assert problems(text) == ["appspec.yaml:4:7 Resources[0].TargetService.Type: Type must be AWS::ECS::Service, got "
                              "'AWS::ECS::Services' (did you mean 'AWS::ECS::Service'?)"]


def test_properties_and_its_required_keys():
    text = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties: {}\n"
    assert problems(text) == [
        f"appspec.yaml:5:7 {P}: missing required key 'LoadBalancerInfo'",
        f"appspec.yaml:5:7 {P}: missing required key 'TaskDefinition'",
    ]
    no_properties = "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
    assert problems(no_properties) == ["appspec.yaml:3:5 Resources[0].TargetService: missing required key "
                                       "'Properties'"]


def test_a_wrong_case_key_is_an_error_and_what_it_holds_is_still_checked():
    text = appspec(lbi="containerName: web\nContainerPort: 0").replace("Resources:", "resources:")
    assert problems(text) == [
        "appspec.yaml:2:1 resources: unknown key 'resources' (did you mean 'Resources'?): AppSpec keys are "
        "case-sensitive",
        "appspec.yaml:8:11 resources[0].TargetService.Properties.LoadBalancerInfo.containerName: unknown key "
        "'containerName' (did you mean 'ContainerName'?): AppSpec keys are case-sensitive",
        "appspec.yaml:9:11 resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort: ContainerPort must be "
        "between 1 and 65535, got 0",
    ]


def test_unknown_keys_are_warnings_with_a_suggestion():
    spec, found = parse_appspec(appspec("PlatfromVersion: LATEST\n") + "Extra: 1\n")
    assert [str(d) for d in found] == [
        f"appspec.yaml:10:9 {P}.PlatfromVersion: warning: unknown key 'PlatfromVersion' (did you mean "
        "'PlatformVersion'?); Conveyor ignores it",
        "appspec.yaml:11:1 Extra: warning: unknown key 'Extra'; Conveyor ignores it",
    ]
    assert spec is not None and spec.platform_version is None


def test_every_problem_is_reported_at_once():
    text = appspec(version="version: 2\n", task="taskdef.json", lbi="ContainerName: 'my web'\nContainerPort: x",
                   hooks="Hooks:\n  - ApplicationStart: start\n")
    found = problems(text)
    assert [f.split(" ", 2)[:2] for f in found] == [
        ["appspec.yaml:1:1", "version:"],
        ["appspec.yaml:6:9", f"{P}.TaskDefinition:"],
        ["appspec.yaml:8:11", f"{P}.LoadBalancerInfo.ContainerName:"],
        ["appspec.yaml:9:11", f"{P}.LoadBalancerInfo.ContainerPort:"],
        ["appspec.yaml:11:5", "Hooks[0].ApplicationStart:"],
    ]


# --- TaskDefinition ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["<TASK_DEFINITION>", '"<TASK_DEFINITION>"',
                                   "arn:aws:ecs:us-east-1:111122223333:task-definition/web:42",
                                   "arn:aws-cn:ecs:cn-north-1:111122223333:task-definition/web_api-2:1", "web:7"])
def test_task_definition_forms_that_deploy(value):
    assert problems(appspec(task=value)) == []


@pytest.mark.parametrize("value, expected", [
    ("arn:aws:ecs:us-east-1:111122223333:task-definition/web",
     "warning: the ARN names no revision (...:task-definition/web:REVISION): ECS then uses the latest ACTIVE revision "
     "of web, which may not be the one you tested"),
    ("web:0", "task definition revisions start at 1, got 0"),
    ('""', "TaskDefinition is empty; expected <TASK_DEFINITION> (CodeDeployToECS puts the ARN of the revision it "
           "registers there), an ECS task definition ARN arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION, "
           "or FAMILY:REVISION for a revision registered locally"),
    ("<TASK_DEF_ARN>", "'<TASK_DEF_ARN>' is not replaced: CodeDeployToECS replaces only the exact token "
                       "<TASK_DEFINITION> (angle brackets included); write TaskDefinition: <TASK_DEFINITION>"),
    ("<task_definition>", "'<task_definition>' is not replaced"),
    ("arn:aws:ecs:<region>:<account>:task-definition/web:1", "the ARN still holds <region>, <account>: fill them in"),
    ("arn:aws:ecs:us-east-2:*:task-definition/app:*", "'arn:aws:ecs:us-east-2:*:task-definition/app:*' is not an ECS "
                                                      "task definition ARN"),
    ('"${TASK_DEF}"', "'${TASK_DEF}' looks like a template placeholder that was not rendered; CodeDeployToECS "
                      "replaces only the exact token <TASK_DEFINITION>"),
    ("taskdef.json", "'taskdef.json' is a file name, but TaskDefinition names a registered task definition"),
    ("orders", "'orders' is not a task definition; expected <TASK_DEFINITION>"),
    ("42", "expected a string, got an integer"),
])
def test_task_definition_verdicts(value, expected):
    (found,) = problems(appspec(task=value))
    assert found.startswith(f"appspec.yaml:6:9 {P}.TaskDefinition: {expected}"), found


def test_split_task_definition():
    assert split_task_definition("arn:aws:ecs:us-east-1:111122223333:task-definition/web:42") == ("web", 42)
    assert split_task_definition("arn:aws:ecs:us-east-1:111122223333:task-definition/web") == ("web", None)
    assert split_task_definition("web:7") == ("web", 7)
    assert split_task_definition("<TASK_DEFINITION>") is None and split_task_definition("web") is None


# --- LoadBalancerInfo ----------------------------------------------------------------------------


def test_a_quoted_container_port_is_read_with_a_warning():
    spec, found = parse_appspec(appspec(lbi='ContainerName: web\nContainerPort: "8080"'))
    assert [str(d) for d in found] == [
        f"appspec.yaml:9:11 {P}.LoadBalancerInfo.ContainerPort: warning: ContainerPort is the string \"8080\": the "
        "AppSpec documents a number (write ContainerPort: 8080); Conveyor reads it as 8080"]
    assert spec.container_port == 8080


@pytest.mark.parametrize("port, expected", [
    ("0", "ContainerPort must be between 1 and 65535, got 0"),
    ("65536", "ContainerPort must be between 1 and 65535, got 65536"),
    ('"99999"', "ContainerPort must be between 1 and 65535, got 99999"),
    ("http", "ContainerPort must be a port number 1-65535, got 'http'"),
    ('" "', "ContainerPort must be a port number 1-65535, got ' ' (it is blank)"),
    ("true", "expected a port number, got a boolean"),
    ("80.5", "expected a port number, got a number"),
])
def test_container_port_must_be_a_port(port, expected):
    found = [f for f in problems(appspec(lbi=f"ContainerName: web\nContainerPort: {port}")) if ": warning: " not in f]
    assert found == [f"appspec.yaml:9:11 {P}.LoadBalancerInfo.ContainerPort: {expected}"]


@pytest.mark.parametrize("name, expected", [
    ('" "', "ContainerName is blank; expected the name of the task definition's container that receives traffic"),
    ("my.web", "invalid container name 'my.web': ECS container names are 1-255 letters, digits, '-' or '_'"),
    ("<CONTAINER_NAME>", "invalid container name '<CONTAINER_NAME>': ECS container names are 1-255 letters, digits, "
                         "'-' or '_'; '<CONTAINER_NAME>' looks like a template placeholder that was not rendered"),
])
def test_container_name_must_be_an_ecs_container_name(name, expected):
    (found,) = problems(appspec(lbi=f"ContainerName: {name}\nContainerPort: 80"))
    assert found.startswith(f"appspec.yaml:8:11 {P}.LoadBalancerInfo.ContainerName: {expected}")


def test_load_balancer_info_needs_both_keys():
    assert problems(appspec(lbi="ContainerPort: 80")) == [
        f"appspec.yaml:7:9 {P}.LoadBalancerInfo: missing required key 'ContainerName'"]


def test_container_problems_against_the_task_definition():
    td, _ = parse_taskdef({"family": "web", "containerDefinitions": [
        {"name": "api", "image": "x", "portMappings": [{"containerPort": 8080}]}, {"name": "sidecar", "image": "y"}]})
    assert container_problems(AppSpec("<TASK_DEFINITION>", "api", 8080), td) == []
    assert container_problems(AppSpec("<TASK_DEFINITION>", "web", 8080), td) == [
        "LoadBalancerInfo.ContainerName 'web' is not a container of task definition web (containers: api, sidecar)"]
    assert container_problems(AppSpec("<TASK_DEFINITION>", "api", 80), td) == [
        "LoadBalancerInfo.ContainerPort 80 is not a containerPort of container 'api' in task definition web (its "
        "containerPorts: 8080)"]
    assert container_problems(AppSpec("<TASK_DEFINITION>", "sidecar", 80), td)[0].endswith("(its containerPorts: none)")


# --- accepted, not applied locally ---------------------------------------------------------------


def test_platform_network_and_capacity_settings_are_accepted_and_listed_as_ignored():
    spec, found = parse_appspec(appspec("""\
        PlatformVersion: "1.4.0"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: [subnet-1, subnet-2]
            SecurityGroups: [sg-1]
            AssignPublicIp: DISABLED
        CapacityProviderStrategy:
          - {CapacityProvider: FARGATE, Base: 1, Weight: 1}
        """))
    assert found == []
    assert spec.ignored == ("PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy")
    assert spec.platform_version == "1.4.0"
    assert spec.capacity_provider_strategy == [{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1}]


@pytest.mark.parametrize("fragment, expected", [
    ("PlatformVersion: 1.4\n", f"appspec.yaml:10:9 {P}.PlatformVersion: expected a string (\"LATEST\" or a version "
                               "such as \"1.4.0\"), got a number"),
    ("NetworkConfiguration: {AwsvpcConfiguration: {AssignPublicIp: Enabled, Subnets: [s]}}\n",
     f"appspec.yaml:10:54 {P}.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp: unknown AssignPublicIp "
     "'Enabled' (did you mean 'ENABLED'?)"),
    ("NetworkConfiguration: {AwsvpcConfiguration: {SecurityGroups: [sg-1]}}\n",
     f"appspec.yaml:10:32 {P}.NetworkConfiguration.AwsvpcConfiguration: missing required key 'Subnets'"),
    ("NetworkConfiguration: {AwsvpcConfiguration: {Subnets: []}}\n",
     f"appspec.yaml:10:54 {P}.NetworkConfiguration.AwsvpcConfiguration.Subnets: Subnets takes 1 to 16 IDs, got 0"),
    ("NetworkConfiguration: {Subnets: [s]}\n",
     f"appspec.yaml:10:32 {P}.NetworkConfiguration.Subnets: warning: unknown key 'Subnets'; Conveyor ignores it"),
    ("CapacityProviderStrategy: [{CapacityProvider: FARGATE, Weight: 1001}]\n",
     f"appspec.yaml:10:64 {P}.CapacityProviderStrategy[0].Weight: Weight must be between 0 and 1000, got 1001"),
    ("CapacityProviderStrategy: [{Weight: 1}]\n",
     f"appspec.yaml:10:36 {P}.CapacityProviderStrategy[0]: missing required key 'CapacityProvider'"),
])
def test_ignored_settings_are_still_checked(fragment, expected):
    _, found = parse_appspec(appspec(fragment))
    assert expected in [str(d) for d in found], [str(d) for d in found]


def test_a_setting_with_an_error_is_not_listed_as_ignored():
    spec, found = parse_appspec(appspec("PlatformVersion: LATEST\nCapacityProviderStrategy: [{Weight: 1}]\n"))
    assert spec is None
    assert any("missing required key 'CapacityProvider'" in str(d) for d in found)


# --- Hooks ---------------------------------------------------------------------------------------


def test_hooks_may_be_absent_or_null():
    assert parse_appspec(appspec())[0].hooks == ()
    assert parse_appspec(appspec(hooks="Hooks:\n  # - BeforeInstall: fn\n"))[0].hooks == ()


@pytest.mark.parametrize("hooks, expected", [
    ("  - ApplicationStart: start\n",
     "appspec.yaml:11:5 Hooks[0].ApplicationStart: ApplicationStart is an EC2/on-premises lifecycle event; an ECS "
     "AppSpec may hook BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic"),
    ("  - ValidateService: check\n", "ValidateService is an EC2/on-premises lifecycle event; an ECS AppSpec may hook"),
    ("  - BeforeBlockTraffic: fn\n", "BeforeBlockTraffic is an EC2/on-premises lifecycle event"),
    ("  - AllowTraffic: fn\n",
     "AllowTraffic is run by CodeDeploy itself and takes no hook; an ECS AppSpec may hook BeforeInstall, "),
    ("  - Install: fn\n", "Install is run by CodeDeploy itself and takes no hook"),
    ("  - afterInstall: fn\n",
     "appspec.yaml:11:5 Hooks[0].afterInstall: unknown lifecycle event 'afterInstall' (did you mean 'AfterInstall'?): "
     "event names are case-sensitive"),
    ("  - AfterTestTraffic: fn\n",
     "unknown lifecycle event 'AfterTestTraffic' (did you mean 'AfterAllowTestTraffic'?); an ECS AppSpec may hook"),
    ("  - BeforeInstall: a\n  - BeforeInstall: b\n",
     "appspec.yaml:12:5 Hooks[1].BeforeInstall: a second BeforeInstall hook (the first is Hooks[0]): CodeDeploy runs "
     "one function per lifecycle event"),
    ('  - AfterInstall: " "\n',
     "appspec.yaml:11:5 Hooks[0].AfterInstall: the value is blank; expected a Lambda function name or ARN"),
    ("  - AfterInstall:\n",
     "appspec.yaml:11:5 Hooks[0].AfterInstall: expected a Lambda function name or ARN, got nothing (null)"),
    ("  - AfterInstall: my function\n",
     "appspec.yaml:11:5 Hooks[0].AfterInstall: invalid Lambda function 'my function': expected a name of 1-64 letters, "
     "digits, '-' or '_' (optionally :QUALIFIER) or an ARN arn:aws:lambda:REGION:ACCOUNT:function:NAME"),
    ("  - AfterInstall: ${HOOK}\n", "Hooks[0].AfterInstall: '${HOOK}' looks like a template placeholder that was not "
                                    "rendered"),
    ("  - AfterInstall:\n      - location: scripts/after.sh\n",
     "appspec.yaml:11:5 Hooks[0].AfterInstall: an ECS hook names one Lambda function (- AfterAllowTestTraffic: "
     "my-function); lists of scripts (location:, timeout:) are EC2/on-premises hooks"),
    ("  - {BeforeInstall: a, AfterInstall: b}\n",
     "appspec.yaml:11:5 Hooks[0]: each hook is a single-key map - EVENT: LAMBDA_FUNCTION (e.g. "
     "- AfterAllowTestTraffic: my-function), got a mapping with 2 keys"),
    ("  - BeforeInstall\n", "Hooks[0]: each hook is a single-key map - EVENT: LAMBDA_FUNCTION"),
])
def test_hook_rules(hooks, expected):
    found = problems(appspec(hooks="Hooks:\n" + hooks))
    assert any(expected in f for f in found), found


def test_hooks_as_a_mapping_are_refused_with_the_list_form():
    assert problems(appspec(hooks="Hooks:\n  AfterInstall: fn\n")) == [
        "appspec.yaml:10:1 Hooks: Hooks is a list of single-key maps (- AfterAllowTestTraffic: my-function), got a "
        "mapping"]


@pytest.mark.parametrize("value", ["smoke", "smoke:live", "smoke:$LATEST", "111122223333:function:smoke",
                                   "arn:aws:lambda:us-east-1:111122223333:function:smoke",
                                   "arn:aws:lambda:us-east-1:111122223333:function:smoke:7"])
def test_hook_values_lambda_accepts(value):
    spec, found = parse_appspec(appspec(hooks=f"Hooks:\n  - AfterAllowTraffic: '{value}'\n"))
    assert found == [] and spec.hooks == (("AfterAllowTraffic", value),)
    assert hook_function_name(value) == "smoke"


def test_hook_function_name():
    assert hook_function_name("CodeDeployHook_smoke") == "CodeDeployHook_smoke"
    assert hook_function_name("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:fn-1:prod") == "fn-1"


# --- AppSpecs of other compute platforms ---------------------------------------------------------


@pytest.mark.parametrize("text, first", [
    ("version: 0.0\nfiles:\n  - source: /\n    destination: /srv\n", "appspec.yaml:2:1 files: this is an "
                                                                     "EC2/on-premises AppSpec (it has files): "),
    ("version: 0.0\nhooks:\n  AfterInstall:\n    - location: a.sh\n", "appspec.yaml:2:1 hooks: this is an "
                                                                      "EC2/on-premises AppSpec (it has hooks): "),
    ("version: 0.0\nos: linux\npermissions: []\n", "appspec.yaml:2:1 os: this is an EC2/on-premises AppSpec (it has "
                                                   "os, permissions): "),
])
def test_ec2_appspecs_get_one_error(text, first):
    (found,) = problems(text)
    assert found.startswith(first + "Conveyor deploys ECS services, and an ECS AppSpec names the service instead of "
                                    "files and scripts: version: 0.0, Resources: [- TargetService: ")


def test_a_lowercase_hooks_list_in_an_ecs_appspec_is_a_case_error_not_an_ec2_file():
    found = problems(appspec(hooks="hooks:\n  - AfterInstall: fn\n"))
    assert found == ["appspec.yaml:10:1 hooks: unknown key 'hooks' (did you mean 'Hooks'?): AppSpec keys are "
                     "case-sensitive"]


@pytest.mark.parametrize("key", ["Type", "type"])
def test_a_lambda_appspec_gets_one_error(key):
    text = textwrap.dedent(f"""\
        version: 0.0
        Resources:
          - myLambdaFunction:
              {key}: AWS::Lambda::Function
              Properties: {{Name: fn, Alias: live, CurrentVersion: "1", TargetVersion: "2"}}
        Hooks:
          - BeforeAllowTraffic: check
        """)
    (found,) = problems(text)
    assert found.startswith("appspec.yaml:3:5 Resources[0].myLambdaFunction: this is an AWS Lambda AppSpec (Type "
                            "AWS::Lambda::Function): Conveyor deploys ECS services, whose AppSpec looks like: ")


# --- files ---------------------------------------------------------------------------------------


def test_check_appspec_file_never_raises(tmp_path):
    assert [str(d) for d in check_appspec_file(tmp_path / "nope.yaml", "nope.yaml")] == ["nope.yaml: file not found"]
    (tmp_path / "bad.yaml").write_bytes(b"version: \xff\n")
    assert [str(d) for d in check_appspec_file(tmp_path / "bad.yaml", "bad.yaml")] == [
        "bad.yaml:1:10: not UTF-8 text (byte 9: 0xff, invalid start byte)"]
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert check_appspec_file(tmp_path / "bom.yaml", "bom.yaml") == []


def test_load_appspec_raises_config_error_with_every_diagnostic(tmp_path):
    (tmp_path / "appspec.yaml").write_text(appspec(version="", lbi="ContainerName: web\nContainerPort: 0"))
    with pytest.raises(ConfigError) as exc:
        load_appspec(tmp_path / "appspec.yaml", "appspec.yaml")
    assert exc.value.error_count == 2


# --- conveyor validate --kind appspec, through the CLI ------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd / ".home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_validate_a_valid_appspec_exits_0(tmp_path):
    (tmp_path / "spec.yml").write_text(GOOD)
    done = cli("validate", "--kind", "appspec", "spec.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "✓ spec.yml (appspec) is valid"


def test_validate_an_invalid_appspec_exits_2_with_file_and_line(tmp_path):
    properties = {"TaskDefinition": "<TASK_DEFINITION>",
                  "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}
    (tmp_path / "appspec.json").write_text(json.dumps({"version": 1, "Resources": [{"TargetService": {
        "Type": "AWS::ECS::Service", "Properties": properties}}], "Hooks": [{"ValidateService": "check"}]}, indent=2))
    done = cli("validate", "appspec.json", cwd=tmp_path)  # the kind comes from the name
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "appspec.json:2:3 version: version must be 0.0, the only AppSpec version, got 1",
        "appspec.json:19:7 Hooks[0].ValidateService: ValidateService is an EC2/on-premises lifecycle event; an ECS "
        "AppSpec may hook BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic",
        "2 errors",
    ]
    assert "Traceback" not in done.stderr


def test_validate_json_output_and_warnings(tmp_path):
    (tmp_path / "app-spec.yml").write_text(GOOD.replace("ContainerPort: 8080", 'ContainerPort: "8080"'))
    done = cli("validate", "--json", "app-spec.yml", cwd=tmp_path)
    out = json.loads(done.stdout)
    assert done.returncode == 0
    assert out["files"] == [{"file": "app-spec.yml", "kind": "appspec", "valid": True}]
    assert out["errors"] == 0 and out["warnings"] == 1
    assert out["diagnostics"][0]["line"] == 9 and out["diagnostics"][0]["severity"] == "warning"
