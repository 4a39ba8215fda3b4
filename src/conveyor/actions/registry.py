"""Which runner carries out each provider named in conveyor.yml. `Manual` has no runner: the
engine itself keeps an approval waiting until someone decides."""

from __future__ import annotations

from conveyor.actions.base import ActionRunner
from conveyor.actions.codebuild import CodeBuildAction
from conveyor.actions.codedeploy_ecs import CodeDeployToEcsAction
from conveyor.actions.command import CommandAction
from conveyor.actions.ecs_deploy import EcsDeployAction
from conveyor.actions.git_source import GitSource
from conveyor.actions.image import ImageAction
from conveyor.actions.wait import Wait

RUNNERS: dict[str, ActionRunner] = {
    "Git": GitSource(),
    "Command": CommandAction(),
    "Wait": Wait(),
    "CodeBuild": CodeBuildAction(),
    "Image": ImageAction(),
    "ECS": EcsDeployAction(),
    "CodeDeployToECS": CodeDeployToEcsAction(),
}
