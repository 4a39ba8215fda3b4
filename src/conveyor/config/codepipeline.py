"""Validate a CodePipeline definition: `create-pipeline --cli-input-json` input ({"pipeline": …}) or
`get-pipeline` output ({"pipeline": …, "metadata": …}), with AWS's rules (aws-semantics §2).

    for d in validate_file("pipeline.json"):
        print(d)   # pipeline.json:42:17 pipeline.stages[1].actions[0].actionTypeId.provider: unknown …

Every problem comes back as a Diagnostic (file:line:col key.path: message), sorted; a file that does
not parse, or is not a CodePipeline definition at all, gives one diagnostic. Never a traceback.

Errors are what AWS would reject when the pipeline is created (structure, types, required fields,
names and patterns, unknown providers, artifact counts, required configuration, artifact flow,
namespaces and `#{…}` references that cannot resolve) — including an unfilled template placeholder
where AWS checks the value's shape (roleArn, pipeline name, artifact bucket).

Warnings are what AWS accepts but that fails, or surprises, at run time: secrets that are empty,
masked by get-pipeline ("****") or still placeholders; placeholders in other configuration values
(AWS does not check them); a CloudFormation `{{resolve:…}}` outside CloudFormation; GitHub v1 being
deprecated; `Repo` ending in `.git`; a variable a provider with a fixed set of outputs never sets.

Module map: codepipeline_rules (tables and patterns), codepipeline_actions (one action),
codepipeline_flow (artifacts, namespaces, references, regions, triggers), codepipeline_stage
(stage conditions, variables).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from conveyor.config.codepipeline_actions import ActionInfo, check_action
from conveyor.config.codepipeline_flow import check_flow, check_regions, check_triggers
from conveyor.config.codepipeline_rules import (
    BUCKET_CHARSET,
    BUCKET_RE,
    ENCRYPTION_KEY_ID_LENGTH,
    EXECUTION_MODES,
    LIMITS,
    NAME_CHARSET,
    NAME_RE,
    PIPELINE_TYPES,
    ROLE_ARN_RE,
    ROLE_ARN_SHAPE,
    V2_ONLY_ACTIONS,
    placeholder_in,
    placeholder_note,
)
from conveyor.config.codepipeline_stage import check_stage_extras, check_variables
from conveyor.documents.checker import Checker, type_name
from conveyor.documents.located import Document, KeyPath, load_file
from conveyor.documents.source import read_file_bytes
from conveyor.errors import ConfigError, Diagnostic

TOP_KEYS = ("pipeline", "metadata", "tags")
PIPELINE_KEYS = ("name", "roleArn", "artifactStore", "artifactStores", "stages", "version", "executionMode",
                 "pipelineType", "variables", "triggers")
STAGE_KEYS = ("name", "actions", "blockers", "onFailure", "onSuccess", "beforeEntry")
STORE_KEYS = ("type", "location", "encryptionKey")
P: KeyPath = ("pipeline",)


def validate_file(path: str | Path, display: str | None = None) -> list[Diagnostic]:
    """All diagnostics for the file at `path` (errors and warnings), sorted by position."""
    name = display or str(path)
    try:
        doc = load_file(path, display=name)
    except ConfigError as exc:
        return [_explain_parse_failure(d, path) for d in exc.diagnostics]
    return validate_document(doc)


def validate_document(doc: Document) -> list[Diagnostic]:
    chk = Checker(doc)
    data = doc.data
    if not isinstance(data, dict):
        chk.error((), f"expected a JSON object with a 'pipeline' key (create-pipeline input or get-pipeline "
                      f"output), got {type_name(data)}")
        return sorted(chk.diagnostics)
    if "pipeline" not in data:
        chk.error((), _not_a_pipeline(data))
        return sorted(chk.diagnostics)
    chk.keys((), TOP_KEYS, "top-level key")
    chk.get((), "metadata", dict)
    chk.get((), "tags", list)
    if chk.get((), "pipeline", dict) is not None:
        _PipelineCheck(chk).run()
    return sorted(chk.diagnostics)


def _not_a_pipeline(data: dict) -> str:
    found = ", ".join(list(data)[:5]) or "nothing"
    hints = (
        ("processors", "an Elasticsearch ingest pipeline"),
        ("AWSTemplateFormatVersion", "a CloudFormation template"),
        ("Resources", "a CloudFormation template"),
        ("phases", "a CodeBuild buildspec"),
        ("containerDefinitions", "an ECS task definition"),
    )
    for key, kind in hints:
        if key in data:
            return (f"not a CodePipeline definition: this looks like {kind} (top-level keys: {found}); expected "
                    f"{{\"pipeline\": {{...}}}} as written by `aws codepipeline get-pipeline`")
    if "stages" in data:
        return "missing top-level 'pipeline': this is a bare pipeline declaration; wrap it as {\"pipeline\": {...}}"
    return (f"not a CodePipeline definition: expected a top-level 'pipeline' key (create-pipeline input or "
            f"get-pipeline output), found {found}")


def _explain_parse_failure(d: Diagnostic, path: str | Path) -> Diagnostic:
    """Add what we can tell about a file that does not parse to the parser's message."""
    if not d.message.startswith("malformed JSON"):
        return d
    try:
        text = read_file_bytes(path, str(path)).decode("utf-8-sig", errors="replace")
    except ConfigError:
        return d
    if '"processors"' in text and '"stages"' not in text:
        hint = "; this looks like an Elasticsearch ingest pipeline, not a CodePipeline definition"
    elif not text.lstrip().startswith(("{", "[")):
        start = next((n for n, line in enumerate(text.splitlines(), 1) if line.startswith("{")), None)
        hint = (f"; the JSON seems to start on line {start}: remove the text around it (a shell heredoc?)"
                if start else "; the file does not start with a JSON object")
    else:
        return d
    return dataclasses.replace(d, message=d.message + hint)


class _PipelineCheck:
    def __init__(self, chk: Checker):
        self.chk = chk
        self.pipeline: dict = chk.at(P)
        self.actions: list[ActionInfo] = []

    def run(self) -> None:
        chk, pipeline = self.chk, self.pipeline
        chk.keys(P, PIPELINE_KEYS)
        self._name(P + ("name",), pipeline.get("name"), "pipeline name", required=True)
        self._role_arn()
        self._artifact_stores()
        version = chk.get(P, "version", int)
        if version is not None and version < 1:
            chk.error(P + ("version",), f"version must be 1 or more, got {version}")
        mode = chk.get(P, "executionMode", str)
        if mode is not None:
            chk.one_of(P + ("executionMode",), mode, EXECUTION_MODES, "executionMode")
        ptype = chk.get(P, "pipelineType", str)
        if ptype is not None and chk.one_of(P + ("pipelineType",), ptype, PIPELINE_TYPES, "pipelineType"):
            for key in ("variables", "triggers"):
                if key in pipeline and ptype == "V1":
                    chk.error(P + (key,), f"{key} need pipelineType V2 (this pipeline declares V1)")
            if ptype == "V1" and mode in ("QUEUED", "PARALLEL"):
                chk.error(P + ("executionMode",), f"executionMode {mode} needs pipelineType V2 "
                                                  f"(this pipeline declares V1)")
        variables = check_variables(chk)
        self._stages(mode)
        if ptype == "V1":
            self._v2_features()
        check_regions(chk, self.actions, pipeline)
        check_flow(chk, self.actions, variables)
        check_triggers(chk, self.actions)

    def _v2_features(self) -> None:
        """What a pipeline that declares pipelineType V1 cannot hold: stage conditions, rollback and
        retry (aws-semantics §2.3, API StageDeclaration) and the action types whose reference page says
        "only available for V2 type pipelines"."""
        for s, stage in enumerate(self.pipeline.get("stages") or []):
            for key in ("onFailure", "onSuccess", "beforeEntry"):
                if isinstance(stage, dict) and key in stage:
                    self.chk.error(P + ("stages", s, key), f"{key} needs pipelineType V2 (this pipeline "
                                                           "declares V1)")
        for info in self.actions:
            if info.owner == "AWS" and (info.category, info.provider) in V2_ONLY_ACTIONS:
                self.chk.error(info.path + ("actionTypeId", "provider"),
                               f"the {info.provider} {info.category.lower() if info.category else ''} action "
                               "is only available in V2 pipelines (this pipeline declares V1)")

    # -- pipeline fields
    def _name(self, path: KeyPath, value: Any, what: str, required: bool = False, limit: int = LIMITS["name"],
              pattern: str = NAME_RE, charset: str = NAME_CHARSET) -> bool:
        parent = self.chk.at(path[:-1])
        if value is None and not (isinstance(parent, dict) and path[-1] in parent):
            if required:
                self.chk.error(path[:-1], f"missing required key '{path[-1]}'")
            return False
        if not self.chk.is_type(path, value, str):
            return False
        if 1 <= len(value) <= limit and re.fullmatch(pattern, value):
            return True
        why = placeholder_note(value)
        self.chk.error(path, f"invalid {what} '{value}': {why}expected 1-{limit} characters of {charset}")
        return False

    def _role_arn(self) -> None:
        path = P + ("roleArn",)
        arn = self.chk.get(P, "roleArn", str, required=True)
        if arn is None or (re.fullmatch(ROLE_ARN_RE, arn) and len(arn) <= LIMITS["role_arn"]):
            return
        why = placeholder_note(arn)
        if why:
            self.chk.error(path, f"invalid roleArn '{arn}': {why}expected the ARN of the pipeline's service role, "
                                 f"{ROLE_ARN_SHAPE}")
            return
        m = re.fullmatch(r"arn:aws[^:]*:iam::([^:]*):role/.*", arn)
        if m and m.group(1).isdigit():
            self.chk.error(path, f"invalid roleArn '{arn}': the account id '{m.group(1)}' has {len(m.group(1))} "
                                 f"digits, expected 12")
        elif m:
            self.chk.error(path, f"invalid roleArn '{arn}': '{m.group(1)}' is not a 12-digit account id")
        else:
            self.chk.error(path, f"invalid roleArn '{arn}': expected {ROLE_ARN_SHAPE}")

    def _artifact_stores(self) -> None:
        chk, pipeline = self.chk, self.pipeline
        has_one, has_many = "artifactStore" in pipeline, "artifactStores" in pipeline
        if has_one and has_many:
            chk.error(P + ("artifactStores",), "give either artifactStore or artifactStores, not both")
        elif not has_one and not has_many:
            chk.error(P, "missing required key 'artifactStore' (or 'artifactStores', one per region, for a "
                         "cross-region pipeline)")
        if has_one and chk.get(P, "artifactStore", dict) is not None:
            self._store(P + ("artifactStore",))
        if has_many:
            stores = pipeline["artifactStores"]
            if not isinstance(stores, dict):
                example = '{"us-east-1": {"type": "S3", "location": "BUCKET"}}'
                chk.error(P + ("artifactStores",), f"expected a mapping of region to artifact store (e.g. {example}), "
                                                   f"got {type_name(stores)}; for a single region use artifactStore")
                return
            lo, hi = LIMITS["region"]
            for region in stores:
                rpath = P + ("artifactStores", region)
                if not lo <= len(region) <= hi:
                    chk.error(rpath, f"invalid region '{region}': expected {lo}-{hi} characters")
                if chk.is_type(rpath, stores[region], dict):
                    self._store(rpath)

    def _store(self, path: KeyPath) -> None:
        chk = self.chk
        chk.keys(path, STORE_KEYS)
        kind = chk.get(path, "type", str, required=True)
        if kind is not None:
            chk.one_of(path + ("type",), kind, ("S3",), "artifact store type")
        bucket = chk.get(path, "location", str, required=True)
        if bucket is not None:
            lo, hi = LIMITS["bucket"]
            if self._name(path + ("location",), bucket, "bucket name", limit=hi, pattern=BUCKET_RE,
                          charset=BUCKET_CHARSET):
                if len(bucket) < lo:
                    chk.error(path + ("location",), f"invalid bucket name '{bucket}': expected {lo}-{hi} characters")
                elif placeholder_in(bucket):
                    chk.warning(path + ("location",), f"bucket name '{bucket}' looks like an unfilled template "
                                                      f"placeholder")
        key = chk.get(path, "encryptionKey", dict)
        if key is not None:
            chk.keys(path + ("encryptionKey",), ("id", "type"))
            key_id = chk.get(path + ("encryptionKey",), "id", str, required=True)
            if key_id is not None and not 1 <= len(key_id) <= ENCRYPTION_KEY_ID_LENGTH:
                chk.error(path + ("encryptionKey", "id"), f"encryptionKey id must be 1 to {ENCRYPTION_KEY_ID_LENGTH} "
                                                          f"characters (API EncryptionKeyId), got {len(key_id)}")
            ktype = chk.get(path + ("encryptionKey",), "type", str, required=True)
            if ktype is not None:
                chk.one_of(path + ("encryptionKey", "type"), ktype, ("KMS",), "encryption key type")

    # -- stages
    def _stages(self, mode: str | None) -> None:
        chk = self.chk
        stages = chk.get(P, "stages", list, required=True)
        if stages is None:
            return
        lo, hi = LIMITS["stages"]
        if not lo <= len(stages) <= hi:
            chk.error(P + ("stages",), f"a pipeline needs {lo} to {hi} stages, got {len(stages)}")
        seen: dict[str, int] = {}
        for s, stage in enumerate(stages):
            path = P + ("stages", s)
            if not chk.is_type(path, stage, dict):
                continue
            chk.keys(path, STAGE_KEYS)
            name = stage.get("name")
            if self._name(path + ("name",), name, "stage name", required=True):
                if name in seen:
                    chk.error(path + ("name",), f"duplicate stage name '{name}' (first used by "
                                                f"pipeline.stages[{seen[name]}])")
                else:
                    seen[name] = s
            self._actions(s, stage, str(name) if isinstance(name, str) else f"#{s}")
            check_stage_extras(chk, path, stage, first=(s == 0), mode=mode)
        total = len(self.actions)
        if total > LIMITS["actions"]:
            chk.error(P + ("stages",), f"a pipeline holds at most {LIMITS['actions']} actions, got {total}")

    def _actions(self, s: int, stage: dict, stage_name: str) -> None:
        chk = self.chk
        path = P + ("stages", s)
        actions = chk.get(path, "actions", list, required=True)
        if actions is None:
            return
        lo, hi = LIMITS["actions_per_stage"]
        if not lo <= len(actions) <= hi:
            chk.error(path + ("actions",), f"a stage needs {lo} to {hi} actions, got {len(actions)}")
        seen: dict[str, int] = {}
        for a, action in enumerate(actions):
            apath = path + ("actions", a)
            if not chk.is_type(apath, action, dict):
                continue
            name = action.get("name")
            if self._name(apath + ("name",), name, "action name", required=True):
                if name in seen:
                    chk.error(apath + ("name",), f"duplicate action name '{name}' in stage '{stage_name}' "
                                                 f"(first used by pipeline.stages[{s}].actions[{seen[name]}])")
                else:
                    seen[name] = a
            info = check_action(chk, apath, action, s, stage_name)
            self.actions.append(info)
            self._placement(info, s)

    def _placement(self, info: ActionInfo, s: int) -> None:
        if info.category is None:
            return
        where = info.path + ("actionTypeId", "category")
        if s == 0 and info.category != "Source":
            self.chk.error(where, f"the first stage may hold only Source actions; '{info.name}' is a "
                                  f"{info.category} action")
        elif s > 0 and info.category == "Source":
            self.chk.error(where, f"Source actions may appear only in the first stage; move '{info.name}' there")

