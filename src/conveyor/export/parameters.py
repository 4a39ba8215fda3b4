"""The parameters of an environment's template: where it runs (never invented: the VPC and its
subnets are the account's), who may reach it, and the first image of each container whose
taskdef.json image is a placeholder. `conveyor provision` passes them by these names.

    VpcId              AWS::EC2::VPC::Id
    PublicSubnetIds    the load balancer's subnets (internet-facing: public, two Availability Zones or more)
    TaskSubnetIds      the tasks' subnets (private ones with a NAT gateway or VPC endpoints for ECR and
                       CloudWatch Logs; or the public ones with AssignPublicIp ENABLED)
    AssignPublicIp     DISABLED (default) | ENABLED
    AllowedCidr        who may reach the listeners, default 0.0.0.0/0
    StartTasks         "true" (default): services run desiredCount tasks; "false": none (before any
                       image was pushed; the first `conveyor deploy` of a rolling service sets
                       desiredCount, a blue/green service needs the stack updated with "true")
    LogRetentionInDays CloudWatch Logs retention of the services' log groups, default 30
    <Service><Container>Image   e.g. OrdersApiImage: the image of the first task definition revision

    >>> image_parameter("Orders", "api"), image_parameter("Orders", "log-router")
    ('OrdersApiImage', 'OrdersLogRouterImage')
"""

from __future__ import annotations

from conveyor.export.naming import pascal
from conveyor.export.template import Equals, Intrinsic, Ref, Template

VPC_ID = "VpcId"
PUBLIC_SUBNETS = "PublicSubnetIds"
TASK_SUBNETS = "TaskSubnetIds"
ASSIGN_PUBLIC_IP = "AssignPublicIp"
ALLOWED_CIDR = "AllowedCidr"
START_TASKS = "StartTasks"
LOG_RETENTION = "LogRetentionInDays"
#: The condition StartTasks sets.
STARTING_TASKS = "StartingTasks"

DEFAULT_CIDR = "0.0.0.0/0"
DEFAULT_LOG_RETENTION_DAYS = 30
#: CloudWatch Logs PutRetentionPolicy retentionInDays values.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


def image_parameter(service_prefix: str, container: str) -> str:
    return f"{service_prefix}{pascal(container)}Image"


def declare_network(t: Template, *, load_balancer: bool) -> None:
    """The VPC, subnets and reachability parameters (the load balancer's only when there is one)."""
    t.parameter(VPC_ID, "AWS::EC2::VPC::Id", "The VPC the load balancer and the tasks run in")
    if load_balancer:
        t.parameter(PUBLIC_SUBNETS, "List<AWS::EC2::Subnet::Id>",
                    "Subnets of the internet-facing load balancer: public ones, in two Availability Zones or more")
    t.parameter(TASK_SUBNETS, "List<AWS::EC2::Subnet::Id>",
                "Subnets the tasks run in. They pull images from ECR and write to CloudWatch Logs: private subnets "
                "need a NAT gateway or VPC endpoints; public ones need AssignPublicIp ENABLED")
    t.parameter(ASSIGN_PUBLIC_IP, "String", "Whether tasks get a public IP address (ENABLED in public subnets)",
                default="DISABLED", allowed=["DISABLED", "ENABLED"])
    if load_balancer:
        t.parameter(ALLOWED_CIDR, "String", "The addresses that may reach the load balancer's listeners",
                    default=DEFAULT_CIDR)


def declare_start_tasks(t: Template) -> Intrinsic:
    """StartTasks and its condition; returns the condition's name as a Ref-free marker."""
    t.parameter(START_TASKS, "String",
                "true: each service runs its desiredCount tasks. false: none, e.g. before the first image is "
                "pushed (a rolling service gets desiredCount on its first `conveyor deploy`; update the stack with "
                "true for blue/green services)", default="true", allowed=["true", "false"])
    t.conditions[STARTING_TASKS] = Equals(Ref(START_TASKS), "true")
    return Ref(START_TASKS)


def declare_log_retention(t: Template) -> Intrinsic:
    return t.parameter(LOG_RETENTION, "Number", "How many days CloudWatch Logs keeps the services' container logs",
                       default=str(DEFAULT_LOG_RETENTION_DAYS), allowed=[str(d) for d in LOG_RETENTION_DAYS])
