"""The client's command line: global options before the command, and the command's verb."""

from __future__ import annotations

#: The client's global options that take a value (`docker --help`), and its global flags.
_GLOBAL_VALUE_OPTIONS = {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level",
                         "--tlscacert", "--tlscert", "--tlskey"}
_GLOBAL_FLAGS = {"-D", "--debug", "--tls", "--tlsverify"}


class Unhandled(Exception):
    """Not something the wrapper takes over: the real client runs instead, unchanged."""


def split_globals(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The global options before the command, and the command with its arguments.

    >>> split_globals(["--config=/c", "-D", "login", "-u", "AWS", "h:1"])
    ({'--config': '/c', '-D': ''}, ['login', '-u', 'AWS', 'h:1'])
    """
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        if name in _GLOBAL_VALUE_OPTIONS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise Unhandled(f"{name} needs a value")
                value = argv[i]
            options[name] = value
        elif argv[i] in _GLOBAL_FLAGS:
            options[argv[i]] = ""
        else:
            raise Unhandled(f"global option {argv[i]}")  # --version, --help, something new
        i += 1
    return options, argv[i:]


def command_of(command: list[str]) -> tuple[list[str], list[str]]:
    """(the verb as given, its arguments): `image build`, `container run`, … are one verb."""
    if len(command) >= 2 and (command[0], command[1]) in {("image", "build"), ("builder", "build"),
                                                        ("container", "run"),
                                                        ("container", "create")}:
        return command[:2], command[2:]
    return command[:1], command[1:]
