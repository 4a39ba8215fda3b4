"""ECR aliases: the opt-in that makes one *real* ECR host name reach this machine's registry, so
a buildspec that hard-codes `$AWS_ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com` runs
unchanged. Pure: `conveyor setup --ecr-alias` writes the texts these functions return.

    >>> alias = parse_alias("123456789012:eu-west-1")
    >>> alias.host
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com'
    >>> alias_line(alias)
    '127.0.0.2\\t123456789012.dkr.ecr.eu-west-1.amazonaws.com\\t# conveyor local registry: ecr alias'

How one name gets here (podman 4.3, checked on Debian 12):
- /etc/hosts maps it to a loopback address of its own (DEFAULT_ALIAS_IP, not 127.0.0.1, so
  nothing else listening on 127.0.0.1:80 answers for it). That line is the alias's only record:
  setup adds and removes it, the daemon and doctor read it.
- registries.conf marks it `insecure`: podman then falls back from HTTPS to plain HTTP on port 80
  of the address the name resolves to. (Its `prefix`/`location` rewrite is not honoured for
  pushes, hence the name resolution instead.)
- the daemon's registry proxy also listens on ALIAS_IP:ALIAS_PORT, with the same auth and tag
  immutability as on 127.0.0.1, and builds get the alias as their account and region
  (`build_env`).
The price: this machine can no longer reach that real ECR registry. Without an alias nothing
about *.amazonaws.com changes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conveyor.errors import UserError
from conveyor.registry import uris

#: The loopback address alias names resolve to; any of 127.0.0.0/8 is this machine.
DEFAULT_ALIAS_IP = "127.0.0.2"
#: podman's plain-HTTP fallback for a registry named without a port goes to port 80.
ALIAS_PORT = 80
#: Ends every alias line in /etc/hosts: the conveyor marker, so the lines form one block.
ALIAS_MARKER = f"{uris.HOSTS_MARKER}: ecr alias"
_MARK, _ALIAS_MARK = (m.removeprefix("#").strip() for m in (uris.HOSTS_MARKER, ALIAS_MARKER))
#: The docker wrapper's variable (stack/docker_wrapper): `docker login REAL` stores credentials.
ALIAS_ENV = "CONVEYOR_REGISTRY_ALIAS"

EXAMPLE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
_HOST = re.compile(r"(?P<account>[^.:/]+)\.dkr\.ecr\.(?P<region>[^.:/]+)\.amazonaws\.com")
_SHORT = re.compile(r"(?P<account>[^.:/]+):(?P<region>[^.:/]+)")
_ACCOUNT = re.compile(r"\d{12}")
#: AWS region names: us-east-1, ap-southeast-2, us-gov-west-1, us-isob-east-1, …
_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")


@dataclass(frozen=True)
class EcrAlias:
    """One real ECR registry host answered by the local registry on `ip`."""

    account: str
    region: str
    ip: str = DEFAULT_ALIAS_IP

    @property
    def host(self) -> str:
        return uris.ecr_host(self.account, self.region)

    @property
    def address(self) -> str:
        return f"{self.ip}:{ALIAS_PORT}"

    def to_json(self) -> dict[str, str]:
        """As the daemon's registry.json lists the aliases it answers for."""
        return {"host": self.host, "account": self.account, "region": self.region,
                "ip": self.ip}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> EcrAlias:
        return cls(data["account"], data["region"], data["ip"])


def parse_alias(text: str, ip: str = DEFAULT_ALIAS_IP) -> EcrAlias:
    """`ACCOUNT.dkr.ecr.REGION.amazonaws.com` or the shorthand `ACCOUNT:REGION`; a UserError
    saying what is wrong otherwise.

    >>> parse_alias("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    EcrAlias(account='123456789012', region='eu-west-1', ip='127.0.0.2')
    """
    value = text.strip().lower()
    hint = f"for example --ecr-alias {EXAMPLE}, or --ecr-alias 123456789012:eu-west-1"
    if "/" in value:
        raise UserError(f"ECR alias '{text}' is a URL or names a repository; give the registry "
                        f"host alone", hint=hint)
    match = _HOST.fullmatch(value) or (None if "." in value else _SHORT.fullmatch(value))
    if match is None:
        raise UserError(f"ECR alias '{text}' is not an ECR registry host: expected "
                        f"ACCOUNT.dkr.ecr.REGION.amazonaws.com (no port) or ACCOUNT:REGION",
                        hint=hint)
    account, region = match["account"], match["region"]
    if not _ACCOUNT.fullmatch(account):
        raise UserError(f"ECR alias '{text}': the account id '{account}' is not 12 digits",
                        hint=hint)
    if not _REGION.fullmatch(region):
        raise UserError(f"ECR alias '{text}': '{region}' is not an AWS region name "
                        f"(like eu-west-1)", hint=hint)
    return EcrAlias(account, region, ip)


def check_alias_ip(ip: str, source: str = "the alias address") -> str:
    """A loopback IPv4 address other than 127.0.0.1 (where anything on port 80 would answer
    for the alias), or a UserError naming `source`."""
    try:
        address = ipaddress.IPv4Address(ip.strip())
    except ValueError:
        address = None
    if address is None or not address.is_loopback or str(address) == uris.LOCAL_IP:
        raise UserError(f"{source} '{ip}' is not a loopback address other than {uris.LOCAL_IP}",
                        hint=f"use one of 127.0.0.2 to 127.255.255.254 (default "
                             f"{DEFAULT_ALIAS_IP})")
    return str(address)


# --- /etc/hosts -----------------------------------------------------------------------------

def alias_line(alias: EcrAlias) -> str:
    return f"{alias.ip}\t{alias.host}\t{ALIAS_MARKER}"


def _fields(line: str) -> tuple[list[str], str]:
    body, _, comment = line.partition("#")
    return body.split(), comment.strip()


def _is_alias_line(line: str, host: str | None = None) -> bool:
    fields, comment = _fields(line)
    return (comment == _ALIAS_MARK and len(fields) == 2
            and (host is None or fields[1] == host))


def aliases_in_hosts(text: str) -> list[EcrAlias]:
    """The aliases setup wrote into /etc/hosts `text`, in file order (lines by hand that name
    an ECR host are not aliases: Conveyor does not listen for them)."""
    found = []
    for line in text.splitlines():
        if _is_alias_line(line):
            ip, host = _fields(line)[0]
            try:
                found.append(parse_alias(host, check_alias_ip(ip)))
            except UserError:
                continue  # edited by hand into something that is not an alias
    return found


def foreign_address(text: str, host: str) -> str | None:
    """The address a line Conveyor did not write maps `host` to, or None."""
    for line in text.splitlines():
        fields, _ = _fields(line)
        if host in fields[1:] and not _is_alias_line(line):
            return fields[0]
    return None


def hosts_without_alias(text: str, host: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if not _is_alias_line(line, host))


def hosts_with_alias(text: str, alias: EcrAlias) -> str:
    """`text` mapping alias.host to alias.ip through one alias line, placed after the last
    conveyor-marked line (the local registry's block) or else at the end."""
    lines = hosts_without_alias(text, alias.host).splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    marked = [i for i, line in enumerate(lines) if _fields(line)[1].startswith(_MARK)]
    at = marked[-1] + 1 if marked else len(lines)
    return "".join([*lines[:at], alias_line(alias) + "\n", *lines[at:]])


# --- what builds get ------------------------------------------------------------------------

def build_env(served: Sequence[EcrAlias], local_host: str) -> dict[str, str]:
    """The variables a build gets when the registry answers for `served` aliases: the docker
    wrapper's login mapping for all of them, and the first one's account and region (what
    `aws sts get-caller-identity` and the hard-coded host spell).

    >>> build_env([EcrAlias("111122223333", "eu-west-3")], "local:5000")["AWS_ACCOUNT_ID"]
    '111122223333'
    """
    if not served:
        return {}
    first = served[0]
    return {ALIAS_ENV: ",".join(f"{alias.host}={local_host}" for alias in served),
            "AWS_ACCOUNT_ID": first.account,
            "AWS_DEFAULT_REGION": first.region, "AWS_REGION": first.region}


def alias_hosts(aliases: Iterable[EcrAlias]) -> list[str]:
    return [alias.host for alias in aliases]
