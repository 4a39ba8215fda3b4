"""ECR-style URIs ⇄ the local registry, and the texts `conveyor setup` writes (pure)."""

from __future__ import annotations

import tomllib

import pytest

from conveyor.registry import uris
from conveyor.registry.uris import ImageUri, parse


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:5000/orders:v1", ImageUri("127.0.0.1:5000", "orders", "v1")),
    ("127.0.0.1:5000/team/orders", ImageUri("127.0.0.1:5000", "team/orders")),
    ("localhost:5000/orders@sha256:abc", ImageUri("localhost:5000", "orders", None, "sha256:abc")),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:3f2a1c9@sha256:ab",
     ImageUri("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "web", "3f2a1c9", "sha256:ab")),
])
def test_parse(text, expected):
    assert parse(text) == expected
    assert str(parse(text)) == text


@pytest.mark.parametrize("text", ["python:3.12-slim", "orders", "127.0.0.1:5000/",
                                  "127.0.0.1:5000/orders@latest"])
def test_parse_refuses_what_names_no_registry_image(text):
    with pytest.raises(ValueError):
        parse(text)


def test_ecr_hosts_carry_account_and_region():
    real = parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web")
    local = parse("000000000000.dkr.ecr.us-east-1.localhost:5000/web")
    assert (real.is_ecr, real.account, real.region) == (True, "123456789012", "eu-west-1")
    assert (local.is_ecr, local.account, local.region) == (True, "000000000000", "us-east-1")
    assert not parse("127.0.0.1:5000/web").is_ecr


def test_repository_uri_is_the_local_ecr_style_host():
    assert uris.repository_uri("orders") == "000000000000.dkr.ecr.us-east-1.localhost:5000/orders"
    assert (uris.repository_uri("team/orders", 5123, "123456789012", "eu-west-1")
            == "123456789012.dkr.ecr.eu-west-1.localhost:5123/team/orders")


@pytest.mark.parametrize("text, expected", [
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1", "127.0.0.1:5000/orders:v1"),
    ("000000000000.dkr.ecr.us-east-1.localhost:5000/orders@sha256:ab", "127.0.0.1:5000/orders@sha256:ab"),
    ("localhost:5000/orders:v1", "127.0.0.1:5000/orders:v1"),
    ("127.0.0.1:5000/orders:v1", "127.0.0.1:5000/orders:v1"),
    ("docker.io/library/python:3.12-slim", "docker.io/library/python:3.12-slim"),
    ("python:3.12-slim", "python:3.12-slim"),
])
def test_to_local(text, expected):
    assert uris.to_local(text) == expected


def test_to_ecr():
    assert (uris.to_ecr("127.0.0.1:5000/orders:v1", "123456789012", "eu-west-1")
            == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1")


@pytest.mark.parametrize("text, local", [
    ("127.0.0.1:5000/orders:v1", True),
    ("localhost:5000/orders", True),
    ("000000000000.dkr.ecr.us-east-1.localhost:5000/orders", True),
    ("000000000000.dkr.ecr.us-east-1.localhost:6000/orders", False),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders", False),
    ("127.0.0.1:6000/orders", False),
    ("python:3.12-slim", False),
])
def test_is_local(text, local):
    assert uris.is_local(text, port=5000) is local


def test_hosts_line_and_idempotent_merge():
    line = uris.hosts_line()
    assert line == "127.0.0.1\t000000000000.dkr.ecr.us-east-1.localhost\t# conveyor local registry"
    base = "127.0.0.1 localhost\n::1 localhost ip6-localhost"
    merged = uris.hosts_with_entry(base)
    assert merged == base + "\n" + line + "\n"
    assert uris.hosts_with_entry(merged) == merged
    mine = "127.0.0.2 000000000000.dkr.ecr.us-east-1.localhost\n"
    assert uris.hosts_with_entry(mine) == mine  # a line the user wrote wins
    commented = "# 127.0.0.1 000000000000.dkr.ecr.us-east-1.localhost\n"
    assert uris.hosts_with_entry(commented) == commented + line + "\n"


def test_registries_dropin_marks_every_local_spelling_insecure():
    conf = tomllib.loads(uris.registries_dropin(5123))
    assert conf["registry"] == [
        {"location": "127.0.0.1:5123", "insecure": True},
        {"location": "localhost:5123", "insecure": True},
        {"location": "000000000000.dkr.ecr.us-east-1.localhost:5123", "insecure": True},
    ]
    assert str(uris.REGISTRIES_DROPIN).startswith("/etc/containers/registries.conf.d/")
    assert str(uris.HOSTS_PATH) == "/etc/hosts"
