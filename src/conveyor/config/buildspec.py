"""Load and validate a CodeBuild buildspec with CodeBuild's rules (aws-semantics §1). Every problem
is reported at once, as `buildspec.yml:LINE:COL key.path: message`.

    spec = load_buildspec("buildspec.yml")          # -> BuildSpec, or raises ConfigError (all errors)
    spec.warnings                                   # what CodeBuild accepts but probably surprises you
    diagnostics = check_buildspec_file(path)        # errors and warnings, never raises for bad input

Errors are what CodeBuild rejects (YAML_FILE_ERROR: a command that is not a string, a missing or
unsupported version, required keys, bad `on-failure`, report formats, Secrets Manager references)
plus mistakes that silently lose work: `artifacts` or a phase indented at the wrong level, names
starting with the reserved CODEBUILD_ prefix. Warnings are what CodeBuild accepts: unknown keys
(CodeBuild logs "cannot be identified" and goes on), unquoted values that YAML turns into numbers
(`python: 3.10` asks for 3.1), 0.1-era keys, a single string where a list belongs.
The model and its value grammars live in buildspec_model, the batch section in buildspec_batch,
the phases in buildspec_phases.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable

from conveyor.config.buildspec_batch import check_batch
from conveyor.config.buildspec_model import (
    CACHE_ACTIONS,
    DEFAULT_REPORT_FORMAT,
    LINUX_SHELLS,
    MAX_FALLBACK_KEYS,
    MAX_REPORT_GROUPS,
    MAX_SECONDARY_ARTIFACTS,
    PHASE_NAMES,
    REPORT_FORMATS,
    RESERVED_PREFIX,
    UNEXPORTABLE_PREFIX,
    VERSIONS,
    WINDOWS_SHELLS,
    Artifacts,
    BuildSpec,
    Cache,
    Env,
    Proxy,
    ReportGroup,
    SecretRef,
    scalar_text,
    unquoted_scalars,
)
from conveyor.config.buildspec_phases import check_phases
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import Document, KeyPath, format_path, load_file, load_text
from conveyor.errors import ConfigError, Diagnostic
from conveyor.names import SHELL_NAME, check_shell_env_name
from conveyor.paths import path_problem

TOP_KEYS = ("version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache")
ENV_KEYS = ("shell", "variables", "parameter-store", "secrets-manager", "exported-variables", "git-credential-helper")
LEGACY_ENV_KEYS = ("plaintext", "parameter-store")  # 0.1 `environment_variables`
ARTIFACT_KEYS = ("files", "name", "base-directory", "discard-paths", "exclude-paths", "enable-symlinks", "s3-prefix")
REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
CACHE_KEYS = ("paths", "key", "fallback-keys", "action")
PROXY_KEYS = ("upload-artifacts", "logs")
HASH_CALL = re.compile(r"\$\(\s*codebuild-hash-files[^)]*\)")  # its globs may hold '/'
LOST = {"artifacts": " (so the build uploads no artifacts)", "reports": " (so no test reports are collected)",
        "cache": " (so nothing is cached)", "env": " (so none of its variables are set)",
        "phases": " (so no command runs)"}
OBSOLETE_01 = {
    "environment_variables": "'environment_variables' is the buildspec 0.1 spelling; version 0.2 reads 'env' (with "
                             "'variables' instead of 'plaintext'), so CodeBuild ignores this section",
    "type": "'type' is a buildspec 0.1 key; version 0.2 ignores it (the artifact type comes from the project)",
}


def load_buildspec(path: str | Path, display: str | None = None) -> BuildSpec:
    """The buildspec at `path`, or ConfigError listing every error (warnings ride along)."""
    return _validated(*_load(path, display))


def load_buildspec_text(text: str, file: str = "buildspec.yml") -> BuildSpec:
    return _validated(load_text(text, file), unquoted_scalars(text))


def check_buildspec_file(path: str | Path, display: str | None = None) -> list[Diagnostic]:
    """All errors and warnings for the file at `path`, sorted by position. Never raises for bad input."""
    try:
        doc, raw = _load(path, display)
    except ConfigError as exc:
        return exc.diagnostics
    except OSError as exc:
        return [Diagnostic(display or str(path), 0, 0, "", f"cannot read the file: {exc.strerror or exc}")]
    return BuildSpecCheck(doc, raw).diagnostics()


def check_buildspec_text(text: str, file: str = "buildspec.yml") -> list[Diagnostic]:
    try:
        doc = load_text(text, file)
    except ConfigError as exc:
        return exc.diagnostics
    return BuildSpecCheck(doc, unquoted_scalars(text)).diagnostics()


def _load(path: str | Path, display: str | None) -> tuple[Document, dict[KeyPath, str]]:
    doc = load_file(path, display)
    return doc, unquoted_scalars(doc.text)


def _validated(doc: Document, raw: dict[KeyPath, str]) -> BuildSpec:
    check = BuildSpecCheck(doc, raw)
    spec = check.run()
    diagnostics = sorted(check.chk.diagnostics)
    if spec is None or check.chk.errors:
        raise ConfigError(diagnostics)
    return dataclasses.replace(spec, warnings=tuple(diagnostics))


class BuildSpecCheck:
    """One pass over the document that both reports problems and builds the model. Its public methods
    are the vocabulary the section checks share (buildspec_batch uses them too)."""

    def __init__(self, doc: Document, raw: dict[KeyPath, str]):
        self.chk = Checker(doc)
        self.raw = raw
        self.legacy = False
        self.misplaced_phases: list[KeyPath] = []

    def diagnostics(self) -> list[Diagnostic]:
        self.run()
        return sorted(self.chk.diagnostics)

    def run(self) -> BuildSpec | None:
        chk, data = self.chk, self.chk.doc.data
        if not isinstance(data, dict):
            chk.error((), f"expected a mapping at the top level (version:, phases:, ...), got {type_name(data)}")
            return None
        version = self._version(data)
        self.legacy = version == "0.1"
        self.keys((), TOP_KEYS + (("environment_variables",) if self.legacy else ()), "top-level key",
                  notes={} if self.legacy else {"environment_variables": OBSOLETE_01["environment_variables"]})
        env = self._env(data)
        proxy = self._proxy()
        batch = check_batch(self)
        reports = self._reports()
        artifacts, secondary = self._artifacts()
        cache = self._cache()
        phases = check_phases(self, data, batch)
        return BuildSpec(version, self.string((), "run-as"), env, phases, artifacts, secondary, reports, cache,
                         chk.doc.file, proxy, batch)

    # -- shared vocabulary
    def keys(self, path: KeyPath, allowed: tuple[str, ...], what: str = "key",
             notes: dict[str, str] | None = None) -> None:
        """Unknown keys warn, as CodeBuild does; a phase or top-level key at the wrong level is an error."""
        mapping = self.chk.at(path)
        where = f"under {format_path(path)}" if path else "at the top level"
        for key, value in mapping.items() if isinstance(mapping, dict) else ():
            kp = path + (key,)
            if key in allowed:
                continue
            if notes and key in notes:
                self.chk.warning(kp, notes[key])
            elif key in PHASE_NAMES and path != ("phases",):
                self.misplaced_phases.append(kp)
                self.chk.error(kp, f"'{key}' is a phase, but it sits {where}; indent it under 'phases:' (as written, "
                                   f"its commands never run)")
            elif key in TOP_KEYS and path:
                self.chk.error(kp, f"'{key}' is a top-level key, but it is indented {where}, where CodeBuild ignores "
                                   f"it{LOST.get(key, '')}; move it to the start of the line")
            else:
                hint = did_you_mean(key, allowed)
                lost = ", so its commands never run" if what == "phase" else ""
                if re.search(r"'(commands|finally)'", hint) and isinstance(value, list):
                    lost = f", so the {len(value)} command(s) under it never run"
                self.chk.warning(kp, f"unknown {what} '{key}'{hint}; CodeBuild ignores it{lost}")

    def text(self, path: KeyPath, value: Any, what: str = "a string") -> str | None:
        """A scalar as the string CodeBuild sees; warns when YAML changes an unquoted value on the way."""
        if isinstance(value, (dict, list)):
            self.chk.error(path, f"expected {what}, got {type_name(value)}")
            return None
        text = value if isinstance(value, str) else scalar_text(value)
        raw = self.raw.get(path)
        if raw is not None and value is not None and raw != text:
            kind = {bool: "boolean", int: "number", float: "number"}.get(type(value), type(value).__name__)
            self.chk.warning(path, f"unquoted {raw} is read as the YAML {kind} {text}, so CodeBuild sees '{text}'; "
                                   f"quote it (\"{raw}\") to keep it as written")
        return text

    def string(self, path: KeyPath, key: str) -> str | None:
        mapping = self.chk.at(path)
        if not isinstance(mapping, dict) or mapping.get(key) is None:
            return None
        return self.text(path + (key,), mapping[key])

    def flag(self, path: KeyPath, key: str) -> bool:
        value = (self.chk.at(path) or {}).get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
            return value.strip().lower() in ("yes", "true")
        self.chk.error(path + (key,), f"expected yes or no, got {type_name(value)} {value!r}")
        return False

    def strings(self, path: KeyPath, key: str, what: str, required: bool = False) -> tuple[str, ...]:
        mapping = self.chk.at(path)
        if not isinstance(mapping, dict) or key not in mapping:
            if required and isinstance(mapping, dict):
                self.chk.error(path, f"missing required key '{key}'")
            return ()
        value, kp = mapping[key], path + (key,)
        if isinstance(value, str):
            self.chk.warning(kp, f"expected a list of {what}, got a single string; it is read as a one-item list, "
                                 f"but the buildspec reference requires a list (put it after '- ')")
            return (value,)
        if not isinstance(value, list):
            if value is not None or required:
                self.chk.error(kp, f"expected a list of {what}, got {type_name(value)}")
            return ()
        texts = [self.text(kp + (i,), item) for i, item in enumerate(value) if item is not None]
        return tuple(t for t in texts if t is not None)

    def names(self, path: KeyPath, key: str, check: Callable[[KeyPath, str], None] | None = None) -> dict[str, str]:
        """A name → string mapping (variables, parameter-store, secrets-manager)."""
        mapping = self.chk.get(path, key, dict) if (self.chk.at(path) or {}).get(key) is not None else None
        out: dict[str, str] = {}
        for name, value in (mapping or {}).items():
            vp = path + (key, name)
            if key != "runtime-versions" and (problem := check_shell_env_name(str(name))):
                self.chk.error(vp, f"environment variable {str(name)!r} {problem}")
                continue
            if name.startswith(RESERVED_PREFIX):
                # AWS: "reserved — do not set them"; CodeBuild still runs such files (real CI does),
                # so this warns; the runner keeps its own values for the built-in names.
                self.chk.warning(vp, f"names starting with {RESERVED_PREFIX} are reserved for CodeBuild's own "
                                     f"variables; rename it (e.g. {name[len(RESERVED_PREFIX):] or 'MY_VAR'})")
            text = self.text(vp, value)
            if text is None:
                continue
            if key in ("variables", "plaintext") and re.search(rf"\$\{{?{re.escape(name)}(?![A-Za-z0-9_])", text):
                self.chk.warning(vp, f"is set literally to '{text}': CodeBuild does not expand variables in env "
                                     f"values; extend it in a command instead (export {name}=\"{text}\")")
            if check:
                check(vp, text)
            out[name] = text
        return out

    # -- sections
    def _version(self, data: dict) -> str:
        if "version" not in data:
            self.chk.error((), "missing required key 'version' (start the file with version: 0.2)")
            return "0.2"
        text = self.text(("version",), data["version"], "0.2")
        if text is not None and text not in VERSIONS:
            self.chk.error(("version",), f"unsupported version '{text}': expected 0.2 (or the legacy 0.1)")
        if text == "0.1":
            self.chk.warning(("version",), "version 0.1 runs each command in its own shell, so cd, export and "
                                           "variables do not carry over to the next command; 0.2 uses one shell")
        return text if text in VERSIONS else "0.2"

    def _env(self, data: dict) -> Env:
        variables: dict[str, str] = {}
        parameters: dict[str, str] = {}
        if self.legacy and self.chk.get((), "environment_variables", dict) is not None:
            legacy: KeyPath = ("environment_variables",)
            self.keys(legacy, LEGACY_ENV_KEYS)
            variables.update(self.names(legacy, "plaintext"))
            parameters.update(self.names(legacy, "parameter-store", self._parameter))
        P: KeyPath = ("env",)
        if self.chk.get((), "env", dict) is None:
            return Env(variables=variables, parameter_store=parameters)
        self.keys(P, ENV_KEYS)
        shell = self.string(P, "shell")
        shells = LINUX_SHELLS + WINDOWS_SHELLS
        if shell is not None and shell not in shells:
            base = shell.rsplit("/", 1)[-1]
            hint = f" (did you mean '{base}'?)" if base in shells else did_you_mean(shell, shells)
            self.chk.warning(P + ("shell",), f"unknown shell '{shell}'{hint}: CodeBuild supports bash and /bin/sh on "
                                             f"Linux, powershell.exe and cmd.exe on Windows")
        variables.update(self.names(P, "variables"))
        parameters.update(self.names(P, "parameter-store", self._parameter))
        secrets = self.names(P, "secrets-manager", self._secret)
        exported = self.strings(P, "exported-variables", "variable names")
        for i, name in enumerate(exported):
            ip = P + ("exported-variables", i)
            if not SHELL_NAME.fullmatch(name):
                self.chk.error(ip, f"invalid variable name '{name}': expected letters, digits and _, not starting "
                                   f"with a digit")
            elif name.startswith(UNEXPORTABLE_PREFIX):
                self.chk.error(ip, f"'{name}' cannot be exported: CodeBuild does not export names starting with "
                                   f"{UNEXPORTABLE_PREFIX}")
            elif name in parameters or name in secrets:
                source = "parameter-store" if name in parameters else "secrets-manager"
                self.chk.warning(ip, f"'{name}' comes from {source}, and CodeBuild does not export secrets; the "
                                     f"pipeline will not see it")
            if name in exported[:i]:
                self.chk.warning(ip, f"'{name}' is listed twice")
        return Env(shell, variables, parameters, secrets, exported, self.flag(P, "git-credential-helper"))

    def _parameter(self, path: KeyPath, name: str) -> None:
        if not name.strip():
            self.chk.error(path, "empty parameter name: expected the name of an SSM parameter (e.g. /my-app/token)")

    def _secret(self, path: KeyPath, reference: str) -> None:
        try:
            SecretRef.parse(reference)
        except ValueError as exc:
            self.chk.error(path, f"invalid Secrets Manager reference '{reference}': {exc}")

    def _proxy(self) -> Proxy:
        if self.chk.get((), "proxy", dict) is None:
            return Proxy()
        self.keys(("proxy",), PROXY_KEYS)
        return Proxy(self.flag(("proxy",), "upload-artifacts"), self.flag(("proxy",), "logs"))

    def _reports(self) -> dict[str, ReportGroup]:
        reports = self.chk.get((), "reports", dict) or {}
        if len(reports) > MAX_REPORT_GROUPS:
            self.chk.error(("reports",), f"at most {MAX_REPORT_GROUPS} report groups per project, got {len(reports)}")
        out = {}
        for name, body in reports.items():
            path: KeyPath = ("reports", name)
            if not self.chk.is_type(path, body, dict, "a mapping (files:, base-directory:, file-format:)"):
                continue
            self.keys(path, REPORT_KEYS)
            fmt = self.string(path, "file-format") or DEFAULT_REPORT_FORMAT
            if fmt.upper() not in REPORT_FORMATS:  # §1.8: case-insensitive
                hint = did_you_mean(fmt.upper(), REPORT_FORMATS) or f"; expected one of {', '.join(REPORT_FORMATS)}"
                self.chk.error(path + ("file-format",), f"unknown file-format '{fmt}'{hint}")
            files, base = self.strings(path, "files", "paths", required=True), self.string(path, "base-directory")
            self._inside(path, "files", files, "the report group's base-directory")
            self._inside(path, "base-directory", base, "the build directory")
            out[name] = ReportGroup(name, files, base, self.flag(path, "discard-paths"), fmt.upper())
        return out

    def _artifacts(self) -> tuple[Artifacts | None, dict[str, Artifacts]]:
        if self.chk.get((), "artifacts", dict) is None:
            return None, {}
        A: KeyPath = ("artifacts",)
        secondary: dict[str, Artifacts] = {}
        for ident, body in (self.chk.get(A, "secondary-artifacts", dict) or {}).items():
            path = A + ("secondary-artifacts", ident)
            if not re.fullmatch(r"[A-Za-z0-9_\-]{1,100}", str(ident)):
                self.chk.error(path, f"secondary artifact identifier {str(ident)!r} is not valid: use letters, digits, "
                                     f"'-' and '_' (it must match a CodePipeline output artifact name)")
            if self.chk.is_type(path, body, dict, "a mapping (files:, name:, ...)"):
                secondary[ident] = self._artifact(path, ARTIFACT_KEYS)
        if len(secondary) > MAX_SECONDARY_ARTIFACTS:
            self.chk.error(A + ("secondary-artifacts",), f"at most {MAX_SECONDARY_ARTIFACTS} secondary artifacts, "
                                                         f"got {len(secondary)}")
        if "files" not in self.chk.at(A) and secondary:
            self.chk.error(A, "missing required key 'files' (CodeBuild requires it even when only secondary-artifacts "
                              "are used)")
            return None, secondary
        return self._artifact(A, ARTIFACT_KEYS + ("secondary-artifacts",)), secondary

    def _artifact(self, path: KeyPath, allowed: tuple[str, ...]) -> Artifacts:
        self.keys(path, allowed + (("type",) if self.legacy else ()), notes={"type": OBSOLETE_01["type"]})
        files = self.strings(path, "files", "paths", required=True)
        base = self.string(path, "base-directory")
        excluded = self.strings(path, "exclude-paths", "paths")
        self._inside(path, "files", files, "the build directory (or base-directory)")
        self._inside(path, "base-directory", base, "the build directory")
        self._inside(path, "exclude-paths", excluded, "the build directory (or base-directory)")
        return Artifacts(files, self.string(path, "name"), base, self.flag(path, "discard-paths"), excluded,
                         self.flag(path, "enable-symlinks"), self.string(path, "s3-prefix"))

    def _inside(self, path: KeyPath, key: str, value: str | tuple[str, ...] | None, root: str,
                allow_absolute: bool = False) -> None:
        """Artifact, report and cache paths should be relative and not climb out with `..`. The
        runner resolves them and never reads outside the source directory (symlinks included)."""
        items = [(path + (key,), value)] if isinstance(value, str) else [
            (path + (key, i), v) for i, v in enumerate(value or ())]
        for where, text in items:
            problem = path_problem(text, allow_absolute=allow_absolute)
            if problem and "\0" in text:
                self.chk.error(where, f"{text!r} {problem}")
            elif problem:
                # CodeBuild accepts it (real buildspecs ship /tmp/build.json): a warning, and the
                # runner, which reads only the source directory on the host, never follows it out
                self.chk.warning(where, f"'{text}' {problem}: CodeBuild reads it in the build container, but "
                                        f"Conveyor reads only under {root}, on the host, so nothing is read there; "
                                        f"write the files under the source directory")

    def _cache(self) -> Cache | None:
        C: KeyPath = ("cache",)
        if self.chk.get((), "cache", dict) is None:
            return None
        self.keys(C, CACHE_KEYS)
        key, fallback = self.string(C, "key"), self.strings(C, "fallback-keys", "key prefixes")
        if len(fallback) > MAX_FALLBACK_KEYS:
            self.chk.error(C + ("fallback-keys",), f"at most {MAX_FALLBACK_KEYS} fallback keys, got {len(fallback)}")
        if fallback and key is None:
            self.chk.warning(C + ("fallback-keys",), "fallback-keys are ignored without a cache 'key'")
        action = self.string(C, "action")
        if action is not None and action not in CACHE_ACTIONS:
            self.chk.error(C + ("action",), f"unknown cache action '{action}'{did_you_mean(action, CACHE_ACTIONS)}; "
                                            f"expected restore or save (omit it to do both)")
        paths = self.strings(C, "paths", "paths", required=True)
        # cache paths are read and restored by tar inside the build container (absolute ones name
        # its directories, /root/.m2/**/*): they never touch the host, so they are not fenced here
        if key is not None and ("/" in HASH_CALL.sub("", key) or "\0" in key):
            self.chk.error(C + ("key",), f"'{key}' holds '/': a cache key names one file of the cache")
        return Cache(paths, key, fallback, action)
