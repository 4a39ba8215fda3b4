"""What `conveyor init` needs from a Dockerfile or Containerfile: the port the image serves on
(EXPOSE) and the build arguments declared before the first FROM (those that can choose the base
image). A reader of the Dockerfile reference's syntax, not a builder: parser directives (only
`escape` matters here), line continuations, comments, stages, ARG and ENV scoping and variable
substitution in EXPOSE, as the reference defines them (docs.docker.com/reference/dockerfile).

    facts = read_dockerfile("ARG PORT=8080\\nFROM python:3.12-slim\\nARG PORT\\nEXPOSE ${PORT}/tcp 53/udp\\n")
    facts.build_args                      # (BuildArg(name='PORT', default='8080', line=1),)
    [p.port for p in facts.exposed]       # [8080, 53]; facts.first_tcp_port() -> 8080

Only the last stage is the image that runs, so only its EXPOSEs count, with those of the stage it
starts FROM when that is an earlier stage of the same file. A port that cannot be resolved (a
variable without a default, a typo) is kept as an `Unresolved` entry so that the caller can
refuse it with the line, or ignore it when the user gave --port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S.*?)\s*$")
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\+|-|\+)(?P<word>.*))?", re.S)
_EXPOSE_ITEM = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<proto>[A-Za-z]+))?")
ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, ARG, EXPOSE...
    args: str
    line: int     # where the instruction starts (1-based)


@dataclass(frozen=True)
class BuildArg:
    """An ARG before the first FROM: usable in FROM lines, overridable with --build-arg."""

    name: str
    default: str | None
    line: int


@dataclass(frozen=True)
class ExposedPort:
    port: int
    protocol: str  # tcp | udp | sctp
    line: int


@dataclass(frozen=True)
class Unresolved:
    """An EXPOSE item that names no port once its variables are substituted."""

    text: str
    line: int
    reason: str


@dataclass
class _Stage:
    name: str | None
    base: str
    line: int
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    exposed: list[ExposedPort | Unresolved] = field(default_factory=list)


    def variables(self) -> dict[str, str]:
        return {**self.args, **self.env}  # an ENV wins over an ARG of the same name (the reference, "ARG")


@dataclass(frozen=True)
class DockerfileFacts:
    build_args: tuple[BuildArg, ...]
    exposed: tuple[ExposedPort | Unresolved, ...]  # the final image's, in the order it gets them

    def first_tcp_port(self) -> ExposedPort | Unresolved | None:
        """The first TCP port, or the first item that could not be read (it might be that port),
        or None when the image exposes no TCP port."""
        for item in self.exposed:
            if isinstance(item, Unresolved) or item.protocol == "tcp":
                return item
        return None


def instructions(text: str) -> list[Instruction]:
    """The file's instructions with continuations joined and comments dropped."""
    lines = text.splitlines()
    escape = "\\"
    start = 0
    while start < len(lines) and (m := _DIRECTIVE.match(lines[start].strip())):  # directives: the very top
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        start += 1
    out: list[Instruction] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(lines[start:], start + 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and (not stripped or stripped.startswith("#")):
            continue  # comments and empty lines inside a continuation are skipped
        if not pending:
            first = number
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)])
            continue
        pending.append(body)
        out.append(_instruction(" ".join(part.strip() for part in pending), first))
        pending = []
    if pending:
        out.append(_instruction(" ".join(part.strip() for part in pending), first))
    return out


def _instruction(joined: str, line: int) -> Instruction:
    keyword, _, args = joined.strip().partition(" ")
    return Instruction(keyword.upper(), args.strip(), line)


def read_dockerfile(text: str) -> DockerfileFacts:
    build_args: list[BuildArg] = []
    globals_: dict[str, str | None] = {}
    stages: list[_Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            stages.append(_from(ins, stages))
        elif ins.keyword == "ARG":
            for name, default in _arg_items(ins.args):
                if not stages:
                    if ARG_NAME.fullmatch(name):
                        build_args.append(BuildArg(name, default, ins.line))
                    globals_[name] = default
                    continue
                value = default if default is not None else globals_.get(name)
                if value is not None:
                    stages[-1].args[name] = _substitute(value, stages[-1].variables())[0]
                else:
                    stages[-1].args.pop(name, None)  # declared without a value: unset until given
        elif ins.keyword == "ENV" and stages:
            for name, value in _env_items(ins.args):
                stages[-1].env[name] = _substitute(value, stages[-1].variables())[0]
        elif ins.keyword == "EXPOSE" and stages:
            stages[-1].exposed.extend(_expose(ins, stages[-1].variables()))
    exposed: list[ExposedPort | Unresolved] = []
    if stages:
        for stage in _lineage(stages):
            exposed.extend(stage.exposed)
    return DockerfileFacts(tuple(build_args), tuple(exposed))


def _from(ins: Instruction, stages: list[_Stage]) -> _Stage:
    words = [w for w in ins.args.split() if not w.startswith("--")]
    base = words[0] if words else ""
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    stage = _Stage(name=name, base=base.lower(), line=ins.line)
    parent = next((s for s in reversed(stages) if s.name and s.name == stage.base), None)
    if parent is not None:  # FROM an earlier stage: its ENV (not its ARGs) carries over into the image
        stage.env.update(parent.env)
    return stage


def _lineage(stages: list[_Stage]) -> list[_Stage]:
    """The final stage and the earlier stages it is built FROM, oldest first."""
    chain = [stages[-1]]
    while True:
        base = chain[-1].base
        parent = next((s for s in reversed(stages[: stages.index(chain[-1])]) if s.name == base), None)
        if parent is None:
            return list(reversed(chain))
        chain.append(parent)


def _words(args: str) -> list[str]:
    """Whitespace-separated words, keeping quoted parts together (quotes removed)."""
    out, current, quote, has = [], [], "", False
    for ch in args:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current.append(ch)
        elif ch in "\"'":
            quote, has = ch, True
        elif ch.isspace():
            if current or has:
                out.append("".join(current))
            current, has = [], False
        else:
            current.append(ch)
    if current or has:
        out.append("".join(current))
    return out


def _arg_items(args: str) -> list[tuple[str, str | None]]:
    items: list[tuple[str, str | None]] = []
    for word in _words(args):
        name, eq, default = word.partition("=")
        items.append((name, default if eq else None))
    return items


def _env_items(args: str) -> list[tuple[str, str]]:
    words = _words(args)
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value with spaces
        return [(words[0], " ".join(words[1:]))]
    return [(name, value) for name, _, value in (w.partition("=") for w in words)]


def _substitute(text: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word}, ${NAME-word} and ${NAME+word}
    replaced, and the names that had no value (and no default word)."""
    missing: list[str] = []

    def one(m: re.Match[str]) -> str:
        if m.group("plain"):
            name, op, word = m.group("plain"), None, ""
        else:
            b = _BRACED.fullmatch(m.group("braced"))
            if b is None:
                missing.append(m.group(0))
                return m.group(0)
            name, op, word = b.group("name"), b.group("op"), b.group("word") or ""
        value = variables.get(name)
        if op == ":-" or op == "-":
            return value if value not in (None, "") or (op == "-" and value is not None) else word
        if op == ":+" or op == "+":
            return word if value not in (None, "") or (op == "+" and value is not None) else ""
        if value is None:
            missing.append(name)
            return m.group(0)
        return value

    return _VARIABLE.sub(one, text), missing


def _expose(ins: Instruction, variables: dict[str, str]) -> list[ExposedPort | Unresolved]:
    out: list[ExposedPort | Unresolved] = []
    for word in _words(ins.args):
        value, missing = _substitute(word, variables)
        if missing:
            out.append(Unresolved(word, ins.line, f"{', '.join('$' + n.lstrip('$') for n in missing)} has no "
                                                  "default value in the final stage (an ARG without a default, or "
                                                  "not declared in that stage)"))
            continue
        for item in value.split():
            m = _EXPOSE_ITEM.fullmatch(item)
            if m is None:
                out.append(Unresolved(word, ins.line, f"'{item}' is not a port (expected PORT or PORT/tcp)"))
                continue
            port = int(m.group("first"))
            proto = (m.group("proto") or "tcp").lower()
            if not 1 <= port <= 65535 or proto not in ("tcp", "udp", "sctp"):
                out.append(Unresolved(word, ins.line, f"'{item}' is not a port: 1-65535 with /tcp, /udp or /sctp"))
                continue
            out.append(ExposedPort(port, proto, ins.line))
    return out
