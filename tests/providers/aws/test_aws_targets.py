"""The AWS backend is there only for `target: aws`: a local environment makes no AWS call even
when the backend is present, and without boto3 an aws environment is refused with the hint."""

from __future__ import annotations

import builtins

import pytest

from conveyor.backend.errors import BackendUnavailable
from conveyor.backend.fake import FakeBackend
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.aws import AwsBackend
from conveyor.providers.aws.api import make_session
from conveyor.providers.aws.settings import AwsEnvironment
from conveyor.release.service import DeployRequest, ReleaseService
from conveyor.release.store import ReleaseStore

TASKDEF = {"family": "orders", "containerDefinitions": [{"name": "api", "image": "registry/orders:v1"}]}


def test_a_local_environment_makes_no_aws_call_when_the_aws_backend_is_there(stubbed):
    aws = AwsBackend(lambda name: None, apis=stubbed.apis)
    local = FakeBackend(auto_complete=True)
    releases = ReleaseService({"local": local.backend, "aws": aws.backend}, ReleaseStore(":memory:"),
                              poll_seconds=0.001)
    spec = ServiceSpec.from_config("staging", "orders", {"desiredCount": 1})
    r = releases.deploy(DeployRequest("staging", "orders", spec, taskdef=TASKDEF))
    releases.status("staging", "orders")
    assert r.outcome == "Succeeded"
    assert stubbed.apis.log.calls == []


def test_without_boto3_an_aws_environment_is_refused_with_the_install_hint(monkeypatch):
    real_import = builtins.__import__

    def no_boto3(name, *args, **kwargs):
        if name == "boto3" or name.startswith("boto3."):
            raise ImportError("No module named 'boto3'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "boto3" else object())
    with pytest.raises(BackendUnavailable) as refused:
        make_session(AwsEnvironment("production", "eu-west-1"))
    assert "pip install 'conveyor[aws]'" in (refused.value.hint or "")
    releases = ReleaseService({"local": FakeBackend().backend}, ReleaseStore(":memory:"))
    with pytest.raises(BackendUnavailable, match="boto3 is not installed") as refused:
        releases.backend("aws")
    assert "pip install 'conveyor[aws]'" in (refused.value.hint or "")
