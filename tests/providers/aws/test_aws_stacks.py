"""`conveyor provision`'s stack handling: a change set first (shown as a table), then its
execution followed event by event, over moto's CloudFormation; a failure and its rollback from a
recorded sequence (moto does not fail resources)."""

from __future__ import annotations

import datetime as dt

import pytest

from conveyor.errors import UserError
from conveyor.providers.aws.stacks import Plan, Stacks, changes_table

TOPIC = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Ref Name}
"""
TWO = TOPIC + """\
  Queue:
    Type: AWS::SQS::Queue
"""


def stacks_of(apis) -> Stacks:
    return Stacks(apis.api("production"), poll_seconds=0, wait=lambda seconds: False)


def test_a_new_stack_is_created_through_a_change_set_and_followed_to_completion(moto_aws):
    stacks = stacks_of(moto_aws)
    plan = stacks.plan("conveyor-orders-production", TOPIC, {"Name": "orders-approvals"})
    assert (plan.kind, plan.empty) == ("CREATE", False)
    assert changes_table(plan) == [["Add", "Topic", "AWS::SNS::Topic", "-"]]
    lines: list[str] = []
    result = stacks.execute(plan, progress=lines.append)
    assert (result.ok, result.status) == (True, "CREATE_COMPLETE")
    # (moto reports the stack's events, not each resource's)
    assert any("CREATE_COMPLETE" in line and "conveyor-orders-production" in line for line in lines), lines


def test_an_update_shows_only_what_changes_and_reuses_the_parameters(moto_aws):
    stacks = stacks_of(moto_aws)
    stacks.execute(stacks.plan("s", TOPIC, {"Name": "t"}))
    plan = stacks.plan("s", TWO, {})
    assert (plan.kind, changes_table(plan)) == ("UPDATE", [["Add", "Queue", "AWS::SQS::Queue", "-"]])
    assert stacks.execute(plan).status == "UPDATE_COMPLETE"


def test_a_dry_run_leaves_nothing_behind(moto_aws):
    stacks = stacks_of(moto_aws)
    plan = stacks.plan("dry", TOPIC, {"Name": "t"})
    stacks.discard(plan)
    assert stacks.stack_status("dry") is None


def at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(1_800_000_000 + seconds, dt.timezone.utc)


def test_a_failure_rolls_back_and_names_the_resource_that_failed(stubbed):
    cfn = stubbed("cloudformation")
    stacks = Stacks(stubbed.apis.api("production"), poll_seconds=0, wait=lambda s: False,
                    clock=lambda: 1_800_000_000.0)
    plan = Plan("s", "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c/1", "CREATE", ())
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": plan.change_set_id})

    def ev(i: int, logical: str, status: str, reason: str = "") -> dict:
        out = {"StackId": "s", "EventId": f"e{i}", "StackName": "s", "LogicalResourceId": logical,
               "ResourceType": "AWS::ECS::Service" if logical == "Service" else "AWS::CloudFormation::Stack",
               "Timestamp": at(i), "ResourceStatus": status}
        if reason:
            out["ResourceStatusReason"] = reason
        return out

    cfn.add_response("describe_stack_events", {"StackEvents": [ev(1, "Service", "CREATE_IN_PROGRESS")]},
                     {"StackName": "s"})
    cfn.add_response("describe_stacks", {"Stacks": [{"StackName": "s", "StackStatus": "CREATE_IN_PROGRESS",
                                                     "CreationTime": at(0)}]}, {"StackName": "s"})
    failed = [ev(4, "s", "ROLLBACK_COMPLETE"), ev(3, "s", "ROLLBACK_IN_PROGRESS", "The following resource(s) "
              "failed to create: [Service]."),
              ev(2, "Service", "CREATE_FAILED", "Resource handler returned message: \"Invalid request provided: "
                                                 "CreateService error: subnet-1 does not exist\""),
              ev(1, "Service", "CREATE_IN_PROGRESS")]
    cfn.add_response("describe_stack_events", {"StackEvents": failed}, {"StackName": "s"})
    cfn.add_response("describe_stacks", {"Stacks": [{"StackName": "s", "StackStatus": "ROLLBACK_COMPLETE",
                                                     "CreationTime": at(0)}]}, {"StackName": "s"})
    lines: list[str] = []
    result = stacks.execute(plan, progress=lines.append)
    assert (result.ok, result.status) == (False, "ROLLBACK_COMPLETE")
    assert result.reason == ("Service (AWS::ECS::Service): Resource handler returned message: \"Invalid request "
                             "provided: CreateService error: subnet-1 does not exist\"")
    assert [line.split(" ", 1)[1].split()[0] for line in lines] == [
        "CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


def test_a_stack_left_rolled_back_must_be_deleted_first(stubbed):
    cfn = stubbed("cloudformation")
    cfn.add_response("describe_stacks", {"Stacks": [{"StackName": "s", "StackStatus": "ROLLBACK_COMPLETE",
                                                     "CreationTime": at(0)}]}, {"StackName": "s"})
    with pytest.raises(UserError, match="ROLLBACK_COMPLETE") as refused:
        Stacks(stubbed.apis.api("production"), wait=lambda s: False).plan("s", TOPIC, {})
    assert "delete-stack" in (refused.value.hint or "")
