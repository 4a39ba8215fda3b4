"""Conveyor events as CDEvents in a CloudEvents 1.0 JSON envelope (structured content mode), the
webhook target's `format: cdevents`, for tools that consume CDEvents (dashboards, DORA metrics).

    envelope(message, source="conveyor://build-host")   # dict, sent as application/cloudevents+json

CDEvents spec v0.4.1 vocabulary (event type versions of that release):

    pipeline-execution-started                 dev.cdevents.pipelinerun.started.0.2.0
    pipeline-execution-succeeded|failed|
      canceled|superseded                      dev.cdevents.pipelinerun.finished.0.2.0  (outcome)
    action-execution-started                   dev.cdevents.taskrun.started.0.2.0
    action-execution-succeeded|failed|canceled dev.cdevents.taskrun.finished.0.2.0      (outcome)
    deployment-succeeded                       dev.cdevents.service.deployed.0.2.0
    deployment-rolled-back                     dev.cdevents.service.rolledback.0.2.0
    anything else                              dev.conveyor.<type>   (data: the Conveyor event)

CDEvents' outcome has three values, success, failure and error; a canceled or superseded run is a
`failure` whose `errors` says why. A stage has no CDEvents counterpart (a taskRun is our action),
so stage events travel as dev.conveyor.* like the deployment's intermediate steps.

Envelope: `id` is the delivery id (stable across retries: a consumer deduplicates on it), `source`
names this Conveyor installation, `time` is the event's time (RFC 3339), `subject` the pipeline or
service. For a mapped type `data` is the CDEvent (context, subject, customData = the Conveyor
event); otherwise `data` is the Conveyor event itself.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from conveyor.notify.target import Message, event_payload

CDEVENTS_VERSION = "0.4.1"
CLOUDEVENTS_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"

_PIPELINE_FINISHED = {"pipeline-execution-succeeded": "success", "pipeline-execution-failed": "failure",
                      "pipeline-execution-canceled": "failure", "pipeline-execution-superseded": "failure"}
_ACTION_FINISHED = {"action-execution-succeeded": "success", "action-execution-failed": "failure",
                    "action-execution-canceled": "failure"}
_WHY_NOT_SUCCESS = {"pipeline-execution-canceled": "canceled", "pipeline-execution-superseded": "superseded",
                    "action-execution-canceled": "canceled"}


def cloudevent_type(event_type: str) -> str:
    """The CloudEvents `type` a Conveyor event type is sent as."""
    if event_type == "pipeline-execution-started":
        return "dev.cdevents.pipelinerun.started.0.2.0"
    if event_type in _PIPELINE_FINISHED:
        return "dev.cdevents.pipelinerun.finished.0.2.0"
    if event_type == "action-execution-started":
        return "dev.cdevents.taskrun.started.0.2.0"
    if event_type in _ACTION_FINISHED:
        return "dev.cdevents.taskrun.finished.0.2.0"
    if event_type == "deployment-succeeded":
        return "dev.cdevents.service.deployed.0.2.0"
    if event_type == "deployment-rolled-back":
        return "dev.cdevents.service.rolledback.0.2.0"
    return f"dev.conveyor.{event_type}"


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(message: Message, *, source: str) -> dict[str, Any]:
    event = message.event
    ce_type = cloudevent_type(event.type)
    subject = (event.subject.service or event.subject.pipeline or event.subject.environment
               or event.subject.repository or "")
    out: dict[str, Any] = {"specversion": CLOUDEVENTS_VERSION, "id": message.delivery_id or event.id,
                           "source": source, "type": ce_type, "time": rfc3339(event.at),
                           "datacontenttype": "application/json"}
    if subject:
        out["subject"] = subject
    payload = event_payload(message)
    out["data"] = _cdevent(message, ce_type, source, payload) if ce_type.startswith("dev.cdevents.") else payload
    return out


def _cdevent(message: Message, ce_type: str, source: str, payload: dict[str, Any]) -> dict[str, Any]:
    event, s = message.event, message.event.subject
    run_id = f"{s.pipeline}/{s.execution_id}" if s.execution_id else str(s.pipeline)
    url = message.links.get("dashboard")
    content: dict[str, Any]
    if ".pipelinerun." in ce_type:
        subject_type, subject_id = "pipelineRun", run_id
        content = {"pipelineName": s.pipeline or ""}
        _outcome(content, _PIPELINE_FINISHED.get(event.type), event.type, event.summary)
    elif ".taskrun." in ce_type:
        subject_type, subject_id = "taskRun", f"{run_id}/{s.stage}/{s.action}"
        content = {"taskName": f"{s.stage}/{s.action}", "pipelineRun": {"id": run_id, "source": source}}
        _outcome(content, _ACTION_FINISHED.get(event.type), event.type, event.summary)
    else:
        subject_type, subject_id = "service", f"{s.environment}/{s.service}"
        content = {"environment": {"id": str(s.environment), "source": source}}
        artifact = _artifact(event.detail)
        if artifact:
            content["artifactId"] = artifact
    if url:
        content["url"] = url
    return {"context": {"version": CDEVENTS_VERSION, "id": message.delivery_id or event.id, "source": source,
                        "type": ce_type, "timestamp": rfc3339(event.at)},
            "subject": {"id": subject_id, "source": source, "type": subject_type, "content": content},
            "customDataContentType": "application/json", "customData": payload}


def _outcome(content: dict[str, Any], outcome: str | None, event_type: str, summary: str) -> None:
    if outcome is None:
        return
    content["outcome"] = outcome
    if outcome != "success":
        why = _WHY_NOT_SUCCESS.get(event_type)
        content["errors"] = f"{why}: {summary}" if why and summary else (why or summary or "failed")


def _artifact(detail: Any) -> str | None:
    """The image the deployment put in place, as a package URL if the detail names one."""
    image = detail.get("image") if hasattr(detail, "get") else None
    if not isinstance(image, str) or not image:
        return None
    name, _, digest = image.partition("@")
    repo = name.rsplit("/", 1)[-1].split(":")[0]
    return f"pkg:oci/{repo}@{digest.replace(':', '%3A')}" if digest else f"pkg:oci/{repo}"
