"""Creating or updating a CloudFormation stack the reviewable way: a change set first (what would
be added, modified, replaced or removed), then — once someone said yes — its execution, followed
event by event until the stack is complete or rolled back, with the failing resource's reason.

    stacks = Stacks(api)                                  # an AwsApi for the environment's region
    plan = stacks.plan("conveyor-orders-production", template_text, {"VpcId": "vpc-1"})
    for change in plan.changes: print(change.action, change.logical_id, change.type)
    result = stacks.execute(plan, progress=print)          # or stacks.discard(plan) for --dry-run
    result.ok, result.status, result.reason

Waiting polls DescribeChangeSet / DescribeStacks and DescribeStackEvents every few seconds with a
deadline (not botocore's waiters), so every event shows as it happens.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.providers.aws.api import AwsApi

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
POLL_SECONDS = 3.0
CHANGE_SET_TIMEOUT = 600.0
STACK_TIMEOUT = 3600.0
OK_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
ROLLED_BACK = ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
FAILED = ("CREATE_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED", "UPDATE_ROLLBACK_FAILED",
          "IMPORT_ROLLBACK_FAILED", "DELETE_COMPLETE")
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Change:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    type: str
    replacement: str = ""  # True | False | Conditional (Modify only)
    physical_id: str = ""


@dataclass(frozen=True)
class Plan:
    stack_name: str
    change_set_id: str
    kind: str  # CREATE | UPDATE
    changes: tuple[Change, ...] = ()
    empty: bool = False


@dataclass(frozen=True)
class StackEvent:
    at: float
    logical_id: str
    type: str
    status: str
    reason: str = ""

    def line(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.at))
        return f"{when} {self.status:<28} {self.logical_id} ({self.type})" + (f": {self.reason}" if self.reason else "")


@dataclass
class Result:
    status: str
    ok: bool
    reason: str = ""
    events: list[StackEvent] = field(default_factory=list)


class Stacks:
    def __init__(self, api: AwsApi, *, poll_seconds: float = POLL_SECONDS, clock: Callable[[], float] = time.time,
                 wait: Callable[[float], bool] | None = None):
        self.api = api
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._wait = wait or threading.Event().wait  # tests pass one that returns at once

    # -- the change set
    def stack_status(self, name: str) -> str | None:
        try:
            stacks = self.api.call("cloudformation", "DescribeStacks", StackName=name).get("Stacks") or []
        except (NotFound, UserError) as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def plan(self, name: str, template_body: str, parameters: Mapping[str, str], *,
             tags: Mapping[str, str] | None = None, required: Collection[str] = ()) -> Plan:
        """A change set of the template against the stack (created if new). `required`: the
        template's parameters without a default; each must be given, or kept from the stack."""
        status = self.stack_status(name)
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        if status == "ROLLBACK_COMPLETE":
            raise UserError(f"stack {name} is ROLLBACK_COMPLETE (its creation failed and was rolled back)",
                            hint=f"delete it (aws cloudformation delete-stack --stack-name {name}), then provision "
                                 "again")
        given = dict(parameters)
        previous = self._parameter_names(name) if kind == "UPDATE" else set()
        missing = [k for k in required if k not in given and k not in previous]
        if missing:
            raise UserError(f"stack {name} needs a value for {', '.join(missing)}",
                            hint=" ".join(f"--parameter {k}=..." for k in missing))
        params: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(previous - set(given))]
        try:
            created = self.api.call(
                "cloudformation", "CreateChangeSet", StackName=name, TemplateBody=template_body, Parameters=params,
                Capabilities=CAPABILITIES, ChangeSetType=kind, ChangeSetName=f"conveyor-{uuid.uuid4().hex[:12]}",
                Tags=[{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())])
        except UserError as exc:  # some implementations refuse an empty change set outright
            if any(text in str(exc) for text in NO_CHANGES):
                return Plan(name, "", kind, (), empty=True)
            raise
        change_set = str(created["Id"])
        described = self._await_change_set(change_set)
        if described.get("Status") == "FAILED":
            reason = str(described.get("StatusReason") or "")
            if any(text in reason for text in NO_CHANGES):
                return Plan(name, change_set, kind, (), empty=True)
            raise UserError(f"CloudFormation refused the change set for {name}: {reason}")
        changes = tuple(_change(c["ResourceChange"]) for c in described.get("Changes") or [] if "ResourceChange" in c)
        return Plan(name, change_set, kind, changes)

    def _parameter_names(self, name: str) -> set[str]:
        stacks = self.api.call("cloudformation", "DescribeStacks", StackName=name).get("Stacks") or []
        return {p["ParameterKey"] for p in (stacks[0].get("Parameters") or [])} if stacks else set()

    def _await_change_set(self, change_set: str) -> dict[str, Any]:
        deadline = self.clock() + CHANGE_SET_TIMEOUT
        while True:
            described: dict[str, Any] = self.api.call("cloudformation", "DescribeChangeSet", ChangeSetName=change_set)
            if described.get("Status") in ("CREATE_COMPLETE", "FAILED"):
                return described
            if self.clock() > deadline:
                raise ConveyorError(f"change set {change_set} was not ready within {CHANGE_SET_TIMEOUT:.0f} s")
            self._wait(self.poll_seconds)

    def discard(self, plan: Plan) -> None:
        """--dry-run: nothing stays behind (a CREATE change set leaves an empty stack in
        REVIEW_IN_PROGRESS: it goes too)."""
        if plan.change_set_id:
            self.api.call("cloudformation", "DeleteChangeSet", ChangeSetName=plan.change_set_id)
        if plan.kind == "CREATE" and self.stack_status(plan.stack_name) == "REVIEW_IN_PROGRESS":
            self.api.call("cloudformation", "DeleteStack", StackName=plan.stack_name)

    # -- executing it
    def execute(self, plan: Plan, progress: Callable[[str], None] = lambda line: None) -> Result:
        if plan.empty:
            return Result(self.stack_status(plan.stack_name) or "", True, "no changes")
        started = self.clock()
        self.api.call("cloudformation", "ExecuteChangeSet", ChangeSetName=plan.change_set_id)
        seen: set[str] = set()
        events: list[StackEvent] = []
        deadline = started + STACK_TIMEOUT
        while True:
            for raw in self._new_events(plan.stack_name, seen, started):
                event = _event(raw)
                events.append(event)
                progress(event.line())
            status = self.stack_status(plan.stack_name) or "DELETE_COMPLETE"
            if status in OK_STATUSES:
                return Result(status, True, events=events)
            if status in ROLLED_BACK or status in FAILED:
                return Result(status, False, _first_failure(events), events)
            if self.clock() > deadline:
                return Result(status, False, f"still {status} after {STACK_TIMEOUT:.0f} s", events)
            self._wait(self.poll_seconds)

    def _new_events(self, name: str, seen: set[str], since: float) -> list[dict[str, Any]]:
        """This run's events not shown yet, oldest first (DescribeStackEvents lists newest first)."""
        fresh: list[dict[str, Any]] = []
        for raw in self.api.pages("cloudformation", "DescribeStackEvents", "StackEvents", StackName=name):
            if raw["EventId"] in seen or raw["Timestamp"].timestamp() < since - 1:
                break
            fresh.append(raw)
        for raw in fresh:
            seen.add(raw["EventId"])
        return list(reversed(fresh))


def _change(rc: dict[str, Any]) -> Change:
    return Change(action=str(rc.get("Action", "")), logical_id=str(rc.get("LogicalResourceId", "")),
                  type=str(rc.get("ResourceType", "")), replacement=str(rc.get("Replacement", "") or ""),
                  physical_id=str(rc.get("PhysicalResourceId", "") or ""))


def _event(raw: dict[str, Any]) -> StackEvent:
    return StackEvent(at=raw["Timestamp"].timestamp(), logical_id=str(raw.get("LogicalResourceId", "")),
                      type=str(raw.get("ResourceType", "")), status=str(raw.get("ResourceStatus", "")),
                      reason=str(raw.get("ResourceStatusReason", "") or ""))


def _first_failure(events: list[StackEvent]) -> str:
    """The first resource that failed, with CloudFormation's reason (the cause, not the
    cascade of 'Resource creation cancelled' that follows it)."""
    for event in events:
        if event.status.endswith("_FAILED") and "cancelled" not in event.reason.lower():
            return f"{event.logical_id} ({event.type}): {event.reason}"
    failed = [e for e in events if e.status.endswith("_FAILED")]
    return f"{failed[0].logical_id}: {failed[0].reason}" if failed else "rolled back"


def changes_table(plan: Plan) -> list[list[str]]:
    """Rows for `conveyor provision`'s change set table."""
    return [[c.action, c.logical_id, c.type, c.replacement or "-"] for c in plan.changes]
