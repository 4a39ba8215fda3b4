"""The auth file task starts pull with (registry.local.write_pull_auth / pull_authfile): the
registry's credentials under each of its host names, private, and only for its images."""

from __future__ import annotations

import base64
import json
import stat

from conveyor.registry.aliases import EcrAlias
from conveyor.registry.local import LocalRegistry, pull_auth_path, pull_authfile, write_endpoint


def made(tmp_path, port=5123) -> LocalRegistry:
    registry = LocalRegistry(tmp_path / "home", port=port)  # not started: nothing listens
    registry.served_aliases = [EcrAlias("111122223333", "eu-west-3")]
    return registry


def test_the_auth_file_holds_the_login_for_every_spelling_and_is_private(tmp_path):
    registry = made(tmp_path)
    try:
        write_endpoint(registry)
        path = pull_auth_path(registry.home)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        auths = json.loads(path.read_text())["auths"]
        assert sorted(auths) == sorted(["127.0.0.1:5123", "localhost:5123",
                                        "000000000000.dkr.ecr.us-east-1.localhost:5123",
                                        "111122223333.dkr.ecr.eu-west-3.amazonaws.com"])
        expected = base64.b64encode(f"AWS:{registry.token}".encode()).decode()
        assert {a["auth"] for a in auths.values()} == {expected}
        assert not list(path.parent.glob(".pull-auth.json.*"))  # replaced atomically, no leftovers
    finally:
        registry.store.close()


def test_only_images_of_this_registry_get_the_file(tmp_path):
    registry = made(tmp_path)
    try:
        home = registry.home
        assert pull_authfile(home, "127.0.0.1:5123/orders:v1") is None  # not written yet
        write_endpoint(registry)
        path = str(pull_auth_path(home))
        for image in ("127.0.0.1:5123/orders:v1", "localhost:5123/team/orders@sha256:" + "a" * 64,
                      "000000000000.dkr.ecr.us-east-1.localhost:5123/orders:v1",
                      "000000000000.DKR.ECR.us-east-1.localhost:5123/orders:v1",
                      "111122223333.dkr.ecr.eu-west-3.amazonaws.com/orders:v1"):
            assert pull_authfile(home, image) == path, image
        for image in ("127.0.0.1:5000/orders:v1", "docker.io/library/python:3.12", "python:3.12-slim",
                      "localhost/conveyor/busybox:latest", "999999999999.dkr.ecr.eu-west-3.amazonaws.com/x:1"):
            assert pull_authfile(home, image) is None, image  # other registries keep their own logins
    finally:
        registry.store.close()
