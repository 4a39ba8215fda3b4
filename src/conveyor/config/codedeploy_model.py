"""A deployment group as data: what conveyor.yml's `deployment:` block of a CODE_DEPLOY service
says, with CodeDeploy's defaults filled in (aws-semantics §5.5, §5.6, §8). Pure: no I/O.

Every duration is in seconds here; conveyor.yml states them in minutes (as AWS does) or with a
unit ("30s", "2m") so that local tests stay short. conveyor.config.codedeploy_group builds these from
the raw mapping; conveyor.config.environments validates the same keys with positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.metrics.vocabulary import AlarmSpec

#: Lifecycle events of an ECS deployment, in order (aws-semantics §5.3). The hookable ones are
#: the five an AppSpec may name.
LIFECYCLE_EVENTS = ("BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
                    "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
HOOK_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")

#: autoRollbackConfiguration.events
DEPLOYMENT_FAILURE = "DEPLOYMENT_FAILURE"
DEPLOYMENT_STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
DEPLOYMENT_STOP_ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"
ROLLBACK_EVENTS = (DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM, DEPLOYMENT_STOP_ON_REQUEST)

CONTINUE_DEPLOYMENT, STOP_DEPLOYMENT = "CONTINUE_DEPLOYMENT", "STOP_DEPLOYMENT"
TERMINATE, KEEP_ALIVE = "TERMINATE", "KEEP_ALIVE"

#: CodeDeploy: a hook has 1 hour to report (aws-semantics §5.4).
DEFAULT_HOOK_TIMEOUT = 3600.0
#: CodeDeploy console default for terminationWaitTimeInMinutes is 1 h; the API default is 0.
#: Conveyor keeps blue warm for 5 minutes unless told otherwise, so `conveyor rollback` is instant
#: right after a release.
DEFAULT_TERMINATION_WAIT = 300.0
DEFAULT_READY_WAIT = 0.0



@dataclass(frozen=True)
class TrafficStep:
    """Move production traffic so that `percent` goes to green, then wait `wait` seconds."""

    percent: float
    wait: float = 0.0


@dataclass(frozen=True)
class DeploymentConfig:
    """A CodeDeploy deployment configuration (or an ECS-native strategy, same engine).

    type: AllAtOnce | TimeBasedCanary | TimeBasedLinear; percentage/interval as in
    trafficRoutingConfig (interval in seconds). `bake` is the ECS-native bakeTimeInMinutes (s):
    when set it replaces the group's termination wait."""

    name: str
    type: str = "AllAtOnce"
    percentage: float = 100.0
    interval: float = 0.0
    bake: float | None = None


@dataclass(frozen=True)
class HookSpec:
    """A local stand-in for the Lambda function an AppSpec hook names: exactly one of
    command (argv list), container (image + optional command argv) or url (HTTP POST)."""

    name: str
    command: tuple[str, ...] = ()
    image: str | None = None
    container_command: tuple[str, ...] = ()
    url: str | None = None
    timeout: float = DEFAULT_HOOK_TIMEOUT
    env: dict = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        return "command" if self.command else "container" if self.image else "http"


@dataclass(frozen=True)
class ProbeSpec:
    """Synthetic traffic to the test listener while green is being judged."""

    path: str = "/"
    rate: float = 5.0  # requests per second


@dataclass(frozen=True)
class DeploymentGroup:
    config: DeploymentConfig = field(default_factory=lambda: DeploymentConfig("CodeDeployDefault.ECSAllAtOnce"))
    appspec: str = "appspec.yaml"
    ready_action: str = CONTINUE_DEPLOYMENT
    ready_wait: float = DEFAULT_READY_WAIT  # seconds; only with STOP_DEPLOYMENT
    termination_action: str = TERMINATE
    termination_wait: float = DEFAULT_TERMINATION_WAIT  # seconds
    alarms: tuple[AlarmSpec, ...] = ()
    alarms_enabled: bool = True
    ignore_poll_alarm_failure: bool = False
    auto_rollback: frozenset[str] = frozenset({DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM})
    hooks: dict[str, HookSpec] = field(default_factory=dict, compare=False)  # function name → hook
    probe: ProbeSpec | None = None
    #: Conveyor's traffic-aware gate: before moving more traffic or finishing, each alarm that
    #: watches green must have seen green requests in its evaluation window.
    require_traffic: bool = True

    def rolls_back_on(self, event: str) -> bool:
        return event in self.auto_rollback
