"""The parsers outside `conveyor validate` that read what a build, a hook or a user wrote: test
reports, an artifact's imageDetail.json, a hook's JSON answer, an ECR lifecycle policy. Each gets
the hostile shapes that used to end in RecursionError, ValueError or a hang, and must answer
with its own error type (or, for a hook's answer, "no report")."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conveyor.deploy.substitute import read_image_detail
from conveyor.errors import ConfigError, UserError
from conveyor.providers.local.codedeploy.hooks_contract import read_report
from conveyor.registry.lifecycle_grammar import parse_policy
from conveyor.reports import MalformedReport, parse_report


def _in_thread(call):
    """Run `call`; a regression that blocks (a FIFO) fails after 60 s instead of hanging the suite."""
    out: list = []

    def target():
        try:
            out.append(call())
        except BaseException as exc:  # noqa: BLE001 — handed to the test
            out.append(exc)
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(60)
    assert out, "blocked"
    return out[0]


@pytest.mark.parametrize("fmt, name", [("JUNITXML", "junit.xml"), ("CUCUMBERJSON", "cucumber.json")])
def test_a_report_that_is_a_fifo_or_a_device_is_refused_without_blocking(tmp_path, fmt, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    error = _in_thread(lambda: parse_report(fifo, fmt))
    assert isinstance(error, MalformedReport) and "FIFO" in error.reason
    (tmp_path / "zero").symlink_to("/dev/zero")
    error = _in_thread(lambda: parse_report(tmp_path / "zero", fmt))
    assert isinstance(error, MalformedReport) and "character device" in error.reason


def test_a_report_over_64_mib_is_refused_from_its_size(tmp_path):
    path = tmp_path / "junit.xml"
    with open(path, "wb") as f:
        f.truncate(65 * 2**20)
    with pytest.raises(MalformedReport, match="67,108,864 bytes"):
        parse_report(path, "JUNITXML")


def test_report_json_with_a_huge_number_names_its_line(tmp_path):
    path = tmp_path / "cucumber.json"
    path.write_text('[\n{"line": ' + "9" * 5000 + "}]")
    with pytest.raises(MalformedReport) as info:
        parse_report(path, "CUCUMBERJSON")
    assert (info.value.line, info.value.reason) == (2, "a number with 5,000 digits; at most 4,300 are accepted")


def test_report_xml_nested_past_256_elements_is_refused(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text("<testsuites>" + "<testsuite>" * 300 + "</testsuite>" * 300 + "</testsuites>")
    with pytest.raises(MalformedReport, match="nested more than 256 deep"):
        parse_report(path, "JUNITXML")


@pytest.mark.parametrize("content, expected", [
    (b'{"ImageURI": ' + b"[" * 10_000, "build/imageDetail.json:1:77: nested more than 64 levels deep"),
    (b'{"ImageURI": ' + b"1" * 5000 + b"}", "build/imageDetail.json:1:14: a number with 5,000 digits"),
    (b'{"ImageURI": "x\\u0000"}', "build/imageDetail.json:1:14 ImageURI: a NUL character"),
])
def test_an_artifact_s_image_detail_is_read_under_the_limits(tmp_path, content, expected):
    (tmp_path / "imageDetail.json").write_bytes(content)
    with pytest.raises(UserError) as info:
        read_image_detail(tmp_path, "build")
    assert expected in (info.value.hint or "")


def test_a_hook_answer_nested_too_deep_or_with_a_huge_number_is_no_report():
    assert read_report('{"hookStatus": "SUCCEEDED", "x": ' + "[" * 100_000) is None
    assert read_report('{"hookStatus": "SUCCEEDED", "x": ' + "1" * 5000 + "}") is None
    assert read_report('{"hookStatus": "SUCCEEDED"}') is not None


@pytest.mark.parametrize("text, expected", [
    ("[" * 20_000, "lifecycle policy:1:65: nested more than 64 levels deep"),
    ('{"rules": ' + "9" * 5000 + "}", "lifecycle policy:1:11: a number with 5,000 digits"),
])
def test_a_lifecycle_policy_is_scanned_before_it_is_parsed(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_policy(text)
    assert str(info.value).startswith(expected)



def test_a_task_definition_next_to_conveyor_yml_that_is_a_fifo_is_named_not_read(tmp_path):
    from conveyor.config.pipeline import check_file

    example = Path(__file__).resolve().parents[2] / "examples" / "orders-service" / "conveyor.yml"
    (tmp_path / "conveyor.yml").write_text(example.read_text())
    os.mkfifo(tmp_path / "taskdef.json")
    found = _in_thread(lambda: [str(d) for d in check_file(tmp_path / "conveyor.yml") if d.severity == "error"])
    assert found == [f"{tmp_path}/taskdef.json:1:1: is a FIFO (named pipe), not a regular file: Conveyor reads "
                     "taskdef.json only from a regular file"]
