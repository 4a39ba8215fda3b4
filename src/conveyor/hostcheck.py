"""Which Host headers Conveyor's local servers (the API and the registry proxy) answer: the
defence against DNS rebinding, where a web page the user visits resolves its own name to
127.0.0.1 and so reaches a loopback server from the browser. Such a request carries the page's
name in Host; a name this machine did not agree to is refused (HTTP 421 or 403).

    allowed = allowed_hosts("127.0.0.1", extra=["ci.example.internal"])
    host_allowed("localhost:7878", allowed)     # True
    host_allowed("evil.example:7878", allowed)  # False

Loopback names are always allowed: localhost and every name under .localhost (RFC 6761: the
registry's ECR-style hosts such as 000000000000.dkr.ecr.us-east-1.localhost), 127.0.0.0/8 and
::1. A server bound to another address also answers that address, and the names it is given
(`--allow-host`, the registry's ECR alias). A request without Host (HTTP/1.0 tools) is allowed:
browsers always send one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AllowedHosts:
    names: frozenset[str]

    def __contains__(self, header: object) -> bool:
        return isinstance(header, str) and host_allowed(header, self)


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> AllowedHosts:
    """The names a server bound to `bind` answers, beyond the loopback ones."""
    names = {_normal(bind)} | {_normal(name) for name in extra if name}
    return AllowedHosts(frozenset(n for n in names if n and n not in ("0.0.0.0", "::")))


def host_allowed(header: str | None, allowed: AllowedHosts) -> bool:
    if header is None:
        return True
    name = host_name(header)
    if name is None:
        return False
    return _loopback(name) or name in allowed.names


def host_name(header: str) -> str | None:
    """The name of a Host header ('name', 'name:port', '[v6]:port'), lowercased without a
    trailing dot; None when it is not a well-formed host."""
    value = header.strip()
    if not value or any(c.isspace() or c in "/@?#\\" for c in value):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1:] and not _port(value[end + 1:])):
            return None
        return _normal(value[1:end])
    if value.count(":") > 1:
        return None  # an IPv6 literal needs its brackets
    name, sep, port = value.partition(":")
    if sep and not _port(":" + port):
        return None
    return _normal(name) or None


def _port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and 0 < int(text[1:]) < 65536


def _normal(name: str) -> str:
    return name.strip().strip("[]").rstrip(".").lower()


def _loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
