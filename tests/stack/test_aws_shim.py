"""The aws shim as the build image runs it: a script on python3, reading only its environment."""

import json
import os
import subprocess
import sys

import pytest

from conveyor.stack import aws_shim

SHIM = aws_shim.__file__
UNSUPPORTED = ("is not available in Conveyor's local build image; "
               "supported: ecr get-login-password, sts get-caller-identity")


def aws(*args, **env):
    """Run the shim like /usr/local/bin/aws, with only `env` (plus PATH) set."""
    done = subprocess.run([sys.executable, SHIM, *args], capture_output=True, text=True, check=False,
                          env={"PATH": os.environ.get("PATH", ""), **env}, timeout=30)
    return done.returncode, done.stdout, done.stderr


def test_get_login_password_prints_the_placeholder_or_the_registry_password():
    assert aws("ecr", "get-login-password", "--region", "eu-west-1") == (
        0, "conveyor-local-registry\n", "")
    assert aws("ecr", "get-login-password", CONVEYOR_REGISTRY_PASSWORD="s3cret") == (
        0, "s3cret\n", "")


def test_get_caller_identity_json_with_the_local_default_account():
    code, out, err = aws("sts", "get-caller-identity")
    assert (code, err) == (0, "")
    assert out == ('{\n'
                   '    "UserId": "AIDACONVEYORLOCALUSER",\n'
                   '    "Account": "000000000000",\n'
                   '    "Arn": "arn:aws:iam::000000000000:user/conveyor"\n'
                   '}\n')


def test_get_caller_identity_query_account_as_text_the_way_buildspecs_call_it():
    assert aws("sts", "get-caller-identity", "--query", "Account", "--output", "text",
               AWS_ACCOUNT_ID="123456789012") == (0, "123456789012\n", "")


@pytest.mark.parametrize("args, out", [
    (["--query=Account", "--output=json"], '"000000000000"\n'),
    (["--query", "'Arn'", "--output", "text"], "arn:aws:iam::000000000000:user/conveyor\n"),
    (["--output", "text"],
     "000000000000\tarn:aws:iam::000000000000:user/conveyor\tAIDACONVEYORLOCALUSER\n"),
])
def test_get_caller_identity_query_and_output_forms(args, out):
    assert aws("--region", "us-east-1", "sts", "get-caller-identity", *args) == (0, out, "")


def test_default_output_from_the_environment():
    assert aws("sts", "get-caller-identity", "--query", "Account",
               AWS_DEFAULT_OUTPUT="text") == (0, "000000000000\n", "")


def test_version():
    code, out, _ = aws("--version")
    assert code == 0
    assert out.startswith("aws-cli/2.0.0 Python/") and out.endswith(" conveyor-local-shim\n")


@pytest.mark.parametrize("args, called", [
    (["s3", "cp", "a.txt", "s3://bucket/a.txt"], "aws s3 cp"),
    (["ecr", "describe-repositories", "--repository-names", "web"], "aws ecr describe-repositories"),
    (["ecr", "create-repository", "--repository-name", "web"], "aws ecr create-repository"),
    (["--region", "eu-west-1", "ecr"], "aws ecr"),
    ([], "aws"),
])
def test_anything_else_names_what_is_supported_and_exits_2(args, called):
    assert aws(*args) == (2, "", f"aws: '{called}' {UNSUPPORTED}\n")


@pytest.mark.parametrize("args, message", [
    (["--query", "Account.Id"], ("aws: --query Account.Id is not available in Conveyor's local "
                                 "build image; supported: Account, Arn, UserId\n")),
    (["--output", "table"], ("aws: --output table is not available in Conveyor's local build "
                             "image; supported: json, text\n")),
])
def test_unsupported_query_or_output_exits_2(args, message):
    assert aws("sts", "get-caller-identity", *args) == (2, "", message)


def test_the_shim_uses_only_the_standard_library():
    with open(SHIM, encoding="utf-8") as f:
        source = f.read()
    assert source.startswith("#!/usr/bin/python3\n")
    assert "conveyor" not in {line.split()[1].split(".")[0] for line in source.splitlines()
                              if line.startswith(("import ", "from "))}
    assert json.loads(json.dumps(aws_shim.caller_identity({})))["Account"] == "000000000000"


def test_with_an_ecr_alias_the_build_is_in_the_aliased_account():
    """`conveyor setup --ecr-alias`: builds get the alias's account (aliases.build_env), so a
    buildspec that asks STS for it spells the aliased host."""
    from conveyor.registry.aliases import EcrAlias, build_env

    env = build_env([EcrAlias("111122223333", "eu-west-3")], "000000000000.dkr.ecr.us-east-1.localhost:5000")
    assert aws("sts", "get-caller-identity", "--query", "Account", "--output", "text", **env) == (
        0, "111122223333\n", "")
    code, out, _ = aws("sts", "get-caller-identity", **env)
    assert json.loads(out)["Arn"] == "arn:aws:iam::111122223333:user/conveyor"


# --- in front of the real AWS CLI (the standard image's /usr/local/aws-cli) ---------------------

FAKE_CLI = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "aws-cli/1.36.0 Python/3.11.2 Linux/6.1 botocore/1.35.0"; exit 0; fi
echo "real: $*"
echo "Unable to locate credentials. You can configure credentials by running \\"aws configure\\"." >&2
exit 253
"""


@pytest.fixture
def real_cli(tmp_path):
    path = tmp_path / "aws"
    path.write_text(FAKE_CLI)
    path.chmod(0o755)
    return str(path)


def test_every_other_call_is_handed_to_the_real_cli_unchanged(real_cli):
    code, out, err = aws("--region", "eu-west-1", "s3", "ls", "s3://bucket", CONVEYOR_AWS_CLI=real_cli)
    assert (code, out) == (253, "real: --region eu-west-1 s3 ls s3://bucket\n")
    assert err.startswith("Unable to locate credentials")  # the real CLI's error, not the shim's


def test_ecr_login_and_caller_identity_stay_local_with_a_real_cli(real_cli):
    assert aws("ecr", "get-login-password", CONVEYOR_AWS_CLI=real_cli) == (
        0, "conveyor-local-registry\n", "")
    assert aws("sts", "get-caller-identity", "--query", "Account", "--output", "text",
               CONVEYOR_AWS_CLI=real_cli) == (0, "000000000000\n", "")


def test_version_names_the_real_cli_and_the_local_login(real_cli):
    code, out, _ = aws("--version", CONVEYOR_AWS_CLI=real_cli)
    assert code == 0
    assert out == ("aws-cli/1.36.0 Python/3.11.2 Linux/6.1 botocore/1.35.0 (ecr get-login-password "
                   "and sts get-caller-identity answered by conveyor-local-shim, the local registry)\n")


def test_a_real_cli_that_is_not_executable_is_not_used(tmp_path):
    path = tmp_path / "aws"
    path.write_text(FAKE_CLI)  # mode 0644
    assert aws("s3", "ls", CONVEYOR_AWS_CLI=str(path))[0] == 2
