"""What `conveyor deploy status` (and the API) shows for a blue/green service: the deployment's
status and phase, what it waits for, the traffic split, each lifecycle event with its hook
execution, the human actions (who, when, why), per-phase timings, both task sets and the
alarms."""

from __future__ import annotations

from conveyor.providers.local.codedeploy.store import CodeDeployment
from conveyor.deploy.spec import ServiceSpec


def deployment_json(controller, d: CodeDeployment, *, full: bool = True) -> dict:
    out = {"kind": "codedeploy", **d.to_json(), "deploymentId": d.id}
    if not full:
        return out
    out["lifecycleEvents"] = [{"lifecycleEventName": e["name"], "status": e["status"], "startTime": e["started_at"],
                               "endTime": e["ended_at"], "hook": e["hook"], "executionId": e["execution_id"],
                               "attempts": e["attempts"], "message": e["message"], "logTail": e["log_tail"]}
                              for e in controller.store.events(d.id)]
    history = controller.store.history(d.id)
    out["history"] = history
    out["actions"] = [h for h in history if h["kind"] == "action"]
    tasksets = {}
    for role, ts in (("original", d.original_task_set), ("replacement", d.replacement_task_set)):
        if ts:
            try:
                tasksets[role] = controller.services.task_set_status(ts)
            except Exception:  # a task set row that is gone: show what the deployment knew
                tasksets[role] = {"id": ts}
    out["taskSets"] = tasksets
    return out


def status(controller, environment: str, service: str) -> dict:
    row = controller.services._service_row(environment, service)
    spec = ServiceSpec.from_json(row.spec)
    deployments = controller.store.list(environment, service, limit=10)
    # A deployment proper carries an AppSpec; the rollback deployments that only clean up do not.
    main = next((d for d in deployments if d.appspec), None)
    lb = spec.load_balancer
    out = {"environment": environment, "service": service, "controller": "CODE_DEPLOY",
           "productionUrl": f"http://{lb.bind}:{lb.port}/" if lb else None,
           "testUrl": f"http://{lb.bind}:{lb.test_port}/" if lb and lb.test_port else None,
           "deployment": deployment_json(controller, main) if main else None,
           "rollbacks": [deployment_json(controller, d, full=False) for d in deployments
                         if not d.appspec][:3],
           "recent": [{"id": d.id, "status": d.status, "taskdef": d.taskdef, "creator": d.creator,
                       "createdAt": d.created_at, "errorCode": d.error_code} for d in deployments],
           "alarms": controller.alarms_view(environment, service)}
    if main is None:
        out["waitingFor"] = "no blue/green deployment yet"
    elif main.done:
        out["waitingFor"] = f"nothing: deployment {main.id} {main.status}" + (
            f" ({main.error_code}: {main.error_message})" if main.error_code else "")
    else:
        out["waitingFor"] = f"{main.phase}: {main.waiting}" if main.waiting else main.phase
    return out
