"""Fixtures for the AWS backend, which cannot reach AWS here: moto (in-process, `mock_aws`) for
wiring and read-back, botocore's Stubber for the dynamics moto does not model. Every call the
backend makes is recorded and its parameters are validated against botocore's service model
(the contract test: a request AWS would refuse as malformed fails the test that made it).

    def test_something(moto_aws):                 # AwsApis over moto, environment "production"
        moto_aws.api("production").call("ecs", "CreateCluster", clusterName="conveyor-production")

    def test_dynamics(stubbed):                   # AwsApis whose clients answer from a Stubber
        stub = stubbed("codedeploy")              # activated; add_response / add_client_error
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3  # a test dependency: its absence fails the run rather than skipping these tests
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from conveyor.providers.aws.api import CallLog
from conveyor.providers.aws.apis import AwsApis

REGION = "eu-west-1"
ACCOUNT = "123456789012"
SETTINGS = {"production": {"region": REGION, "cluster": "orders-prod", "codeDeployApplication": "orders"},
            "staging": {"region": REGION}}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_DEFAULT_REGION": REGION}


class ValidatingLog(CallLog):
    """A CallLog that checks each call's parameters against the service model."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: list[str] = []
        self._models: dict[str, Any] = {}

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        super().record(service, operation, params)
        import botocore.session

        if service not in self._models:
            self._models[service] = botocore.session.get_session().get_service_model(service)
        shape = self._models[service].operation_model(operation).input_shape
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            self.invalid.append(f"{service}.{operation}: {report.generate_report()}")


#: bench/aws_calls.py sets this to a file: each test's calls are appended to it as a JSON line.
CALLS_OUT = "CONVEYOR_AWS_CALLS_OUT"


@pytest.fixture
def aws_log(request: pytest.FixtureRequest) -> Iterator[ValidatingLog]:
    log = ValidatingLog()
    yield log
    assert not log.invalid, "requests AWS would refuse as malformed:\n" + "\n".join(log.invalid)
    out = os.environ.get(CALLS_OUT)
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": request.node.nodeid, "calls": [f"{s}:{o}" for s, o, _ in log.calls]}) + "\n")


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


def _session(env: Any) -> Any:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
                         region_name=env.region)


@pytest.fixture
def moto_aws(aws_credentials: None, aws_log: ValidatingLog) -> Iterator[AwsApis]:
    from moto import mock_aws

    with mock_aws():
        yield AwsApis(SETTINGS.get, names=lambda: sorted(SETTINGS), session_factory=_session, log=aws_log)


@pytest.fixture
def stubbed(aws_credentials: None, aws_log: ValidatingLog) -> Iterator[Any]:
    """stubbed(service, environment="production") -> an activated Stubber on that client; the
    AwsApis is stubbed.apis. Every stub must be used up by the end of the test."""
    apis = AwsApis(SETTINGS.get, names=lambda: sorted(SETTINGS), session_factory=_session, log=aws_log)
    stubs: list[Stubber] = []

    def stub(service: str, environment: str = "production") -> Stubber:
        s = Stubber(apis.api(environment).client(service))
        s.activate()
        stubs.append(s)
        return s

    stub.apis = apis  # type: ignore[attr-defined]
    yield stub
    for s in stubs:
        s.assert_no_pending_responses()
        s.deactivate()
