#!/usr/bin/python3
"""`aws` in Conveyor's local build image: the two calls buildspecs make before `docker login`
answered for the local registry, everything else handed to the real AWS CLI.

Copied by `conveyor setup` into BUILD_IMAGE as the executable /usr/local/bin/aws (standard
library only: it runs on the image's Debian python3, without Conveyor installed), in front of
the real AWS CLI (v1 from PyPI, in the venv REAL_CLI lives in). Any call but the two below is
exec'd unchanged by the real CLI, which then answers with its own output, credentials and
errors. Without a real CLI (an image built before the standard image) such calls are refused
as below.

    $ aws sts get-caller-identity --query Account --output text
    000000000000
    $ aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin …

Answered locally: `ecr get-login-password`, `sts get-caller-identity` (with `--query
Account|Arn|UserId` and `--output json|text`), and `--version` (the real CLI's version, then
that ECR login is local). Global options (`--region`, `--profile`, …) are accepted and ignored
for those. Without a real CLI, anything else prints one line naming what is supported and
exits 2 — a buildspec that needs more of AWS fails at the line that asks for it.

The account is $AWS_ACCOUNT_ID or LOCAL_ACCOUNT_ID; the password is $CONVEYOR_REGISTRY_PASSWORD
or PLACEHOLDER_PASSWORD (the local registry needs no credentials; `docker login` only needs
something to send).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

#: The account id Conveyor reports locally: twelve zeros, which no real AWS account has.
LOCAL_ACCOUNT_ID = "000000000000"
#: What `ecr get-login-password` prints when Conveyor did not pass the registry's password.
PLACEHOLDER_PASSWORD = "conveyor-local-registry"
#: The identity `sts get-caller-identity` reports (an IAM user's id starts with AIDA).
LOCAL_USER_ID = "AIDACONVEYORLOCALUSER"
LOCAL_USER_NAME = "conveyor"
#: Claims AWS CLI v2, where `ecr get-login-password` lives; the suffix says what it really is.
VERSION = "aws-cli/2.0.0"

#: The real AWS CLI in the standard image ($CONVEYOR_AWS_CLI overrides it, for tests).
REAL_CLI = "/usr/local/aws-cli/bin/aws"
REAL_CLI_ENV = "CONVEYOR_AWS_CLI"
LOCAL_NOTE = "ecr get-login-password and sts get-caller-identity answered by conveyor-local-shim"

ACCOUNT_ENV = "AWS_ACCOUNT_ID"
PASSWORD_ENV = "CONVEYOR_REGISTRY_PASSWORD"
SUPPORTED = "ecr get-login-password, sts get-caller-identity"
#: Exit code for anything the shim does not do (the brief's "usage error", as in many CLIs).
UNSUPPORTED = 2

#: AWS CLI global options that take a value / that are flags (`aws help topics`).
_VALUE_OPTIONS = {"--region", "--profile", "--output", "--query", "--endpoint-url", "--color",
                  "--ca-bundle", "--cli-read-timeout", "--cli-connect-timeout",
                  "--cli-binary-format"}
_FLAG_OPTIONS = {"--debug", "--no-verify-ssl", "--no-paginate", "--no-sign-request",
                 "--no-cli-pager", "--cli-auto-prompt", "--no-cli-auto-prompt"}


class Unsupported(Exception):
    """The message is the one line to print."""


def parse(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split argv into the words (service, operation…) and the options (`--x v` or `--x=v`).

    >>> parse(["--region", "eu-west-1", "sts", "get-caller-identity", "--output=text"])
    (['sts', 'get-caller-identity'], {'--region': 'eu-west-1', '--output': 'text'})
    """
    words: list[str] = []
    options: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if arg.startswith("--") and (name in _VALUE_OPTIONS or eq):
            options[name] = value if eq else next(args, "")
        elif arg.startswith("--"):
            options[arg] = ""
        else:
            words.append(arg)
    return words, options


def caller_identity(env: dict[str, str]) -> dict[str, str]:
    account = env.get(ACCOUNT_ENV) or LOCAL_ACCOUNT_ID
    return {"UserId": LOCAL_USER_ID, "Account": account,
            "Arn": f"arn:aws:iam::{account}:user/{LOCAL_USER_NAME}"}


def render(result: dict[str, str], query: str | None, output: str) -> str:
    """Apply the `--query KEY` subset of JMESPath, then format as the AWS CLI does: text output
    is the values tab-separated in key order (the CLI sorts a dict's keys)."""
    if output not in ("json", "text"):
        raise Unsupported(f"aws: --output {output} is not available in Conveyor's local build "
                          f"image; supported: json, text")
    value: object = result
    if query is not None:
        key = query.strip().strip("\"'")
        if key not in result:
            raise Unsupported(f"aws: --query {query} is not available in Conveyor's local build "
                              f"image; supported: {', '.join(sorted(result))}")
        value = result[key]
    if output == "json":
        return json.dumps(value, indent=4)
    if isinstance(value, dict):
        return "\t".join(str(value[k]) for k in sorted(value))
    return str(value)


def real_cli(env: dict[str, str]) -> str | None:
    """The real AWS CLI's executable, when there is one."""
    path = env.get(REAL_CLI_ENV) or REAL_CLI
    return path if os.access(path, os.X_OK) else None


def answered_locally(argv: list[str]) -> bool:
    """Is this one of the calls the shim answers (rather than the real CLI)?

    >>> answered_locally(["--region", "x", "ecr", "get-login-password"]), answered_locally(["s3", "ls"])
    (True, False)
    """
    words, options = parse(argv)
    return (words[:2] in (["ecr", "get-login-password"], ["sts", "get-caller-identity"])
            or ("--version" in options and not words))


def real_version(real: str) -> str:
    """The real CLI's `--version` line (v1 prints it on stdout or stderr, by version)."""
    try:
        done = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{real}: {exc}"
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if (
        done.stdout.strip() or done.stderr.strip()) else f"{real}: no version"


def main(argv: list[str], env: dict[str, str], real: str | None = None) -> tuple[int, str]:
    """The exit code and what to print (stdout when 0, stderr otherwise), for calls answered
    here; `real` is the real CLI (only its version is asked here)."""
    words, options = parse(argv)
    if "--version" in options and not words:
        if real:
            return 0, f"{real_version(real)} ({LOCAL_NOTE}, the local registry)"
        return 0, (f"{VERSION} Python/{platform.python_version()} "
                   f"{platform.system()}/{platform.release()} conveyor-local-shim")
    try:
        if words[:2] == ["ecr", "get-login-password"]:
            return 0, env.get(PASSWORD_ENV) or PLACEHOLDER_PASSWORD
        if words[:2] == ["sts", "get-caller-identity"]:
            output = options.get("--output") or env.get("AWS_DEFAULT_OUTPUT") or "json"
            return 0, render(caller_identity(env), options.get("--query"), output)
    except Unsupported as exc:
        return UNSUPPORTED, str(exc)
    called = " ".join(["aws", *words[:2]])
    return UNSUPPORTED, (f"aws: '{called}' is not available in Conveyor's local build image; "
                         f"supported: {SUPPORTED}")


if __name__ == "__main__":
    _real = real_cli(dict(os.environ))
    if _real and not answered_locally(sys.argv[1:]):
        os.execv(_real, [_real, *sys.argv[1:]])
    code, text = main(sys.argv[1:], dict(os.environ), _real)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    sys.exit(code)
