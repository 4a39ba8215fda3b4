"""AWS's errors, translated at the boundary into Conveyor's tree, so a user sees what happened
and what to do — never a botocore traceback.

    ConveyorError
    ├── UserError
    │   ├── NotFound                      …NotFoundException, DeploymentDoesNotExistException, …
    │   ├── DeploymentLimitExceeded       DeploymentLimitExceededException
    │   ├── DeploymentNotReady            DeploymentIsNotInReadyStateException
    │   └── AwsPermissionDenied           AccessDenied…: names the IAM action that is missing
    ├── AwsUnavailable                    throttling and 5xx after botocore's retries: transient
    └── AwsError                          anything else AWS refused, with its code and message
"""

from __future__ import annotations

from typing import Any

from conveyor.backend.errors import (
    BackendUnavailable,
    DeploymentLimitExceeded,
    DeploymentNotReady,
    TransientBackendError,
)
from conveyor.errors import ConveyorError, NotFound, UserError

#: botocore service name → the IAM action prefix.
IAM_PREFIX = {"ecs": "ecs", "codedeploy": "codedeploy", "ecr": "ecr", "elbv2": "elasticloadbalancing",
              "cloudwatch": "cloudwatch", "sts": "sts", "logs": "logs", "iam": "iam"}
THROTTLING = ("Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
              "TooManyRequestsException", "RequestThrottled", "RequestThrottledException", "SlowDown",
              "ProvisionedThroughputExceededException", "RateExceeded")
NOT_FOUND_SUFFIXES = ("NotFoundException", "NotFound", "DoesNotExistException", "DoesNotExist")


class AwsPermissionDenied(UserError):
    def __init__(self, action: str, message: str):
        super().__init__(f"AWS refused {action}: {message}",
                         hint=f"allow {action} to the credentials Conveyor uses (docs/aws.md has the whole policy)")
        self.action = action


class AwsUnavailable(TransientBackendError):
    """Throttled or failing on AWS's side after botocore's retries: worth trying again later."""


class AwsError(ConveyorError):
    def __init__(self, code: str, message: str, action: str):
        super().__init__(f"{action}: {code}: {message}")
        self.code = code


def iam_action(service: str, operation: str) -> str:
    """>>> iam_action("elbv2", "DescribeTargetHealth")
    'elasticloadbalancing:DescribeTargetHealth'
    """
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def translate(exc: Exception, service: str, operation: str) -> ConveyorError:
    """The Conveyor error for what botocore raised on `service.operation`."""
    from botocore.exceptions import (  # boto3 is an optional dependency: imported on use
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
    )

    action = iam_action(service, operation)
    if isinstance(exc, ClientError):
        error: dict[str, Any] = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"):
            return AwsPermissionDenied(action, message or code)
        if code in THROTTLING or status >= 500:
            return AwsUnavailable(f"{action} is throttled or failing on AWS's side ({code or status}: {message}); "
                                  "retrying")
        if code == "DeploymentLimitExceededException":
            return DeploymentLimitExceeded(message or "a deployment is already in progress for this group")
        if code == "DeploymentIsNotInReadyStateException":
            return DeploymentNotReady(message or "the deployment is not waiting")
        if code.endswith(NOT_FOUND_SUFFIXES) or code in ("ServiceNotActiveException", "ClusterNotFoundException"):
            return NotFound(f"{action}: {message or code}")
        if code in ("InvalidParameterException", "ValidationException", "ValidationError", "InvalidParameterValue",
                    "ClientException") or code.startswith("Invalid"):
            return UserError(f"{action}: {message or code}")
        return AwsError(code or str(status), message, action)
    if isinstance(exc, (NoCredentialsError,)):
        return UserError("no AWS credentials found (environment, profile, SSO or instance role)",
                         hint="set AWS_PROFILE or environments.ENV.profile, or run `aws sso login`")
    if isinstance(exc, NoRegionError):
        return UserError("no AWS region", hint="set environments.ENV.region in conveyor.yml")
    if isinstance(exc, EndpointConnectionError):
        return AwsUnavailable(f"{action}: cannot reach AWS ({exc}); retrying")
    if isinstance(exc, ParamValidationError):
        return AwsError("ParamValidation", str(exc), action)  # a Conveyor bug: the request was malformed
    if isinstance(exc, BotoCoreError):
        return AwsUnavailable(f"{action}: {exc}")
    return AwsError(type(exc).__name__, str(exc), action)


def boto3_missing() -> BackendUnavailable:
    return BackendUnavailable("the AWS backend needs boto3, which is not installed",
                              hint="pip install 'conveyor[aws]' (or: pip install boto3)")
