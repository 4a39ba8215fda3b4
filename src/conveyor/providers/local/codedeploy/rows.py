"""A CodeDeploy deployment as the store returns it, and who can create one. Apart from the store
so that what reads rows without writing them (conveyor.providers.local.codedeploy.events) does
not import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from conveyor.providers.local.codedeploy.states import TERMINAL

#: Creators (DeploymentInfo.creator).
USER, PIPELINE, ROLLBACK = "user", "CodePipeline", "codeDeployRollback"


@dataclass
class CodeDeployment:
    id: str
    seq: int
    environment: str
    service: str
    taskdef: str
    appspec: str
    grp: dict
    status: str
    phase: str
    creator: str
    origin: dict = field(default_factory=dict)
    original_task_set: str | None = None
    replacement_task_set: str | None = None
    original_tg: str | None = None
    replacement_tg: str | None = None
    traffic: int = 0  # percent of production traffic on the replacement
    step: int = -1  # index in the traffic plan
    step_at: float | None = None
    phase_at: float | None = None
    waiting: str = ""
    error_code: str | None = None
    error_message: str | None = None
    rollback_info: dict = field(default_factory=dict)
    stop_request: dict | None = None
    continue_request: dict | None = None
    workdir: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    timings: dict = field(default_factory=dict)
    #: The caller's idempotency key: creating again with it returns this deployment.
    client_token: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.pop("appspec")
        out["group"] = out.pop("grp")
        out["rollbackInfo"] = out.pop("rollback_info")  # CodeDeploy's DeploymentInfo.rollbackInfo
        return out


JSON_COLUMNS = ("grp", "origin", "rollback_info", "stop_request", "continue_request", "timings")
