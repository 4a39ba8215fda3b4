"""Issue 16: a taskdef variable name with a newline went raw into podman's --env-file, adding a
variable the task definition does not hold."""

from __future__ import annotations

import pytest

from conveyor.providers.local.ecs.runtime import TaskStartError
from conveyor.providers.local.ecs.tasks import env_file_text


@pytest.mark.parametrize("name,message", [
    ("A\nINJECTED", "environment variable 'A\\nINJECTED' holds a newline, which would start another variable in "
                    "the env-file"),
    ("A=B", "environment variable 'A=B' holds '=', which ends a variable name"),
    ("#A", "environment variable '#A' starts with '#', which podman's env-file reads as a comment"),
    ("", "environment variable '' is empty"),
])
def test_a_name_that_would_inject_is_refused(name, message):
    with pytest.raises(TaskStartError) as err:
        env_file_text([(name, "1")])
    assert str(err.value) == message


@pytest.mark.parametrize("value", ["x\nINJECTED=1", "x\rINJECTED=1"])
def test_a_value_with_a_newline_is_refused(value):
    with pytest.raises(TaskStartError, match="a value with a newline cannot be passed to the container"):
        env_file_text([("A", value)])


def test_ordinary_variables_are_written_one_per_line():
    assert env_file_text([("A", "1"), ("my.setting", "x=y z")]) == "A=1\nmy.setting=x=y z\n"
