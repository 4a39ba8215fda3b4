"""The Host allow-list against DNS rebinding: loopback names and the bind address pass, a page's
own name does not, malformed headers never pass."""

from __future__ import annotations

import pytest

from conveyor.hostcheck import allowed_hosts, host_allowed, host_name

LOCAL = allowed_hosts("127.0.0.1")


@pytest.mark.parametrize("header", [
    "localhost", "localhost:7878", "LOCALHOST:7878", "127.0.0.1:7878", "127.9.9.9", "[::1]:7878", "[::1]",
    "000000000000.dkr.ecr.us-east-1.localhost:5000", "localhost.:7878", None,
])
def test_loopback_names_are_allowed(header):
    assert host_allowed(header, LOCAL)


@pytest.mark.parametrize("header", [
    "evil.example", "evil.example:7878", "localhost.evil.example", "127.0.0.1.nip.io:7878", "10.0.0.5:7878",
    "", " ", "localhost:0", "localhost:99999", "localhost:port", "user@localhost", "localhost/x", "[::1",
    "[::1]x", "a b", "::1:7878",
])
def test_other_names_and_malformed_headers_are_refused(header):
    assert not host_allowed(header, LOCAL)


def test_a_server_bound_elsewhere_answers_its_address_and_the_names_it_was_given():
    allowed = allowed_hosts("10.0.0.5", extra=["ci.example.internal", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"])
    assert host_allowed("10.0.0.5:7878", allowed)
    assert host_allowed("CI.example.internal", allowed)
    assert host_allowed("123456789012.dkr.ecr.eu-west-1.amazonaws.com", allowed)
    assert not host_allowed("10.0.0.6:7878", allowed)
    assert "localhost:7878" in allowed and "evil.example" not in allowed


def test_the_wildcard_address_is_not_a_name():
    assert not host_allowed("0.0.0.0:7878", allowed_hosts("0.0.0.0"))


def test_host_name_parses_ports_and_brackets():
    assert host_name("Example.COM.:443") == "example.com"
    assert host_name("[2001:db8::1]:80") == "2001:db8::1"
    assert host_name("2001:db8::1") is None  # an IPv6 literal needs brackets in Host
