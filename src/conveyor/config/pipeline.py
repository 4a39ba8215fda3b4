"""Load and validate conveyor.yml. Every problem is reported at once, each as
`conveyor.yml:LINE:COL key.path: what was wrong and what was expected`.

    pipeline = load_pipeline("conveyor.yml")        # -> PipelineDef, or raises ConfigError
    diagnostics = check_document(doc)               # all errors and warnings, no raise

The rules follow CodePipeline's (aws-semantics §2.1, §2.2, §2.7): names and their charsets, the
first stage holds only source actions, artifacts are produced before they are consumed, runOrder
1-999, namespaces unique and references resolvable by an action that runs earlier.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conveyor.config.model import EXECUTION_MODES, PipelineDef, action_configuration
from conveyor.config.notifications import check_notifications
from conveyor.config.providers import ACTION_KEYS, PROVIDERS, TIMEOUT_RANGE_MINUTES
from conveyor.config.trust import TRUST_KEYS, check_trust
from conveyor.documents.checker import Checker, type_name
from conveyor.documents.located import Document, KeyPath, load_file, load_text
from conveyor.errors import ConfigError, Diagnostic

NAME = r"[A-Za-z0-9.@\-_]+"
ARTIFACT = r"[a-zA-Z0-9_\-]+"
NAMESPACE = r"[A-Za-z0-9@\-_]+"
VARIABLE = r"[A-Za-z0-9@\-_]+"
TOP_KEYS = ("name", "pipeline", "environments", "registry", "repositories", "notifications", *TRUST_KEYS)
PIPELINE_KEYS = ("executionMode", "variables", "pollIntervalSeconds", "triggers", "stages")
RESERVED_NAMESPACES = ("variables", "codepipeline")
CODEPIPELINE_VARIABLES = ("PipelineExecutionId",)
REFERENCE = re.compile(r"#\{([^}]*)\}")


def load_pipeline(path: str | Path, display: str | None = None) -> PipelineDef:
    return _validated(load_file(path, display))


def load_pipeline_text(text: str, file: str = "conveyor.yml") -> PipelineDef:
    return _validated(load_text(text, file))


def check_file(path: str | Path, display: str | None = None) -> list[Diagnostic]:
    try:
        return check_document(load_file(path, display))
    except ConfigError as exc:
        return exc.diagnostics


def _validated(doc: Document) -> PipelineDef:
    diagnostics = check_document(doc)
    if any(d.severity == "error" for d in diagnostics):
        raise ConfigError(diagnostics)
    return PipelineDef.from_data(doc.data, warnings=tuple(diagnostics))


def check_document(doc: Document) -> list[Diagnostic]:
    chk = Checker(doc)
    if not isinstance(doc.data, dict):
        chk.error((), f"expected a mapping at the top level (name:, pipeline:, ...), got {type_name(doc.data)}")
        return chk.diagnostics
    chk.keys((), TOP_KEYS)
    name = chk.get((), "name", str, required=True)
    if name is not None:
        chk.name(("name",), name, NAME, 100, "pipeline name")
    pipe = chk.get((), "pipeline", dict, required=True)
    if pipe is not None:
        _check_pipeline(chk)
    envs = chk.get((), "environments", dict)
    for env_name, env in (envs or {}).items():
        _check_environment(chk, ("environments", env_name), env)
    _check_registry(chk)
    chk.get((), "repositories", (dict, list))
    check_notifications(chk)
    check_trust(chk)
    return sorted(chk.diagnostics)



def _check_registry(chk: Checker) -> None:
    from conveyor.config.environments import check_registry

    check_registry(chk)


def _check_environment(chk: Checker, path: KeyPath, env: Any) -> None:
    from conveyor.config.environments import check_environment

    check_environment(chk, path, env)


def _check_pipeline(chk: Checker) -> None:
    P: KeyPath = ("pipeline",)
    chk.keys(P, PIPELINE_KEYS)
    mode = chk.get(P, "executionMode", str)
    if mode is not None:
        chk.one_of(P + ("executionMode",), mode, EXECUTION_MODES, "executionMode")
    poll = chk.get(P, "pollIntervalSeconds", (int, float))
    if poll is not None and poll < 0:
        chk.error(P + ("pollIntervalSeconds",), f"expected a number of seconds >= 0 (0 turns polling off), got {poll}")
    declared_vars = _check_variables(chk)
    stages = chk.get(P, "stages", list, required=True)
    if stages is None:
        return
    if len(stages) < 2:
        chk.error(P + ("stages",), f"a pipeline needs at least 2 stages (a Source stage and one more), "
                                   f"got {len(stages)}")
    if len(stages) > 50:
        chk.error(P + ("stages",), f"at most 50 stages, got {len(stages)}")
    actions = _check_stages(chk, stages)
    _check_flow(chk, actions, declared_vars)
    _check_triggers(chk, actions)


def _check_variables(chk: Checker) -> set[str]:
    P: KeyPath = ("pipeline", "variables")
    names: set[str] = set()
    for i, var in enumerate(chk.get(("pipeline",), "variables", list) or []):
        if not chk.is_type(P + (i,), var, dict):
            continue
        chk.keys(P + (i,), ("name", "defaultValue", "description"))
        name = chk.get(P + (i,), "name", str, required=True)
        if name is not None and chk.name(P + (i, "name"), name, VARIABLE, 128, "variable name"):
            if name in names:
                chk.error(P + (i, "name"), f"duplicate variable '{name}'")
            names.add(name)
        default = chk.get(P + (i,), "defaultValue", (str, int, float, bool))
        if default is not None and not (1 <= len(str(default)) <= 1000):
            chk.error(P + (i, "defaultValue"), "expected 1-1000 characters")
        chk.get(P + (i,), "description", str)
    if len(names) > 50:
        chk.error(P, f"at most 50 variables, got {len(names)}")
    return names


class _Action:
    """An action as seen by the cross-checks: where it is, and what it declares."""

    def __init__(self, stage_index: int, path: KeyPath, raw: dict, conf: dict):
        self.stage_index = stage_index
        self.path = path
        self.raw = raw
        self.conf = conf
        self.name = raw.get("name") if isinstance(raw.get("name"), str) else None
        provider = raw.get("provider")
        self.provider = PROVIDERS.get(provider) if isinstance(provider, str) else None
        order = raw.get("runOrder", 1)
        self.run_order = order if isinstance(order, int) and not isinstance(order, bool) else 1

    def runs_before(self, other: "_Action") -> bool:
        if self.stage_index != other.stage_index:
            return self.stage_index < other.stage_index
        return self.run_order < other.run_order


def _check_stages(chk: Checker, stages: list) -> list[_Action]:
    P: KeyPath = ("pipeline", "stages")
    seen: dict[str, int] = {}
    actions: list[_Action] = []
    for si, stage in enumerate(stages):
        sp = P + (si,)
        if not chk.is_type(sp, stage, dict):
            continue
        chk.keys(sp, ("name", "actions"))
        name = chk.get(sp, "name", str, required=True)
        if name is not None and chk.name(sp + ("name",), name, NAME, 100, "stage name"):
            if name in seen:
                chk.error(sp + ("name",), f"duplicate stage name '{name}' (also stages[{seen[name]}])")
            seen.setdefault(name, si)
        stage_actions = chk.get(sp, "actions", list, required=True)
        if stage_actions is None:
            continue
        if not stage_actions:
            chk.error(sp + ("actions",), "a stage needs at least one action")
        names: dict[str, int] = {}
        for ai, raw in enumerate(stage_actions):
            ap = sp + ("actions", ai)
            if not chk.is_type(ap, raw, dict):
                continue
            act = _check_action(chk, si, ap, raw)
            actions.append(act)
            if act.name is not None:
                if act.name in names:
                    chk.error(ap + ("name",), f"duplicate action name '{act.name}' in stage "
                                              f"(also actions[{names[act.name]}])")
                names.setdefault(act.name, ai)
            if act.provider is not None:
                is_source = act.provider.category == "Source"
                if si == 0 and not is_source:
                    chk.error(ap + ("provider",), f"the first stage may hold only source actions (Git), "
                                                  f"got '{act.provider.name}'")
                if si > 0 and is_source:
                    chk.error(ap + ("provider",), "source actions (Git) belong in the first stage only")
    return actions


def _check_action(chk: Checker, si: int, ap: KeyPath, raw: dict) -> _Action:
    name = chk.get(ap, "name", str, required=True)
    if name is not None:
        chk.name(ap + ("name",), name, NAME, 100, "action name")
    provider_name = chk.get(ap, "provider", str, required=True)
    provider = None
    if provider_name is not None and chk.one_of(ap + ("provider",), provider_name, PROVIDERS, "provider"):
        provider = PROVIDERS[provider_name]
    conf_block = chk.get(ap, "configuration", dict) or {}
    if provider is not None:
        allowed = list(ACTION_KEYS) + list(provider.keys)
        chk.keys(ap, allowed, "action key")
        chk.keys(ap + ("configuration",), provider.keys, f"{provider.name} setting")
        for key in conf_block:
            if key in raw and key not in ACTION_KEYS:
                chk.error(ap + (key,), f"'{key}' is set both on the action and under configuration; keep one")
        if not provider.available:
            chk.warning(ap + ("provider",), f"provider '{provider.name}' is not available in this version of "
                                            "Conveyor: the action will fail when it runs")
        category = chk.get(ap, "category", str)
        if category is not None:
            chk.one_of(ap + ("category",), category, provider.allowed_categories(), f"category for {provider.name}")
    conf = action_configuration(raw) if provider is not None else {}
    if provider is not None:
        for key, spec in provider.keys.items():
            where = ap + ("configuration", key) if key in conf_block else ap + (key,)
            if key not in conf:
                if spec.required:
                    chk.error(ap, f"missing required {provider.name} setting '{key}'")
                continue
            if chk.is_type(where, conf[key], spec.type) and spec.check is not None:
                problem = spec.check(conf[key])
                if problem:
                    chk.error(where, problem)
        _check_provider_rules(chk, ap, provider.name, conf, conf_block)
    order = raw.get("runOrder")
    if order is not None and chk.is_type(ap + ("runOrder",), order, int) and not 1 <= order <= 999:
        chk.error(ap + ("runOrder",), f"runOrder must be between 1 and 999, got {order}")
    timeout = raw.get("timeoutInMinutes")
    lo, hi = TIMEOUT_RANGE_MINUTES
    if timeout is not None and chk.is_type(ap + ("timeoutInMinutes",), timeout, (int, float)) \
            and not lo <= timeout <= hi:
        chk.error(ap + ("timeoutInMinutes",), f"timeoutInMinutes must be between {lo} and {hi}, got {timeout}")
    namespace = chk.get(ap, "namespace", str)
    if namespace is not None:
        chk.name(ap + ("namespace",), namespace, NAMESPACE, 100, "namespace")
    for key in ("inputArtifacts", "outputArtifacts"):
        items = chk.get(ap, key, list) or []
        for i, item in enumerate(items):
            if chk.is_type(ap + (key, i), item, str, "an artifact name"):
                chk.name(ap + (key, i), item, ARTIFACT, 100, "artifact name")
        if provider is not None:
            lo_n, hi_n = provider.inputs if key == "inputArtifacts" else provider.outputs
            if not lo_n <= len(items) <= hi_n:
                want = f"exactly {lo_n}" if lo_n == hi_n else f"{lo_n} to {hi_n}"
                chk.error(ap + (key,), f"{provider.name} takes {want} {key[:-9]} artifact(s), got {len(items)}")
    return _Action(si, ap, raw, conf)


def _check_provider_rules(chk: Checker, ap: KeyPath, provider: str, conf: dict, block: dict) -> None:
    def where(key: str) -> KeyPath:
        return ap + ("configuration", key) if key in block else ap + (key,)

    if provider == "Command":
        has_cmd, has_script = "command" in conf, "script" in conf
        if has_cmd == has_script:
            chk.error(ap, "a Command action needs exactly one of 'command' (an argv list) or 'script'")
        cmd = conf.get("command")
        if isinstance(cmd, list):
            if not cmd:
                chk.error(where("command"), "expected a non-empty argv list, e.g. [python3, -m, unittest]")
            for i, arg in enumerate(cmd):
                if not isinstance(arg, (str, int, float)) or isinstance(arg, bool):
                    chk.error(where("command") + (i,), "expected a string argument")
        for key in ("outputFiles", "outputVariables"):
            for i, item in enumerate(conf.get(key) or []):
                if not isinstance(item, str):
                    chk.error(where(key) + (i,), "expected a string")
        env = conf.get("env")
        if isinstance(env, dict):
            for k, v in env.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(k)):
                    chk.error(where("env") + (k,), f"invalid environment variable name '{k}'")
                elif str(k).startswith("CONVEYOR_"):
                    chk.error(where("env") + (k,), "the CONVEYOR_ prefix is reserved")
                if not isinstance(v, (str, int, float, bool)):
                    chk.error(where("env") + (k,), f"expected a string value, got {type_name(v)}")
    if provider == "Wait":
        secs = conf.get("seconds")
        if isinstance(secs, (int, float)) and not isinstance(secs, bool) and secs < 0:
            chk.error(where("seconds"), "expected seconds >= 0")


def _listed(value: Any) -> list:
    """A list-valued key's items; a wrong type is reported where the key is checked, not here."""
    return value if isinstance(value, list) else []


def _check_flow(chk: Checker, actions: list[_Action], declared_vars: set[str]) -> None:
    producers: dict[str, _Action] = {}
    for act in actions:
        for i, name in enumerate(_listed(act.raw.get("outputArtifacts"))):
            if not isinstance(name, str):
                continue
            if name in producers:
                chk.error(act.path + ("outputArtifacts", i), f"output artifact '{name}' is already produced by "
                                                              f"action '{producers[name].name}'; names must be unique")
            else:
                producers[name] = act
    namespaces: dict[str, _Action] = {}
    for act in actions:
        ns = act.raw.get("namespace")
        if not isinstance(ns, str):
            continue
        if ns in RESERVED_NAMESPACES:
            chk.error(act.path + ("namespace",), f"namespace '{ns}' is reserved")
        elif ns in namespaces:
            chk.error(act.path + ("namespace",), f"namespace '{ns}' is already used by action '{namespaces[ns].name}'")
        elif ns in producers:
            chk.error(act.path + ("namespace",), f"namespace '{ns}' clashes with an artifact of the same name")
        else:
            namespaces[ns] = act
    for act in actions:
        for i, name in enumerate(_listed(act.raw.get("inputArtifacts"))):
            if not isinstance(name, str):
                continue
            src = producers.get(name)
            if src is None:
                chk.error(act.path + ("inputArtifacts", i), f"input artifact '{name}' is not produced by any action"
                                                             f"{_known(producers)}")
            elif not src.runs_before(act):
                chk.error(act.path + ("inputArtifacts", i), f"input artifact '{name}' is produced by action "
                                                             f"'{src.name}', which does not run before this one")
        _check_references(chk, act, act.path, act.raw, namespaces, declared_vars)


def _known(producers: dict) -> str:
    return f" (known: {', '.join(sorted(producers))})" if producers else ""


def _check_references(chk: Checker, act: _Action, path: KeyPath, value: Any, namespaces: dict, declared: set) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if path == act.path and k in ("name", "provider", "namespace", "inputArtifacts", "outputArtifacts"):
                continue
            _check_references(chk, act, path + (k,), v, namespaces, declared)
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_references(chk, act, path + (i,), v, namespaces, declared)
        return
    if not isinstance(value, str):
        return
    for match in REFERENCE.finditer(value):
        ref = match.group(1)
        ns, dot, key = ref.partition(".")
        if not dot or not ns or not key:
            chk.error(path, f"invalid variable reference '#{{{ref}}}': expected #{{namespace.name}}")
        elif ns == "variables":
            if act.provider is not None and act.provider.category == "Source":
                chk.error(path, "pipeline variables cannot be used in source actions")
            elif key not in declared:
                chk.error(path, f"unknown pipeline variable '{key}' in '#{{{ref}}}'{_choices(declared)}")
        elif ns == "codepipeline":
            if key not in CODEPIPELINE_VARIABLES:
                chk.error(path, f"unknown variable '#{{{ref}}}' "
                                f"(codepipeline has: {', '.join(CODEPIPELINE_VARIABLES)})")
        elif ns not in namespaces:
            chk.error(path, f"unknown namespace '{ns}' in '#{{{ref}}}'{_choices(namespaces)}")
        else:
            producer = namespaces[ns]
            if not producer.runs_before(act):
                chk.error(path, f"'#{{{ref}}}' comes from action '{producer.name}', which does not run before this one")
            elif producer.provider is not None and producer.provider.output_variables is not None \
                    and key not in producer.provider.output_variables:
                chk.error(path, f"{producer.provider.name} action '{producer.name}' has no output variable "
                                f"'{key}'{_choices(producer.provider.output_variables)}")
            elif producer.provider is not None and producer.provider.name == "Command":
                outs = producer.conf.get("outputVariables")
                if isinstance(outs, list) and key not in outs:
                    chk.error(path, f"action '{producer.name}' does not list '{key}' "
                                    f"in outputVariables{_choices(outs)}")


def _choices(names: Any) -> str:
    names = sorted(str(n) for n in names)
    return f" (known: {', '.join(names)})" if names else ""


def _check_triggers(chk: Checker, actions: list[_Action]) -> None:
    from conveyor.config.triggers import check_triggers

    check_triggers(chk, [a.name for a in actions if a.provider is not None and a.provider.name == "Git" and a.name])
