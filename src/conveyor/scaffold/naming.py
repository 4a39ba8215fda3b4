"""One name for everything `conveyor init` writes: the pipeline, the service in each environment,
the task definition family, its container, the registry repository and the alarms' prefix. Each
of those has its own rule, and one name must pass them all:

    pipeline name     1-100 of A-Z a-z 0-9 . @ - _          (CodePipeline)
    service name      1-64 of A-Z a-z 0-9 - _               (conveyor.yml environments)
    container, family 1-255 of A-Z a-z 0-9 - _              (ECS)
    repository        2-256, lower case, [a-z0-9] runs joined by one of . _ -   (ECR)

so the name is lower-case letters and digits joined by single hyphens, 2-64 characters.

    >>> service_name("My Service_v2")
    'my-service-v2'
    >>> service_name("--x--")
    'x-app'
"""

from __future__ import annotations

import re

NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
NAME_LENGTH = (2, 64)
FALLBACK = "app"
RULE = "2-64 lower-case letters and digits, joined by single hyphens (e.g. orders-api)"


def service_name(text: str) -> str:
    """`text` (usually the repository's directory name) made into a name every file accepts."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = name[: NAME_LENGTH[1]].rstrip("-")
    if not name:
        return FALLBACK
    if len(name) < NAME_LENGTH[0]:  # ECR's repository names take at least 2 characters
        name = f"{name}-{FALLBACK}"
    return name


def check_name(name: str) -> str | None:
    """Why `name` (given with --name) cannot be used, or None.

    >>> check_name("Orders")
    "'Orders' is not a valid name: use 2-64 lower-case letters and digits, joined by single hyphens (e.g. orders-api)"
    """
    if NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1] and NAME.fullmatch(name):
        return None
    return f"'{name}' is not a valid name: use {RULE}"
