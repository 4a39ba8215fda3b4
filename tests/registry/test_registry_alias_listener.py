"""The registry answering for an ECR alias on the alias's own loopback address, against the real
distribution registry: the same auth and tag immutability as on 127.0.0.1, registry.json listing
only the aliases it answers for, and what builds are told from it."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import socket

import pytest
from stack_support import needs
from test_registry_proxy import IMMUTABLE_V1, Client, tags_of

from conveyor.actions.codebuild import split_region
from conveyor.registry.aliases import EcrAlias
from conveyor.registry.local import LocalRegistry, endpoint_aliases, read_endpoint, registry_env, write_endpoint
from conveyor.stack import checks

pytestmark = needs(shutil.which("docker-registry") is None, "docker-registry is not installed")

HOST = "111122223333.dkr.ecr.eu-west-3.amazonaws.com"


def free_loopback() -> tuple[str, int]:
    """A 127.0.0.N other than 127.0.0.1, and a free port on it (port 80 needs root)."""
    for n in random.sample(range(10, 250), 20):
        with socket.socket() as s:
            try:
                s.bind((f"127.0.0.{n}", 0))
            except OSError:
                continue
            return s.getsockname()
    raise AssertionError("no free loopback address")


@pytest.fixture
def aliased(tmp_path):
    ip, port = free_loopback()
    registry = LocalRegistry(tmp_path / "home", port=0, aliases=[EcrAlias("111122223333", "eu-west-3", ip)],
                             alias_port=port)
    registry.start()
    yield registry, f"{ip}:{port}"
    registry.stop()


def alias_client(registry: LocalRegistry, address: str, **kwargs) -> Client:
    client = Client(registry, **kwargs)
    client.address = address
    return client


def test_the_alias_address_asks_for_the_same_login(aliased):
    registry, address = aliased
    status, headers, _ = alias_client(registry, address)("GET", "/v2/", auth=False)
    assert (status, headers["www-authenticate"]) == (401, 'Basic realm="conveyor-registry"')
    assert alias_client(registry, address, password="wrong")("GET", "/v2/")[0] == 401
    assert alias_client(registry, address)("GET", "/v2/", headers={"Host": HOST})[0] == 200
    assert checks.answering(address) == "conveyor"  # what doctor sees there


def test_an_immutable_tag_holds_through_the_alias(aliased):
    registry, address = aliased
    client = alias_client(registry, address)
    first = client.image("orders", b"layer-1")
    assert client.put("orders", "v1", first)[0] == 201
    registry.store.declare("orders", "IMMUTABLE")
    status, _, body = client.put("orders", "v1", client.image("orders", b"layer-2"))
    assert status == 400
    [error] = json.loads(body)["errors"]
    assert (error["code"], error["message"]) == ("TAG_INVALID", IMMUTABLE_V1)
    # one registry behind both addresses: the tag did not move, and 127.0.0.1 sees it
    assert tags_of(registry, "orders") == {"v1": "sha256:" + hashlib.sha256(first).hexdigest()}
    assert json.loads(Client(registry)("GET", "/v2/orders/tags/list")[2])["tags"] == ["v1"]


def test_registry_json_lists_the_alias_and_builds_get_its_account_and_region(aliased):
    registry, _ = aliased
    write_endpoint(registry)
    endpoint = read_endpoint(registry.home)
    assert endpoint_aliases(endpoint) == registry.served_aliases == registry.aliases
    env = registry_env(registry.home)
    local = f"000000000000.dkr.ecr.us-east-1.localhost:{registry.port}"
    assert {k: env[k] for k in ("CONVEYOR_REGISTRY_ALIAS", "AWS_ACCOUNT_ID", "AWS_DEFAULT_REGION", "AWS_REGION")} == {
        "CONVEYOR_REGISTRY_ALIAS": f"{HOST}={local}", "AWS_ACCOUNT_ID": "111122223333",
        "AWS_DEFAULT_REGION": "eu-west-3", "AWS_REGION": "eu-west-3"}
    rest, region = split_region(env)
    assert region == "eu-west-3" and "AWS_REGION" not in rest and "AWS_DEFAULT_REGION" not in rest


def test_without_aliases_builds_keep_the_local_account_and_no_region(tmp_path):
    registry = LocalRegistry(tmp_path / "home", port=0)
    registry.start()
    try:
        write_endpoint(registry)
        env = registry_env(registry.home)
        assert env["AWS_ACCOUNT_ID"] == "000000000000"
        assert not {"CONVEYOR_REGISTRY_ALIAS", "AWS_DEFAULT_REGION", "AWS_REGION"} & set(env)
        assert split_region(env) == (env, None)
        assert read_endpoint(registry.home)["aliases"] == []
    finally:
        registry.stop()


def test_an_address_it_cannot_bind_is_logged_with_the_fix_and_left_out(tmp_path, caplog):
    ip, port = free_loopback()
    with socket.socket() as taken:
        taken.bind((ip, port))
        taken.listen()
        registry = LocalRegistry(tmp_path / "home", port=0, aliases=[EcrAlias("111122223333", "eu-west-3", ip)],
                                 alias_port=port)
        with caplog.at_level(logging.WARNING, logger="conveyor.registry"):
            registry.start()
        try:
            assert registry.served_aliases == []
            assert Client(registry)("GET", "/v2/")[0] == 200  # the registry itself runs
            write_endpoint(registry)
            assert "CONVEYOR_REGISTRY_ALIAS" not in registry_env(registry.home)
        finally:
            registry.stop()
    [record] = [r for r in caplog.records if "ECR alias" in r.getMessage()]
    assert record.getMessage().startswith(f"ECR alias {HOST} is not answered: cannot listen on {ip}:{port} (")
    assert record.getMessage().endswith(
        f"fix: stop what listens on {ip}:{port}, or move the alias to another address: "
        f"CONVEYOR_ECR_ALIAS_IP=127.0.0.3 conveyor setup --ecr-alias HOST; then restart the daemon")
