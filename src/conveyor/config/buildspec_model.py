"""The validated CodeBuild buildspec as immutable data (aws-semantics §1), and the small grammars
inside it: `on-failure` values, Secrets Manager references, and the string CodeBuild sees for a
YAML scalar.

    spec = load_buildspec("buildspec.yml")          # conveyor.config.buildspec
    for phase in spec.phases.values():              # always install, pre_build, build, post_build order
        print(phase.name, phase.commands, phase.on_failure)
    spec.env.variables["PYTHON"]                    # '3.1' when the file says `PYTHON: 3.10` unquoted

Values are what CodeBuild would use: variables are literal strings (never expanded), yes/no flags
are booleans, report formats are upper-case, defaults are filled in (JUNITXML, RETRY = 3 retries).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from conveyor.documents.located import KeyPath
from conveyor.documents.yaml_limited import compose
from conveyor.errors import ConfigError, Diagnostic

VERSIONS = ("0.2", "0.1")  # §1.2: 0.2 recommended, 0.1 still accepted
PHASE_NAMES = ("install", "pre_build", "build", "post_build")  # §1.4: names and order are fixed
LINUX_SHELLS = ("bash", "/bin/sh")
WINDOWS_SHELLS = ("powershell.exe", "cmd.exe")
REPORT_FORMATS = ("JUNITXML", "CUCUMBERJSON", "TESTNGXML", "VISUALSTUDIOTRX", "NUNITXML", "NUNIT3XML",
                  "CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV")  # §1.8
DEFAULT_REPORT_FORMAT = "JUNITXML"  # §1.8
MAX_REPORT_GROUPS = 5  # §1.7: report groups per project
MAX_SECONDARY_ARTIFACTS = 12  # §1.7
MAX_FALLBACK_KEYS = 5  # §1.10
CACHE_ACTIONS = ("restore", "save")  # §1.10: omitted = both
ON_FAILURE_MODES = ("ABORT", "CONTINUE", "RETRY")
DEFAULT_RETRY_COUNT = 3  # §1.4: RETRY and RETRY-<regex> retry up to 3 times
DEFAULT_RETRY_REGEX = ".*"  # §1.4: plain RETRY retries on any error message
MAX_RETRY_COUNT = 100  # §1.4: RETRY-<count>, count 0-100
DEFAULT_SECRET_STAGE = "AWSCURRENT"  # §1.3
RESERVED_PREFIX = "CODEBUILD_"  # §1.3: reserved for CodeBuild's own variables
UNEXPORTABLE_PREFIX = "AWS_"  # §1.5: names starting with AWS_ cannot be exported
BATCH_KINDS = ("build-graph", "build-list", "build-matrix", "build-fanout")


@dataclass(frozen=True)
class OnFailure:
    """A phase's `on-failure`: ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex>, RETRY-<count>-<regex>.

    >>> OnFailure.parse("RETRY-2-timed out")
    OnFailure(mode='RETRY', count=2, regex='timed out')
    """

    mode: str
    count: int | None = None
    regex: str | None = None

    @classmethod
    def parse(cls, text: str) -> OnFailure:
        """The value as CodeBuild reads it, or ValueError saying what is wrong."""
        if text in ("ABORT", "CONTINUE"):
            return cls(text)
        if text == "RETRY":
            return cls("RETRY", DEFAULT_RETRY_COUNT, DEFAULT_RETRY_REGEX)
        if not text.startswith("RETRY-"):
            raise ValueError("expected ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>")
        rest = text[len("RETRY-"):]
        m = re.fullmatch(r"(\d+)(?:-(.*))?", rest, re.DOTALL)
        count, regex = (int(m.group(1)), m.group(2)) if m else (DEFAULT_RETRY_COUNT, rest)
        if not 0 <= count <= MAX_RETRY_COUNT:
            raise ValueError(f"retry count {count} is out of range: expected 0-{MAX_RETRY_COUNT}")
        if regex is None:
            return cls("RETRY", count, DEFAULT_RETRY_REGEX)
        if regex == "":
            raise ValueError("the regex after 'RETRY-' is empty")
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"the regex '{regex}' does not compile: {exc}") from None
        return cls("RETRY", count, regex)


@dataclass(frozen=True)
class SecretRef:
    """One `env.secrets-manager` value, `secret-id:json-key:version-stage:version-id` (§1.3).

    >>> SecretRef.parse("prod/db:password")
    SecretRef(secret_id='prod/db', json_key='password', version_stage='AWSCURRENT', version_id=None)
    """

    secret_id: str
    json_key: str | None = None  # None: the whole secret text
    version_stage: str | None = DEFAULT_SECRET_STAGE
    version_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        parts = text.split(":")
        if text.startswith("arn:"):  # arn:partition:secretsmanager:region:account:secret:name holds 6 colons
            if len(parts) < 7:
                raise ValueError("the secret ARN is incomplete: expected arn:aws:secretsmanager:REGION:ACCOUNT:"
                                 "secret:NAME")
            parts = [":".join(parts[:7])] + parts[7:]
        if len(parts) > 4:
            raise ValueError(f"too many ':' separators ({len(parts) - 1}): expected at most "
                             f"secret-id:json-key:version-stage:version-id")
        secret_id, json_key, stage, version_id = (parts + ["", "", ""])[:4]
        if not secret_id.strip():
            raise ValueError("the secret-id before the first ':' is empty")
        if stage and version_id:
            raise ValueError("version-stage and version-id are mutually exclusive; give one of them")
        return cls(secret_id, json_key or None, stage or (None if version_id else DEFAULT_SECRET_STAGE),
                   version_id or None)


@dataclass(frozen=True)
class Env:
    shell: str | None = None  # None: the platform default (sh on Linux)
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    git_credential_helper: bool = False

    def secret(self, name: str) -> SecretRef:
        return SecretRef.parse(self.secrets_manager[name])


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...] = ()
    finally_: tuple[str, ...] = ()
    run_as: str | None = None
    on_failure: OnFailure | None = None  # None: the default phase transitions (§1.6)
    runtime_versions: dict[str, str] = field(default_factory=dict)  # install only


@dataclass(frozen=True)
class Artifacts:
    files: tuple[str, ...]
    name: str | None = None
    base_directory: str | None = None
    discard_paths: bool = False
    exclude_paths: tuple[str, ...] = ()
    enable_symlinks: bool = False
    s3_prefix: str | None = None


@dataclass(frozen=True)
class ReportGroup:
    name: str  # the key: a report-group name or ARN
    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    file_format: str = DEFAULT_REPORT_FORMAT


@dataclass(frozen=True)
class Cache:
    paths: tuple[str, ...]
    key: str | None = None
    fallback_keys: tuple[str, ...] = ()
    action: str | None = None  # None: restore and save


@dataclass(frozen=True)
class Proxy:
    upload_artifacts: bool = False
    logs: bool = False


@dataclass(frozen=True)
class BatchBuild:
    identifier: str
    buildspec: str | None = None  # None: this same buildspec
    env: dict[str, Any] = field(default_factory=dict)  # compute-type, fleet, image, privileged-mode, type, variables
    depend_on: tuple[str, ...] = ()
    ignore_failure: bool = False
    debug_session: bool = False


@dataclass(frozen=True)
class Batch:
    kind: str  # one of BATCH_KINDS
    fast_fail: bool = False
    builds: tuple[BatchBuild, ...] = ()  # build-graph and build-list
    config: dict[str, Any] = field(default_factory=dict)  # build-matrix and build-fanout, as written


@dataclass(frozen=True)
class BuildSpec:
    version: str
    run_as: str | None
    env: Env
    phases: dict[str, Phase]
    artifacts: Artifacts | None
    secondary_artifacts: dict[str, Artifacts]
    reports: dict[str, ReportGroup]
    cache: Cache | None
    source_file: str
    proxy: Proxy = field(default_factory=Proxy)
    batch: Batch | None = None
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def separate_shells(self) -> bool:
        """0.1 runs each command in its own shell; 0.2 runs the whole build in one (§1.1, §1.5)."""
        return self.version == "0.1"


def scalar_text(value: Any) -> str:
    """The string CodeBuild sees for a YAML scalar: `3.10` is the float 3.1 → '3.1', `true` → 'true',
    `6.0` → '6', an empty value → ''. (CodeBuild reads YAML 1.1 types, then formats them as Go does.)"""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def unquoted_scalars(text: str) -> dict[KeyPath, str]:
    """The source text, by key path, of every unquoted scalar YAML reads as something other than a
    string (so `3.10`, the float 3.1, can be told from `3.1`), and of every one-line `key: value`
    mapping inside a list (so a command that YAML split at ': ' can be shown as written)."""
    try:
        root, loader = compose(text, "buildspec.yml")
    except (yaml.YAMLError, ConfigError):
        return {}
    loader.dispose()
    out: dict[KeyPath, str] = {}
    stack: list[tuple[Any, KeyPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack += [(v, path + (k.value,)) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
            if path and isinstance(path[-1], int) and len(node.value) == 1:
                key, value = node.value[0]
                if key.start_mark.line == value.end_mark.line and isinstance(value, yaml.ScalarNode):
                    out[path] = text[key.start_mark.index:value.end_mark.index]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, path + (i,)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.ScalarNode) and node.style is None and node.tag != "tag:yaml.org,2002:str":
            out[path] = node.value
    return out
