"""`conveyor completion bash|zsh|fish`: generated from the parser, so every subcommand is in each
script; each script is valid for its shell (bash -n; zsh -n and fish -n when those shells are
installed); and the bash one, sourced in a real bash, completes what a user types, with the
daemon's names from `conveyor __complete` (stubbed here as a shell function)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess

import pytest

from conveyor.cli import completion
from conveyor.cli.main import build_parser, main


def every_command_path(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((*prefix, name))
                out += every_command_path(sub, (*prefix, name))
    return out


PATHS = every_command_path(build_parser())


def script(shell: str, capsys) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def test_the_parser_has_the_commands_the_scripts_are_checked_for():
    assert ("deploy",) in PATHS and ("service", "describe") in PATHS and ("completion",) in PATHS
    assert len(PATHS) > 30


def subcommand_table(text: str, shell: str) -> dict[str, list[str]]:
    """The script's _conveyor_subs map as {command path: subcommands}."""
    pattern = r"^    \['([^']*)'\]='([^']*)'$" if shell == "bash" else r"^    '([^']*)' '([^']*)'$"
    body = text.split("_conveyor_subs=(\n", 1)[1].split("\n)\n", 1)[0]
    return {m.group(1): m.group(2).split() for m in re.finditer(pattern, body, re.MULTILINE)}


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_every_subcommand_is_in_the_script(shell, capsys):
    text = script(shell, capsys)
    table = subcommand_table(text, shell) if shell != "fish" else {}
    for path in PATHS:
        parent, name = " ".join(("conveyor", *path[:-1])), path[-1]
        if shell == "fish":
            assert f"-n 'test (__conveyor_path) = \\'{parent}\\'' -a '{name}'" in text, path
        else:
            assert name in table[parent], path


@pytest.mark.parametrize("shell, check", [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]), ("fish", ["fish", "-n"])])
def test_the_script_is_valid_for_its_shell(shell, check, capsys, tmp_path):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed here")
    path = tmp_path / f"conveyor.{shell}"
    path.write_text(script(shell, capsys))
    done = subprocess.run([*check, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


DAEMON_STUB = """
conveyor() {  # the daemon's names, as `conveyor __complete KIND...` prints them
    [[ $1 == __complete ]] || return 1
    shift
    for kind in "$@"; do
        case $kind in
            environments) printf '%s\\n' staging production ;;
            services) printf '%s\\n' orders payments ;;
            executions) printf '%s\\n' 0123abcd 4567ef01 ;;
            pipelines) printf '%s\\n' orders-pipeline ;;
        esac
    done
}
"""


def bash_complete(script_text: str, line: str, tmp_path) -> list[str]:
    """COMPREPLY for `line` (the last word is being completed, possibly empty), in a real bash."""
    path = tmp_path / "conveyor.bash"
    path.write_text(script_text + DAEMON_STUB)
    words = line.split(" ")
    driver = (f"source {path}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n"
              "_conveyor\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--norc", "-c", driver], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return sorted(w for w in done.stdout.splitlines() if w)


@pytest.mark.parametrize("line, expected", [
    ("conveyor ser", ["service"]),
    ("conveyor service ", ["describe", "logs", "ls", "scale"]),
    ("conveyor service describe ", ["production", "staging"]),
    ("conveyor service describe staging ", ["orders", "payments"]),
    ("conveyor service describe --json staging o", ["orders"]),
    ("conveyor doctor --target ", ["aws", "local"]),
    ("conveyor deploy --wait-type R", ["READY_WAIT"]),
    ("conveyor deploy st", ["staging", "status", "stop"]),
    ("conveyor run --pipeline ", ["orders-pipeline"]),
    ("conveyor approve ", ["0123abcd", "4567ef01"]),
    ("conveyor history --limit 5 --j", ["--json"]),
    ("conveyor completion ", ["bash", "fish", "zsh"]),
    ("conveyor --pl", ["--plain"]),
    ("conveyor secret s", ["set"]),
])
def test_bash_completes_what_a_user_types(line, expected, capsys, tmp_path):
    assert bash_complete(script("bash", capsys), line, tmp_path) == expected


def test_the_helper_prints_the_daemons_names_once_each(capsys):
    answers = {"/api/v1/services": [{"environment": "staging", "serviceName": "orders"},
                                    {"environment": "production", "serviceName": "orders"}],
               "/api/v1/pipelines": [{"name": "orders"}]}
    asked = []

    def fetch(path: str):
        asked.append(path)
        return answers[path]

    assert completion.complete(["environments", "services", "pipelines", "nonsense"], fetch) == 0
    assert capsys.readouterr().out.splitlines() == ["production", "staging", "orders"]
    assert asked == ["/api/v1/services", "/api/v1/pipelines"]  # one request per path


def test_the_helper_leaves_out_names_a_shell_would_expand(capsys):
    rows = [{"name": "$(touch pwned)"}, {"name": "`id`"}, {"name": "a b"}, {"name": "orders-2.x"}]
    assert completion.complete(["pipelines"], lambda path: rows) == 0
    assert capsys.readouterr().out == "orders-2.x\n"


def test_the_helper_is_silent_without_a_daemon(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVEYOR_HOME", str(tmp_path / "nowhere"))
    assert main(["__complete", "environments"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_help_says_how_to_install(capsys):
    with pytest.raises(SystemExit):
        main(["completion", "--help"])
    out = capsys.readouterr().out
    assert "~/.config/fish/completions/conveyor.fish" in out and 'eval "$(conveyor completion bash)"' in out
