"""The errors every backend raises for the same situations (under conveyor.errors' tree):

    UserError
    ├── DeploymentLimitExceeded     CodeDeploy: a deployment is already in progress for the group
    ├── DeploymentNotReady          CodeDeploy's DeploymentIsNotInReadyStateException
    └── BackendUnavailable          the environment's target has no backend here (e.g. aws without boto3)
    ConveyorError
    └── TransientBackendError       throttled, or failing on the provider's side: worth asking again
"""

from __future__ import annotations

from conveyor.errors import ConveyorError, UserError


class DeploymentLimitExceeded(UserError):
    """CodeDeploy: one deployment at a time per deployment group (aws-semantics §5.8)."""


class DeploymentNotReady(UserError):
    """CodeDeploy's DeploymentIsNotInReadyStateException: continue/promote in the wrong phase."""


class BackendUnavailable(UserError):
    """An environment's `target:` names a backend this daemon does not have."""


class TransientBackendError(ConveyorError):
    """The backend could not answer now (throttling, a 5xx, the network) after its own retries."""
