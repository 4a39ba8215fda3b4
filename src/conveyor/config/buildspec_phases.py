"""The `phases` section of a buildspec (aws-semantics §1.1, §1.6): install, pre_build, build and
post_build with their commands, finally blocks, run-as, on-failure and (install only)
runtime-versions.

    phases = check_phases(check, data, batch)   # called by conveyor.config.buildspec
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.config.buildspec_model import PHASE_NAMES, Batch, OnFailure, Phase
from conveyor.documents.checker import type_name
from conveyor.documents.located import KeyPath, format_path

if TYPE_CHECKING:
    from conveyor.config.buildspec import BuildSpecCheck

PHASE_KEYS = ("run-as", "on-failure", "runtime-versions", "commands", "finally")


def check_phases(v: BuildSpecCheck, data: dict, batch: Batch | None) -> dict[str, Phase]:
    P: KeyPath = ("phases",)
    misplaced = ""
    if v.misplaced_phases:
        first, one = v.misplaced_phases[0], len(v.misplaced_phases) == 1
        names = ", ".join(str(p[-1]) for p in v.misplaced_phases)
        where = f"under '{format_path(first[:-1])}'" if first[:-1] else "at the top level"
        misplaced = (f"; {names} {'is' if one else 'are'} {where} (line {v.chk.doc.where(first)[0]}): indent "
                     f"{'it' if one else 'them'} under 'phases:'")
    if "phases" not in data:
        if batch is None:
            v.chk.error((), f"missing required key 'phases'{misplaced}")
        return {}
    phases = data["phases"]
    if not isinstance(phases, dict) or not phases:
        v.chk.error(P, f"expected a mapping of phases (install, pre_build, build, post_build), got "
                       f"{type_name(phases) if phases != {} else 'an empty mapping'}{misplaced}")
        return {}
    v.keys(P, PHASE_NAMES, "phase")
    written = [name for name in phases if name in PHASE_NAMES]
    for i, name in enumerate(written):
        later = [w for w in written[:i] if PHASE_NAMES.index(w) > PHASE_NAMES.index(name)]
        if later:
            v.chk.warning(P + (name,), f"'{name}' is written after '{later[0]}' but runs before it: phases "
                                       f"always run in the order {', '.join(PHASE_NAMES)}")
    return {name: _phase(v, name, phases[name]) for name in PHASE_NAMES if name in phases}


def _phase(v: BuildSpecCheck, name: str, body: Any) -> Phase:
    path: KeyPath = ("phases", name)
    if body is None:
        if name != "install":
            v.chk.error(path, f"the {name} phase is empty: it needs 'commands:' with at least one command")
        return Phase(name)
    if not isinstance(body, dict):
        fix = "; put the commands under 'commands:'" if isinstance(body, list) else ""
        v.chk.error(path, f"expected a mapping (commands:, finally:, on-failure:, ...), got "
                          f"{type_name(body)}{fix}")
        return Phase(name)
    v.keys(path, PHASE_KEYS)
    runtimes: dict[str, str] = {}
    if "runtime-versions" in body and name != "install":
        v.chk.error(path + ("runtime-versions",), "runtime-versions is only allowed in the install phase")
    elif "runtime-versions" in body:
        runtimes = v.names(path, "runtime-versions", lambda at, version: _runtime(v, at, version))
        if not runtimes and isinstance(body["runtime-versions"], (dict, type(None))):
            v.chk.error(path + ("runtime-versions",), "runtime-versions must list at least one runtime "
                                                      "(e.g. python: \"3.12\"), or be left out")
    if "commands" not in body and name != "install":
        if "finally" in body:
            v.chk.warning(path, f"the {name} phase has 'finally' but no 'commands', which the buildspec "
                                f"reference requires; only the finally commands run")
        else:
            v.chk.error(path, f"missing required key 'commands' (required in the {name} phase)")
    return Phase(name, _commands(v, path, "commands"), _commands(v, path, "finally"),
                 v.string(path, "run-as"), _on_failure(v, path), runtimes)


def _commands(v: BuildSpecCheck, path: KeyPath, key: str) -> tuple[str, ...]:
    value, kp = v.chk.at(path).get(key), path + (key,)
    if value is None:
        return ()
    if isinstance(value, str):
        return v.strings(path, key, "commands")
    if not isinstance(value, list):
        v.chk.error(kp, f"expected a list of commands, got {type_name(value)}")
        return ()
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            v.chk.error(kp + (i,), f"YAML_FILE_ERROR: expected a string command, got a mapping (quote a "
                                   f"command that contains ': '{_quoted(v, kp + (i,))})")
        elif isinstance(item, list):
            v.chk.error(kp + (i,), "YAML_FILE_ERROR: expected a string command, got a list")
        elif item is None:
            v.chk.warning(kp + (i,), "empty command (a '-' with nothing after it); nothing runs for it")
        else:
            command = v.text(kp + (i,), item)
            assert command is not None  # text() is None only for a mapping or a list
            out.append(command)
    return tuple(out)


def _quoted(v: BuildSpecCheck, path: KeyPath) -> str:
    """The command as written, quoted, when YAML split a one-line command at ': '."""
    written = v.raw.get(path)
    return ", e.g. - '" + written.replace("'", "''") + "'" if written else ""


def _on_failure(v: BuildSpecCheck, path: KeyPath) -> OnFailure | None:
    text = v.string(path, "on-failure")
    if text is None:
        return None
    try:
        return OnFailure.parse(text)
    except ValueError as exc:
        head, _, rest = text.partition("-")
        if head.upper() in ("ABORT", "CONTINUE", "RETRY") and head != head.upper():
            fixed = head.upper() + (f"-{rest}" if rest else "")
            v.chk.error(path + ("on-failure",), f"invalid on-failure '{text}' (did you mean '{fixed}'?)")
        else:
            v.chk.error(path + ("on-failure",), f"invalid on-failure '{text}': {exc}")
        return None


def _runtime(v: BuildSpecCheck, path: KeyPath, version: str) -> None:
    if not version.strip():
        v.chk.error(path, "empty runtime version: expected e.g. latest, 3.x or \"3.12\"")
