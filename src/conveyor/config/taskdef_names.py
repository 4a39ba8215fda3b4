"""Environment variable names in a task definition (ContainerDefinition.environment / .secrets).

The ECS API types a name as any string, but a name reaches the container through the engine's
environment (and, on this machine, an env-file), where '=' ends the name and a NUL or a line break
cannot be written at all: ECS would pass such a name to Docker, which refuses or splits it. Those
are errors. A name that is not a portable shell name ([A-Za-z_][A-Za-z0-9_]*) still works in ECS
but cannot be read as $NAME in a shell: a warning.

Helper C's conveyor.config.names may replace this with the shared check (see the issue 16 notes);
`check_env_name` keeps the same contract: (severity, message) or None.
"""

from __future__ import annotations

import re

PORTABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORBIDDEN = {"=": "'='", "\0": "a NUL byte", "\n": "a line break", "\r": "a carriage return"}


def check_env_name(name: str) -> tuple[str, str] | None:
    """('error' | 'warning', why) for an environment variable name that is refused or not portable.

    >>> check_env_name("DB_HOST") is None
    True
    >>> check_env_name("A\\nB")
    ('error', "the name 'A\\\\nB' holds a line break, which cannot be passed as an environment variable")
    """
    for char, what in FORBIDDEN.items():
        if char in name:
            return "error", f"the name {name!r} holds {what}, which cannot be passed as an environment variable"
    if not PORTABLE.fullmatch(name):
        return "warning", (f"the name {name!r} is not a portable environment variable name (letters, digits and '_', "
                           "not starting with a digit): a shell cannot read it as $NAME")
    return None
