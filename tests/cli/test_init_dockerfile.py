"""What `conveyor init` reads from a Dockerfile: the final image's EXPOSEd ports (with ARG and ENV
substitution, stages, continuations, the escape directive) and the build arguments before FROM."""

from __future__ import annotations

import pytest

from conveyor.scaffold.dockerfile import BuildArg, ExposedPort, Unresolved, instructions, read_dockerfile


def ports(text: str) -> list[tuple[int, str]]:
    return [(p.port, p.protocol) for p in read_dockerfile(text).exposed if isinstance(p, ExposedPort)]


def first(text: str):
    return read_dockerfile(text).first_tcp_port()


@pytest.mark.parametrize("text, expected", [
    ("FROM x\nEXPOSE 8080\n", 8080),
    ("FROM x\nEXPOSE 8080/tcp\n", 8080),
    ("FROM x\nEXPOSE 8080/TCP\n", 8080),
    ("FROM x\nEXPOSE 53/udp 9000 9001\n", 9000),                 # udp is not a load balancer's port
    ("FROM x\nEXPOSE 53/udp\nEXPOSE 7000/tcp\nEXPOSE 7001\n", 7000),
    ("FROM x\nexpose 3000\n", 3000),                              # instructions are case-insensitive
    ("FROM x\nEXPOSE 8000-8010\n", 8000),                         # a range: its first port
    ("FROM x\nEXPOSE \"5000\"\n", 5000),
    ("FROM x\nEXPOSE 80 \\\n       443\n", 80),                   # a continuation
])
def test_the_first_tcp_port_is_chosen(text, expected):
    found = first(text)
    assert isinstance(found, ExposedPort) and found.port == expected


def test_every_port_is_kept_in_order_with_its_protocol():
    assert ports("FROM x\nEXPOSE 53/udp 8080\nEXPOSE 9090/tcp 5353/UDP\n") == [
        (53, "udp"), (8080, "tcp"), (9090, "tcp"), (5353, "udp")]


def test_only_udp_or_nothing_exposed_is_no_tcp_port():
    assert first("FROM x\nEXPOSE 53/udp\n") is None
    assert first("FROM x\nRUN echo EXPOSE 80\n") is None
    assert first("") is None


@pytest.mark.parametrize("text, expected", [
    ("FROM x\nARG PORT=8080\nEXPOSE $PORT\n", 8080),
    ("FROM x\nARG PORT=8080\nEXPOSE ${PORT}/tcp\n", 8080),
    ("FROM x\nENV PORT=3000\nEXPOSE ${PORT}\n", 3000),
    ("FROM x\nENV PORT 3001\nEXPOSE $PORT\n", 3001),                        # the legacy ENV form
    ("FROM x\nEXPOSE ${PORT:-4000}\n", 4000),                             # a default word
    ("FROM x\nARG PORT\nEXPOSE ${PORT:-4001}\n", 4001),
    ("ARG PORT=8081\nFROM x\nARG PORT\nEXPOSE $PORT\n", 8081),            # a global ARG redeclared in the stage
    ("FROM x\nARG PORT=1\nENV PORT=8082\nEXPOSE $PORT\n", 8082),          # ENV wins over ARG
    ("FROM x\nARG BASE=80\nENV PORT=${BASE}80\nEXPOSE $PORT\n", 8080),    # ENV built from an ARG
])
def test_variables_resolve_to_their_defaults(text, expected):
    found = first(text)
    assert isinstance(found, ExposedPort) and found.port == expected, found


@pytest.mark.parametrize("text, reason", [
    ("FROM x\nARG PORT\nEXPOSE $PORT\n", "$PORT has no default value in the final stage"),
    ("ARG PORT=8080\nFROM x\nEXPOSE ${PORT}\n", "$PORT has no default value"),   # global scope ends at FROM
    ("FROM x\nEXPOSE http\n", "'http' is not a port (expected PORT or PORT/tcp)"),
    ("FROM x\nEXPOSE 70000\n", "'70000' is not a port: 1-65535"),
    ("FROM x\nEXPOSE 80/quic\n", "'80/quic' is not a port: 1-65535 with /tcp, /udp or /sctp"),
])
def test_a_port_that_cannot_be_read_is_unresolved_with_its_line(text, reason):
    found = first(text)
    assert isinstance(found, Unresolved), found
    assert found.line == text.count("\n") and reason in found.reason


def test_an_unresolved_item_before_a_tcp_port_comes_first():
    """It might be the service's port: the caller asks rather than picking the next one."""
    assert isinstance(first("FROM x\nARG P\nEXPOSE $P 8080\n"), Unresolved)


def test_only_the_final_stage_and_the_stages_it_builds_from_count():
    text = ("FROM golang AS build\nEXPOSE 6060\n"
            "FROM debian AS base\nENV PORT=9000\nEXPOSE 9100/udp\n"
            "FROM base AS final\nEXPOSE $PORT\n")
    assert ports(text) == [(9100, "udp"), (9000, "tcp")]
    assert ports("FROM a AS one\nEXPOSE 1111\nFROM b\nEXPOSE 2222\n") == [(2222, "tcp")]
    assert ports("FROM a AS One\nEXPOSE 1111\nFROM one\n") == [(1111, "tcp")]   # stage names: any case


def test_continuations_comments_and_the_escape_directive():
    text = "# escape=`\nFROM x\n# a comment\nEXPOSE 8080 `\n# inside\n\n  9090\n"
    assert [(i.keyword, i.args, i.line) for i in instructions(text)] == [
        ("FROM", "x", 2), ("EXPOSE", "8080 9090", 4)]
    assert ports(text) == [(8080, "tcp"), (9090, "tcp")]
    # after the first instruction a "directive" is a comment
    assert ports("FROM x\n# escape=`\nEXPOSE 1 `\n") == [(1, "tcp")]


def test_build_args_before_the_first_from():
    text = ("# syntax=docker/dockerfile:1\nARG BASE_IMAGE=python:3.12-slim\nARG REGISTRY\n"
            "ARG A=1 B=\"two words\"\nFROM ${BASE_IMAGE}\nARG LATER=1\n")
    assert read_dockerfile(text).build_args == (
        BuildArg("BASE_IMAGE", "python:3.12-slim", 2), BuildArg("REGISTRY", None, 3), BuildArg("A", "1", 4),
        BuildArg("B", "two words", 4))


def test_the_orders_service_containerfile():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "examples" / "orders-service" / "Containerfile").read_text()
    facts = read_dockerfile(text)
    assert [a.name for a in facts.build_args] == ["BASE_IMAGE"]
    found = facts.first_tcp_port()
    assert isinstance(found, ExposedPort) and found.port == 8080
