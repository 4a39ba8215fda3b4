"""`conveyor completion bash|zsh|fish`: a completion script generated from the CLI's own argparse
parser, so it never lags behind a new subcommand or option; and `conveyor __complete KIND…`, the
hidden helper the scripts call for names only the daemon knows (pipelines, executions,
environments, services). The helper prints nothing and exits 0 when the daemon is not running:
a shell must never show an error in the middle of a line being typed.

The parser is read into a table per command path ("conveyor", "conveyor service describe"):
its subcommands, its options (and which take a value), the choices of an option or positional,
and which positionals name something the daemon has. Each shell's script is that table and a
small function walking the words typed so far with it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")
HELPER = "__complete"
#: What the daemon is asked for, per kind: (API path, how to pull the names from its answer).
KINDS: dict[str, tuple[str, Callable[[object], list[str]]]] = {
    "pipelines": ("/api/v1/pipelines", lambda rows: [r["name"] for r in rows]),  # type: ignore[attr-defined]
    "executions": ("/api/v1/executions?limit=20", lambda rows: [r["id"][:8] for r in rows]),  # type: ignore[attr-defined]
    "environments": ("/api/v1/services", lambda rows: sorted({r["environment"] for r in rows})),  # type: ignore[attr-defined]
    "services": ("/api/v1/services", lambda rows: sorted({r["serviceName"] for r in rows})),  # type: ignore[attr-defined]
}
HELPER_TIMEOUT = 2.0
#: Names the helper prints: bash's `compgen -W` expands its word list ($(…), `…`, $VAR), so a name
#: from the daemon with anything else in it is left out rather than handed to the shell.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+/-]{0,199}")

INSTALL = """\
install (pick your shell):
  bash  conveyor completion bash > ~/.local/share/bash-completion/completions/conveyor
        (or add `eval "$(conveyor completion bash)"` to ~/.bashrc)
  zsh   conveyor completion zsh > "${fpath[1]}/_conveyor"   then start a new shell
        (or add `eval "$(conveyor completion zsh)"` to ~/.zshrc, after compinit)
  fish  conveyor completion fish > ~/.config/fish/completions/conveyor.fish
ENV, SERVICE, execution and pipeline names are completed from the running daemon."""


@dataclass
class Command:
    """One command path's completions."""

    path: str
    help: str = ""
    subcommands: dict[str, str] = field(default_factory=dict)  # name -> help
    options: dict[str, str] = field(default_factory=dict)  # -x/--xx -> help
    takes_value: set[str] = field(default_factory=set)
    choices: dict[str, list[str]] = field(default_factory=dict)  # option, "#N" or "#*" -> words
    dynamic: dict[str, list[str]] = field(default_factory=dict)  # option, "#N" or "#*" -> kinds


def dynamic_kinds(action: argparse.Action) -> list[str]:
    """Which daemon names an argument takes, from its metavar or destination."""
    name = str(action.metavar or action.dest).upper()
    kinds = []
    if re.search(r"\bENV\b", name) or action.dest == "environment":
        kinds.append("environments")
    if re.search(r"\bSERVICE\b", name) or action.dest == "service":
        kinds.append("services")
    if action.dest == "execution":
        kinds.append("executions")
    if action.dest == "pipeline":
        kinds.append("pipelines")
    return kinds


def commands(parser: argparse.ArgumentParser, path: str = "conveyor", help: str = "") -> list[Command]:
    """The parser's command paths, depth first, the root first."""
    here = Command(path, help)
    out = [here]
    position = 0
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                here.subcommands[name] = str(helps.get(name, ""))
                out += commands(sub, f"{path} {name}", str(helps.get(name, "")))
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            for opt in action.option_strings:
                here.options[opt] = str(action.help or "")
                if action.nargs != 0:
                    here.takes_value.add(opt)
                    if action.choices:
                        here.choices[opt] = [str(c) for c in action.choices]
                    elif dynamic_kinds(action):
                        here.dynamic[opt] = dynamic_kinds(action)
            continue
        key = "#*" if action.nargs in ("*", "+", argparse.REMAINDER) else f"#{position}"
        position += 1
        if action.choices:
            here.choices[key] = [str(c) for c in action.choices]
        kinds = dynamic_kinds(action)
        if key == "#*" and action.metavar and "|" in str(action.metavar):  # `deploy [status|continue|…] ENV SERVICE`
            here.choices[key] = re.findall(r"[a-z]+", str(action.metavar).split("]")[0])
        if kinds:
            here.dynamic[key] = kinds
    return out


# --- bash ---------------------------------------------------------------------------------------

def _bash_map(name: str, entries: dict[str, str]) -> str:
    lines = [f"    [{_sh(key)}]={_sh(value)}" for key, value in sorted(entries.items())]
    return f"declare -gA {name}=(\n" + "\n".join(lines) + "\n)\n"


def _sh(text: str) -> str:
    """A single-quoted shell word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _tables(cmds: list[Command]) -> dict[str, dict[str, str]]:
    subs, opts, takes, choices, dynamic = {}, {}, {}, {}, {}
    for c in cmds:
        if c.subcommands:
            subs[c.path] = " ".join(c.subcommands)
        opts[c.path] = " ".join(c.options)
        for opt in c.takes_value:
            takes[f"{c.path} {opt}"] = "1"
        for key, words in c.choices.items():
            choices[f"{c.path} {key}"] = " ".join(words)
        for key, kinds in c.dynamic.items():
            dynamic[f"{c.path} {key}"] = " ".join(kinds)
    return {"subs": subs, "opts": opts, "takes": takes, "choices": choices, "dynamic": dynamic}


BASH_FUNCTIONS = r"""
_conveyor_values() {
    local key=$1 key_any=$2 found="" kinds=""
    [[ -z ${_conveyor_choices[$key]+x} && -z ${_conveyor_dynamic[$key]+x} ]] && key=$key_any
    found=${_conveyor_choices[$key]}
    kinds=${_conveyor_dynamic[$key]}
    if [[ -n $kinds ]]; then
        found="$found $(conveyor __complete $kinds 2>/dev/null)"
    fi
    if [[ -n ${_conveyor_choices[$key]+x} || -n $kinds ]]; then
        COMPREPLY=($(compgen -W "$found" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_conveyor() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=conveyor pos=0 takes="" i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $takes ]]; then takes=""; continue; fi
        if [[ $w == -* ]]; then
            [[ $w != *=* && -n ${_conveyor_takes["$cmd $w"]} ]] && takes=$w
            continue
        fi
        if [[ " ${_conveyor_subs[$cmd]} " == *" $w "* ]]; then
            cmd="$cmd $w"; pos=0
        else
            ((pos++))
        fi
    done
    if [[ -n $takes ]]; then
        _conveyor_values "$cmd $takes" "$cmd $takes"
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_conveyor_opts[$cmd]}" -- "$cur"))
    elif [[ -n ${_conveyor_subs[$cmd]} ]]; then
        COMPREPLY=($(compgen -W "${_conveyor_subs[$cmd]}" -- "$cur"))
    else
        _conveyor_values "$cmd #$pos" "$cmd #*"
    fi
}
complete -F _conveyor conveyor
"""


def bash_script(cmds: list[Command]) -> str:
    t = _tables(cmds)
    return ("# conveyor completion for bash, generated from its parser by `conveyor completion bash`\n"
            + _bash_map("_conveyor_subs", t["subs"]) + _bash_map("_conveyor_opts", t["opts"])
            + _bash_map("_conveyor_takes", t["takes"]) + _bash_map("_conveyor_choices", t["choices"])
            + _bash_map("_conveyor_dynamic", t["dynamic"]) + BASH_FUNCTIONS)


# --- zsh ----------------------------------------------------------------------------------------

def _zsh_map(name: str, entries: dict[str, str]) -> str:
    lines = [f"    {_sh(key)} {_sh(value)}" for key, value in sorted(entries.items())]
    return f"typeset -gA {name}\n{name}=(\n" + "\n".join(lines) + "\n)\n"


ZSH_FUNCTIONS = r"""
_conveyor_values() {
    local key=$1 found kinds
    (( ${+_conveyor_choices[$key]} || ${+_conveyor_dynamic[$key]} )) || key=$2
    found=${_conveyor_choices[$key]-}
    kinds=${_conveyor_dynamic[$key]-}
    if [[ -n $kinds ]]; then
        found="$found $(conveyor __complete ${=kinds} 2>/dev/null)"
    fi
    if (( ${+_conveyor_choices[$key]} )) || [[ -n $kinds ]]; then
        compadd -- ${=found}
    else
        _files
    fi
}

_conveyor() {
    local cmd=conveyor pos=0 takes="" i w k
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        if [[ -n $takes ]]; then takes=""; continue; fi
        if [[ $w == -* ]]; then
            k="$cmd $w"
            [[ $w != *=* && -n ${_conveyor_takes[$k]-} ]] && takes=$w
            continue
        fi
        if [[ " ${_conveyor_subs[$cmd]-} " == *" $w "* ]]; then
            cmd="$cmd $w"; pos=0
        else
            (( pos++ ))
        fi
    done
    if [[ -n $takes ]]; then
        _conveyor_values "$cmd $takes" "$cmd $takes"
    elif [[ ${words[CURRENT]} == -* ]]; then
        compadd -- ${=_conveyor_opts[$cmd]}
    elif [[ -n ${_conveyor_subs[$cmd]-} ]]; then
        compadd -- ${=_conveyor_subs[$cmd]}
    else
        _conveyor_values "$cmd #$pos" "$cmd #*"
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _conveyor "$@"
else
    compdef _conveyor conveyor
fi
"""


def zsh_script(cmds: list[Command]) -> str:
    t = _tables(cmds)
    return ("#compdef conveyor\n# conveyor completion for zsh, generated from its parser by `conveyor completion zsh`\n"
            + _zsh_map("_conveyor_subs", t["subs"]) + _zsh_map("_conveyor_opts", t["opts"])
            + _zsh_map("_conveyor_takes", t["takes"]) + _zsh_map("_conveyor_choices", t["choices"])
            + _zsh_map("_conveyor_dynamic", t["dynamic"]) + ZSH_FUNCTIONS)


# --- fish ---------------------------------------------------------------------------------------

def _fish(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(cmds: list[Command]) -> str:
    """One `complete` line per subcommand, option and argument, each under the condition that the
    words typed so far are its command path (a helper function checks the path)."""
    paths = " ".join(_fish(c.path) for c in cmds)
    out = ["# conveyor completion for fish, generated from its parser by `conveyor completion fish`",
           f"set -g __conveyor_paths {paths}",
           "function __conveyor_path --description 'the conveyor command path typed so far'",
           "    set -l path conveyor",
           "    for w in (commandline -opc)[2..-1]",
           "        if contains -- \"$path $w\" $__conveyor_paths",
           "            set path \"$path $w\"",
           "        end",
           "    end",
           "    echo $path",
           "end",
           "complete -c conveyor -f"]
    for c in cmds:
        cond = _fish(f"test (__conveyor_path) = {_fish(c.path)}")
        for name, help in c.subcommands.items():
            out.append(f"complete -c conveyor -n {cond} -a {_fish(name)} -d {_fish(help[:80])}")
        for opt, help in c.options.items():
            flag = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
            extra = ""
            if opt in c.choices:
                extra = f" -x -a {_fish(' '.join(c.choices[opt]))}"
            elif opt in c.dynamic:
                extra = f" -x -a {_fish('(conveyor __complete ' + ' '.join(c.dynamic[opt]) + ' 2>/dev/null)')}"
            elif opt in c.takes_value:
                extra = " -r"
            out.append(f"complete -c conveyor -n {cond} {flag}{extra} -d {_fish(help[:80])}")
        words = sorted({w for key, ws in c.choices.items() if key.startswith("#") for w in ws})
        kinds = sorted({k for key, ks in c.dynamic.items() if key.startswith("#") for k in ks})
        if words:
            out.append(f"complete -c conveyor -n {cond} -a {_fish(' '.join(words))}")
        if kinds:
            out.append(f"complete -c conveyor -n {cond} -a "
                       f"{_fish('(conveyor __complete ' + ' '.join(kinds) + ' 2>/dev/null)')}")
    return "\n".join(out) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    return {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell](cmds)


# --- the commands -------------------------------------------------------------------------------

def add_command(cmd: Callable[..., argparse.ArgumentParser]) -> None:
    """`conveyor completion SHELL` (cli/main.py's subcommand factory)."""
    sp = cmd("completion", completion, "print a shell completion script (bash, zsh or fish)")
    sp.epilog = INSTALL
    sp.formatter_class = argparse.RawDescriptionHelpFormatter
    sp.add_argument("shell", choices=SHELLS)


def completion(args: argparse.Namespace) -> int:
    from conveyor.cli.main import build_parser

    sys.stdout.write(script(args.shell, build_parser()))
    return 0


def complete(kinds: list[str], fetch: Callable[[str], object] | None = None) -> int:
    """`conveyor __complete KIND…`: the names of each kind, one per line; nothing on any failure."""
    try:
        get = fetch or _daemon_get()
        answers: dict[str, object] = {}
        names: list[str] = []
        for kind in kinds:
            if kind not in KINDS:
                continue
            path, pick = KINDS[kind]
            if path not in answers:
                answers[path] = get(path)
            names += [n for n in pick(answers[path]) if n not in names and SAFE_NAME.fullmatch(str(n))]
        sys.stdout.write("".join(n + "\n" for n in names))
    except Exception:  # the daemon is down, the token unreadable, …: complete nothing, say nothing
        return 0
    return 0


def _daemon_get() -> Callable[[str], object]:
    from conveyor.cli.client import Client

    client = Client.connect()

    def get(path: str) -> object:
        request = urllib.request.Request(client.base_url + path, headers={"Authorization": f"Bearer {client.token}"})
        with urllib.request.urlopen(request, timeout=HELPER_TIMEOUT) as answer:
            return json.loads(answer.read())

    return get
