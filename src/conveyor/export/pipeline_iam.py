"""IAM for the pipeline template: statements collected while the actions are mapped, merged into
one least-privilege policy per role (same effect and condition, same actions → one statement with
every resource), and ARNs built with CloudFormation's pseudo parameters so the template carries no
account, region or partition.

    policy = Policy()
    policy.allow(["s3:GetObject", "s3:PutObject"], Sub("${ArtifactBucket.Arn}/*"))
    policy.allow(["codebuild:StartBuild"], GetAtt("BuildProject", "Arn"))
    role("codepipeline.amazonaws.com", "pipeline", policy)   # an AWS::IAM::Role's properties
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.export.template import Intrinsic, Sub

POLICY_VERSION = "2012-10-17"


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Intrinsic:
    """An ARN of this stack's partition, region and account: arn("ecs", "service/c/s")."""
    where = ("${AWS::Region}" if region else "") + ":" + ("${AWS::AccountId}" if account else "")
    return Sub(f"arn:${{AWS::Partition}}:{service}:{where}:{resource}")


@dataclass
class Statement:
    actions: tuple[str, ...]
    resources: list[Any]
    condition: dict[str, Any] | None = None

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Effect": "Allow",
                               "Action": list(self.actions) if len(self.actions) > 1 else self.actions[0],
                               "Resource": self.resources if len(self.resources) > 1 else self.resources[0]}
        if self.condition:
            out["Condition"] = self.condition
        return out


@dataclass
class Policy:
    """Allow statements in the order they were first asked for; duplicates merged."""

    statements: list[Statement] = field(default_factory=list)

    def allow(self, actions: list[str] | tuple[str, ...], resource: Any,
              condition: dict[str, Any] | None = None) -> None:
        key = tuple(actions)
        for st in self.statements:
            if st.actions == key and st.condition == condition:
                if resource not in st.resources:
                    st.resources.append(resource)
                return
        self.statements.append(Statement(key, [resource], condition))

    def __bool__(self) -> bool:
        return bool(self.statements)

    def document(self) -> dict[str, Any]:
        return {"Version": POLICY_VERSION, "Statement": [s.data() for s in self.statements]}


def role(service: str, policy_name: str, policy: Policy) -> dict[str, Any]:
    """The properties of a role that `service` (codepipeline.amazonaws.com, ...) assumes."""
    props: dict[str, Any] = {
        "AssumeRolePolicyDocument": {"Version": POLICY_VERSION, "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]},
    }
    if policy:
        props["Policies"] = [{"PolicyName": policy_name, "PolicyDocument": policy.document()}]
    return props
