"""The local stack (podman, the registry, HAProxy, the images `conveyor setup` builds) in tests:
missing, an integration test skips on a developer's machine but FAILS in CI (CI=true), where
`conveyor setup` has run and a skip would hide that the test never ran.

    from stack_support import needs, stack_missing

    needs_haproxy = needs(shutil.which("haproxy") is None, "haproxy is not installed")   # a mark
    if not image_exists(engine, BUSYBOX_IMAGE):
        stack_missing(f"{BUSYBOX_IMAGE} is missing")                                     # in a test
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

SETUP_HINT = "run `conveyor setup`"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def stack_missing(reason: str) -> NoReturn:
    """Skip (locally) or fail (CI=true) the running test because part of the stack is missing."""
    text = reason if SETUP_HINT in reason else f"{reason}; {SETUP_HINT}"
    if in_ci():
        pytest.fail(f"{text} (CI=true: a missing stack fails the run instead of skipping)", pytrace=False)
    pytest.skip(text)


def needs(missing: bool, reason: str) -> pytest.MarkDecorator:
    """A mark for a test or module that needs a part of the stack; see tests/conftest.py."""
    return pytest.mark.needs_stack(missing=missing, reason=reason)


def docker_wrapper_launcher(directory: object) -> str:
    """Write the image's `docker` launcher into `directory`, importing THIS tree's wrapper package
    as the image does (the top-level package docker_wrapper, not conveyor.stack.docker_wrapper);
    its path, to run with sys.executable."""
    from conveyor.stack import standard_image

    path = os.path.join(str(directory), "docker")
    with open(path, "w", encoding="utf-8") as f:
        f.write(standard_image.launcher(os.path.dirname(standard_image.WRAPPER_DIR)))
    return path
