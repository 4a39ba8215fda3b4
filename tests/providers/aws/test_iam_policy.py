"""docs/aws-iam-policy.json is the least-privilege policy the AWS backend needs: every AWS call
the backend (and `conveyor doctor --target aws`) can make is allowed by it, and it allows
nothing they never call. The calls are read from the source, where every one is written as
`.call("service", "Operation", …)` or `.pages("service", "Operation", …)`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import conveyor
from conveyor.providers.aws.errors import iam_action

SRC = Path(conveyor.__file__).parent
POLICY = SRC.parents[1] / "docs" / "aws-iam-policy.json"
CALLERS = sorted((SRC / "providers" / "aws").glob("*.py")) + [SRC / "stack" / "aws_checks.py"]
#: Allowed for what the calls imply rather than for a call of their own: passing the task's and
#: the lifecycle hooks' roles (RegisterTaskDefinition, UpdateService) and tagging a revision as
#: it is registered (RegisterTaskDefinition with tags).
IMPLIED = {"iam:PassRole", "ecs:TagResource"}
SERVICES = ("ecs", "codedeploy", "ecr", "elbv2", "cloudwatch", "sts", "logs")


def _operations() -> dict[str, set[str]]:
    import botocore.session

    session = botocore.session.get_session()
    return {name: set(session.get_service_model(name).operation_names) for name in SERVICES}


def calls_in_source() -> set[str]:
    """Every `….call(…)`/`….pages(…)`: ("service", "Operation", …) directly, or through a wrapper
    that takes the operation among its arguments (then the one service that has it)."""
    operations = _operations()
    out = set()
    for path in CALLERS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("call", "pages")):
                continue
            literals = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(literals) >= 2 and literals[0] in operations and literals[1] in operations[literals[0]]:
                out.add(iam_action(literals[0], literals[1]))
                continue
            for literal in literals:
                owners = [svc for svc, ops in operations.items() if literal in ops]
                if len(owners) == 1:
                    out.add(iam_action(owners[0], literal))
    return out


def allowed() -> set[str]:
    policy = json.loads(POLICY.read_text())
    return {action for statement in policy["Statement"] if statement["Effect"] == "Allow"
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}


def test_every_call_is_allowed_and_nothing_more():
    calls = calls_in_source()
    assert len(calls) > 20, sorted(calls)  # the scan found the backend's calls
    assert sorted(calls - allowed()) == [], "calls the policy does not allow"
    assert sorted(allowed() - calls - IMPLIED) == [], "actions the policy allows that nothing calls"


def test_no_wildcard_actions():
    assert not [a for a in allowed() if "*" in a]
