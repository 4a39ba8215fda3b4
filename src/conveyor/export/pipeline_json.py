"""The Pipeline resource of a template as the JSON `aws codepipeline get-pipeline` returns for the
stack once it is created: CloudFormation's PascalCase properties in the API's camelCase, with
intrinsic functions resolved. `conveyor import codepipeline` reads it, and so does anyone who
wants to compare an exported pipeline with one that exists (`get-pipeline` output, diffed).

    data = pipeline_json(template, parameters={"ConnectionArn": arn, "FullRepositoryId": "acme/orders"})
    Path("pipeline.json").write_text(json.dumps(data, indent=2))

Intrinsics resolve to what CloudFormation would give: parameters from `parameters` or their
Default (an unset one stays visible as <Name>, which `conveyor validate` flags as a placeholder);
pseudo parameters from `account`, `region`, `partition` and `stack`; a resource's Ref and Arn from
its name property, or CloudFormation's generated name `<stack>-<LogicalId>` when it has none (so
the role ARN and bucket name are the shape, not the value, AWS picks). As get-pipeline does, every
action has runOrder, inputArtifacts and outputArtifacts, and the pipeline a version (1).
Properties that are not part of the pipeline declaration (RestartExecutionOnUpdate, Tags,
DisableInboundStageTransitions) are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from conveyor.export.template import Template

NOT_DECLARED = ("RestartExecutionOnUpdate", "Tags", "DisableInboundStageTransitions")
PIPELINE_KEYS = ("name", "roleArn", "artifactStore", "artifactStores", "stages", "version", "executionMode",
                 "pipelineType", "variables", "triggers")
EXAMPLE_ACCOUNT, EXAMPLE_REGION = "123456789012", "us-east-1"
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def pipeline_json(template: Template | Mapping[str, Any], *, parameters: Mapping[str, str] | None = None,
                  account: str = EXAMPLE_ACCOUNT, region: str = EXAMPLE_REGION, partition: str = "aws",
                  stack: str = "pipeline") -> dict[str, Any]:
    """{"pipeline": ..., "metadata": {"pipelineArn": ...}} for the template's one CodePipeline pipeline."""
    data = template.to_data() if isinstance(template, Template) else dict(template)
    resources = data.get("Resources") or {}
    pipelines = [k for k, r in resources.items() if r.get("Type") == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise ValueError(f"expected one AWS::CodePipeline::Pipeline in the template, found {len(pipelines)}")
    resolver = _Resolver(data, dict(parameters or {}), {"AWS::AccountId": account, "AWS::Region": region,
                                                        "AWS::Partition": partition, "AWS::StackName": stack,
                                                        "AWS::URLSuffix": "amazonaws.com"})
    props = {k: v for k, v in (resources[pipelines[0]].get("Properties") or {}).items() if k not in NOT_DECLARED}
    declared = _camel(resolver.resolve(props))
    for stage in declared.get("stages") or []:
        for action in stage.get("actions") or []:
            action.setdefault("runOrder", 1)
            action.setdefault("inputArtifacts", [])
            action.setdefault("outputArtifacts", [])
    declared["version"] = 1
    pipeline = {k: declared[k] for k in PIPELINE_KEYS if k in declared}
    pipeline.update({k: v for k, v in declared.items() if k not in pipeline})
    arn = f"arn:{partition}:codepipeline:{region}:{account}:{pipeline.get('name', pipelines[0])}"
    return {"pipeline": pipeline, "metadata": {"pipelineArn": arn}}


class _Resolver:
    def __init__(self, data: dict[str, Any], parameters: dict[str, str], pseudo: dict[str, str]):
        self.resources: dict[str, Any] = data.get("Resources") or {}
        self.declared: dict[str, Any] = data.get("Parameters") or {}
        self.parameters = parameters
        self.pseudo = pseudo

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self.ref(str(arg))
            if fn == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.attribute(logical, attribute)
            if fn == "Fn::Sub":
                text, extra = (arg[0], self.resolve(arg[1])) if isinstance(arg, list) else (arg, {})
                return _SUB.sub(lambda m: str(extra[m.group(1)]) if m.group(1) in extra else self.sub(m.group(1)),
                                str(text)).replace("${!", "${")
            if fn == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
        return {k: self.resolve(v) for k, v in value.items()}

    def sub(self, name: str) -> str:
        logical, dot, attribute = name.partition(".")
        return self.attribute(logical, attribute) if dot else self.ref(name)

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.declared:
            default = self.declared[name].get("Default")
            return str(self.parameters.get(name, default if default is not None else f"<{name}>"))
        return self._physical(name)[0]

    def attribute(self, logical: str, attribute: str) -> str:
        ref, arn = self._physical(logical)
        if attribute in ("Arn", "TopicArn") and arn:
            return arn
        if attribute in ("Name", "TopicName"):
            return ref.rsplit(":", 1)[-1]
        raise ValueError(f"cannot resolve !GetAtt {logical}.{attribute}")

    def _physical(self, logical: str) -> tuple[str, str]:
        """(what Ref gives, the ARN) of a resource of the template."""
        resource = self.resources.get(logical)
        if resource is None:
            raise ValueError(f"!Ref {logical}: no such parameter or resource")
        props = resource.get("Properties") or {}
        p, r, a, stack = (self.pseudo[k] for k in ("AWS::Partition", "AWS::Region", "AWS::AccountId",
                                                   "AWS::StackName"))
        kind = resource.get("Type")
        name_key = {"AWS::CodeBuild::Project": "Name", "AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName",
                    "AWS::SNS::Topic": "TopicName", "AWS::CodePipeline::Pipeline": "Name"}.get(str(kind), "")
        name = str(self.resolve(props[name_key])) if name_key in props else f"{stack}-{logical}"
        if kind == "AWS::S3::Bucket":
            name = name.lower()
            return name, f"arn:{p}:s3:::{name}"
        if kind == "AWS::IAM::Role":
            return name, f"arn:{p}:iam::{a}:role/{name}"
        if kind == "AWS::CodeBuild::Project":
            return name, f"arn:{p}:codebuild:{r}:{a}:project/{name}"
        if kind == "AWS::SNS::Topic":
            topic = f"arn:{p}:sns:{r}:{a}:{name}"
            return topic, topic
        if kind == "AWS::CodePipeline::Pipeline":
            return name, f"arn:{p}:codepipeline:{r}:{a}:{name}"
        return name, ""


def _camel(value: Any, *, configuration: bool = False) -> Any:
    """PascalCase keys to camelCase; an action's Configuration keeps its keys and gets string values."""
    if configuration and isinstance(value, str):  # CloudFormation also takes the configuration as JSON text
        value = json.loads(value)
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    if configuration:
        return {k: _string(v) for k, v in value.items()}
    return {k[:1].lower() + k[1:]: _camel(v, configuration=k == "Configuration") for k, v in value.items()}


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
