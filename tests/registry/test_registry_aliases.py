"""ECR aliases as text (pure): parsing `--ecr-alias`, the /etc/hosts lines, the registries.conf
entries and what builds are told."""

from __future__ import annotations

import tomllib

import pytest

from conveyor.errors import UserError
from conveyor.registry import aliases, uris
from conveyor.registry.aliases import (
    EcrAlias,
    alias_line,
    aliases_in_hosts,
    build_env,
    check_alias_ip,
    foreign_address,
    hosts_with_alias,
    hosts_without_alias,
    parse_alias,
)

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
LOCAL = "127.0.0.1\t000000000000.dkr.ecr.us-east-1.localhost\t# conveyor local registry\n"
HOSTS = "127.0.0.1 localhost\n" + LOCAL + "10.1.2.3 build-cache\n"
LINE = f"127.0.0.2\t{HOST}\t# conveyor local registry: ecr alias"


@pytest.mark.parametrize("text", [HOST, "123456789012:eu-west-1", f"  {HOST.upper()} ",
                                  "123456789012:EU-WEST-1"])
def test_parse_the_host_or_the_shorthand(text):
    alias = parse_alias(text)
    assert alias == EcrAlias("123456789012", "eu-west-1", "127.0.0.2")
    assert (alias.host, alias.address) == (HOST, "127.0.0.2:80")


@pytest.mark.parametrize("region", ["us-gov-west-1", "ap-southeast-2", "il-central-1",
                                    "us-isob-east-1"])
def test_every_kind_of_region_name(region):
    assert parse_alias(f"123456789012:{region}").region == region


HINT = ("for example --ecr-alias 123456789012.dkr.ecr.eu-west-1.amazonaws.com, or --ecr-alias "
        "123456789012:eu-west-1")
NOT_ECR = "is not an ECR registry host: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com (no port) or ACCOUNT:REGION"


@pytest.mark.parametrize("text, message", [
    ("foo.amazonaws.com", f"ECR alias 'foo.amazonaws.com' {NOT_ECR}"),
    (f"{HOST}:443", f"ECR alias '{HOST}:443' {NOT_ECR}"),
    ("000000000000.dkr.ecr.us-east-1.localhost", (
        f"ECR alias '000000000000.dkr.ecr.us-east-1.localhost' {NOT_ECR}")),
    ("", f"ECR alias '' {NOT_ECR}"),
    (f"https://{HOST}", f"ECR alias 'https://{HOST}' is a URL or names a repository; give the "
                        f"registry host alone"),
    (f"{HOST}/orders", f"ECR alias '{HOST}/orders' is a URL or names a repository; give the "
                       f"registry host alone"),
    ("1234.dkr.ecr.eu-west-1.amazonaws.com", (
        "ECR alias '1234.dkr.ecr.eu-west-1.amazonaws.com': the account id '1234' is not 12 digits")),
    ("123456789012:europe", (
        "ECR alias '123456789012:europe': 'europe' is not an AWS region name (like eu-west-1)")),
])
def test_bad_aliases_say_what_is_wrong(text, message):
    with pytest.raises(UserError) as err:
        parse_alias(text)
    assert (str(err.value), err.value.hint) == (message, HINT)
    assert err.value.exit_code == 2


def test_alias_addresses_are_loopback_but_not_127_0_0_1():
    assert check_alias_ip(" 127.0.0.9 ") == "127.0.0.9"
    for bad in ("127.0.0.1", "10.0.0.2", "::1", "localhost"):
        with pytest.raises(UserError) as err:
            check_alias_ip(bad, "CONVEYOR_ECR_ALIAS_IP")
        assert str(err.value) == (f"CONVEYOR_ECR_ALIAS_IP '{bad}' is not a loopback address "
                                  f"other than 127.0.0.1")
        assert err.value.hint == "use one of 127.0.0.2 to 127.255.255.254 (default 127.0.0.2)"


# --- /etc/hosts -----------------------------------------------------------------------------

def test_the_alias_line_joins_the_conveyor_block():
    alias = parse_alias(HOST)
    assert alias_line(alias) == LINE
    text = hosts_with_alias(HOSTS, alias)
    assert text == "127.0.0.1 localhost\n" + LOCAL + LINE + "\n10.1.2.3 build-cache\n"
    assert hosts_with_alias(text, alias) == text  # idempotent
    assert aliases_in_hosts(text) == [alias]
    assert hosts_without_alias(text, HOST) == HOSTS  # removable, leaving the rest as it was


def test_without_a_conveyor_block_the_line_goes_at_the_end():
    alias = parse_alias(HOST)
    assert hosts_with_alias("", alias) == LINE + "\n"
    assert hosts_with_alias("127.0.0.1 localhost", alias) == f"127.0.0.1 localhost\n{LINE}\n"


def test_a_new_address_replaces_the_old_line_and_aliases_keep_their_order():
    first, second = parse_alias(HOST), parse_alias("111122223333:eu-west-3")
    text = hosts_with_alias(hosts_with_alias(HOSTS, first), second)
    assert aliases_in_hosts(text) == [first, second]
    moved = hosts_with_alias(text, EcrAlias(first.account, first.region, "127.0.0.3"))
    assert aliases_in_hosts(moved) == [second, EcrAlias(first.account, first.region, "127.0.0.3")]
    assert moved.count(HOST) == 1


def test_lines_by_hand_are_not_aliases_and_are_never_removed():
    mine = f"10.0.0.5 {HOST} # my mirror\n127.0.0.1 {HOST}\n"
    broken = f"127.0.0.1 {HOST} # conveyor local registry: ecr alias\n"  # not a valid alias ip
    text = mine + broken
    assert aliases_in_hosts(text) == []
    assert foreign_address(text, HOST) == "10.0.0.5"
    assert foreign_address(hosts_with_alias(HOSTS, parse_alias(HOST)), HOST) is None
    assert hosts_without_alias(mine, HOST) == mine


# --- registries.conf and builds ---------------------------------------------------------------

def test_the_dropin_marks_each_alias_insecure_and_without_aliases_is_unchanged():
    assert uris.registries_dropin(5000, alias_hosts=[]) == uris.registries_dropin(5000)
    assert uris.registries_dropin(5000).startswith(
        "# Conveyor's local registry (ECR stand-in) speaks plain HTTP on 127.0.0.1 only.\n")
    text = uris.registries_dropin(5000, alias_hosts=[HOST])
    assert text == uris.registries_dropin(5000).replace("on 127.0.0.1 only", "on loopback addresses only") + (
        "\n# ECR alias (conveyor setup --ecr-alias): /etc/hosts sends it to this machine\n"
        f'[[registry]]\nlocation = "{HOST}"\ninsecure = true\n')
    registries = tomllib.loads(text)["registry"]
    assert registries[-1] == {"location": HOST, "insecure": True}
    assert len(registries) == 4


def test_builds_get_the_first_alias_as_account_and_region_and_every_login_mapping():
    first, second = EcrAlias("111122223333", "eu-west-3"), parse_alias(HOST)
    local = "000000000000.dkr.ecr.us-east-1.localhost:5000"
    assert build_env([first, second], local) == {
        "CONVEYOR_REGISTRY_ALIAS": (f"111122223333.dkr.ecr.eu-west-3.amazonaws.com={local},"
                                    f"{HOST}={local}"),
        "AWS_ACCOUNT_ID": "111122223333", "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_REGION": "eu-west-3"}
    assert build_env([], local) == {}
    assert aliases.ALIAS_ENV == "CONVEYOR_REGISTRY_ALIAS"


def test_the_docker_wrapper_reads_the_login_mapping():
    from conveyor.stack.docker_wrapper import login

    env = build_env([parse_alias(HOST)], "000000000000.dkr.ecr.us-east-1.localhost:5123")
    assert login.ALIAS_ENV == aliases.ALIAS_ENV
    assert login.login_hosts(HOST, env) == [HOST, "000000000000.dkr.ecr.us-east-1.localhost:5123"]


def test_json_round_trip():
    alias = EcrAlias("111122223333", "eu-west-3", "127.0.0.9")
    assert alias.to_json() == {"host": "111122223333.dkr.ecr.eu-west-3.amazonaws.com",
                               "account": "111122223333", "region": "eu-west-3", "ip": "127.0.0.9"}
    assert EcrAlias.from_json(alias.to_json()) == alias
