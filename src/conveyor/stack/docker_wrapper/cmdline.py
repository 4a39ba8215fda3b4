"""The client's command line: global options before the command, the command's verb, and the
options of a command as the client's flag parser (pflag) reads them."""

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


def options_of(args: list[str], values: set[str], short_values: set[str], *, until_positional: bool = False):
    """(name, value or None, the tokens as given) for each option, ("", token, [token]) for each
    positional argument. An option in `values` takes the next token unless given `--name=value`;
    `-abc` is a cluster of short flags that ends in at most one of `short_values` with its value
    (`-it`, `-qt name`, `-tname`). `--` (yielded as ("--", None, ["--"])) makes the rest
    positional; with `until_positional` so does the first positional (`docker run IMAGE CMD…`:
    the command's own options are not the client's).

    >>> list(options_of(["-qt", "a", "--file=F", "ctx"], {"-f", "--file"}, {"-t"}))
    [('-q', None, ['-q']), ('-t', 'a', ['-t', 'a']), ('--file', 'F', ['--file=F']), ('', 'ctx', ['ctx'])]
    """
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or (until_positional and (not arg.startswith("-") or arg == "-")):
            if arg == "--":
                yield "--", None, ["--"]
            for token in args[i + 1:] if arg == "--" else args[i:]:
                yield "", token, [token]
            return
        if not arg.startswith("-") or arg == "-":
            yield "", arg, [arg]
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                yield name, value, [arg]
            elif name in values and i + 1 < len(args):
                i += 1
                yield name, args[i], [arg, args[i]]
            else:
                yield name, None, [arg]
        else:
            for j in range(1, len(arg)):
                short = "-" + arg[j]
                if short in short_values:
                    flags = arg[1:j]
                    if flags:
                        yield "-" + flags, None, ["-" + flags]
                    if j + 1 < len(arg):
                        yield short, arg[j + 1:].removeprefix("="), [short + arg[j + 1:]]
                    elif i + 1 < len(args):
                        i += 1
                        yield short, args[i], [short, args[i]]
                    else:
                        yield short, None, [short]
                    break
            else:
                yield arg, None, [arg]
        i += 1
