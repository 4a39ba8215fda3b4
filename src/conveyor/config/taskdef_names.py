"""Environment variable names in a task definition (ContainerDefinition.environment / .secrets).

The ECS API types a name as any string, but a name reaches the container through the engine's
environment (and, on this machine, an env-file): what podman cannot carry (conveyor.names:
empty, NUL, a line break, '=', whitespace, a leading '#') is an error. A name that is not a
portable shell name ([A-Za-z_][A-Za-z0-9_]*) still works in ECS but cannot be read as $NAME in
a shell: a warning.
"""

from __future__ import annotations

import re

from conveyor.names import check_container_env_name

PORTABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(name: str) -> tuple[str, str] | None:
    """('error' | 'warning', why) for an environment variable name that is refused or not portable.

    >>> check_env_name("DB_HOST") is None
    True
    >>> check_env_name("A\\nB")
    ('error', "the name 'A\\\\nB' holds a newline, which would start another variable in the env-file")
    """
    problem = check_container_env_name(name)
    if problem:
        return "error", f"the name {name!r} {problem}"
    if not PORTABLE.fullmatch(name):
        return "warning", (f"the name {name!r} is not a portable environment variable name (letters, digits and '_', "
                           "not starting with a digit): a shell cannot read it as $NAME")
    return None
