"""What CodeDeployToECS does to its templates (aws-semantics §3.5): the `<IMAGE1_NAME>` and
`<TASK_DEFINITION>` substitutions, the Image<N> configuration pairs and reading imageDetail.json —
with AWS's examples and AWS's error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.config.appspec import parse_appspec
from conveyor.config.taskdef import parse_taskdef
from conveyor.deploy.substitute import (
    absent_placeholders,
    image_artifacts,
    read_image_detail,
    substitute_images,
    substitute_task_definition,
    unreplaced_placeholders,
)
from conveyor.documents.located import load_json
from conveyor.errors import UserError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
URI = "111122223333.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "a" * 64
ARN = "arn:aws:ecs:us-east-1:111122223333:task-definition/ecs-demo:8"

# The shape of the task definition template in AWS's CodePipeline ECS blue/green tutorial: the
# container is called sample-website, the placeholder is IMAGE1_NAME; the two are unrelated.
TASKDEF = """{
    "family": "ecs-demo",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "sample-website",
            "image": "<IMAGE1_NAME>",
            "essential": true,
            "portMappings": [{"hostPort": 80, "protocol": "tcp", "containerPort": 80}]
        }
    ]
}
"""
APPSPEC_YAML = """version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: "sample-website"
          ContainerPort: 80
"""


# --- images --------------------------------------------------------------------------------------


def test_the_aws_tutorial_taskdef_gets_its_image_by_placeholder_not_by_container_name():
    text = substitute_images(TASKDEF, {"IMAGE1_NAME": URI})
    td, diagnostics = parse_taskdef(json.loads(text))
    assert diagnostics == [] and td.container("sample-website").image == URI
    assert unreplaced_placeholders(text) == []
    assert substitute_images(TASKDEF, {"sample-website": URI}) == TASKDEF  # a container name is not a placeholder


def test_placeholders_are_literal_text_with_their_angle_brackets():
    text = '{"containerDefinitions": [{"name": "a", "image": "<APP>"}, {"name": "b", "image": "<APP>:x APP <app>"}]}'
    assert substitute_images(text, {"APP": "web:1"}) == (
        '{"containerDefinitions": [{"name": "a", "image": "web:1"}, {"name": "b", "image": "web:1:x APP <app>"}]}')
    # Written with its brackets in the configuration, the name matches nothing (CodePipeline adds them itself).
    assert substitute_images(TASKDEF, {"<IMAGE1_NAME>": URI}) == TASKDEF


def test_up_to_four_images_each_into_its_own_placeholder():
    text = json.dumps({"family": "f", "containerDefinitions": [
        {"name": f"c{n}", "image": f"<IMAGE{n}_NAME>"} for n in range(1, 5)]})
    images = {f"IMAGE{n}_NAME": f"registry/app{n}:v{n}" for n in range(1, 5)}
    td, _ = parse_taskdef(json.loads(substitute_images(text, images)))
    assert [c.image for c in td.containers] == ["registry/app1:v1", "registry/app2:v2", "registry/app3:v3",
                                                "registry/app4:v4"]


def test_unreplaced_placeholders_are_found_in_image_fields_only():
    text = json.dumps({"family": "f", "containerDefinitions": [
        {"name": "a", "image": "<IMAGE1_NAME>", "environment": [{"name": "X", "value": "<NOT_AN_IMAGE>"}]},
        {"name": "b", "image": "registry/<IMAGE2_NAME>"}, {"name": "c", "image": "<IMAGE1_NAME>"}]})
    assert unreplaced_placeholders(text) == ["<IMAGE1_NAME>", "<IMAGE2_NAME>"]
    assert unreplaced_placeholders(substitute_images(text, {"IMAGE1_NAME": "x:1"})) == ["<IMAGE2_NAME>"]


def test_unreplaced_placeholders_in_a_template_that_is_not_json_yet():
    text = '{"family": "f", "containerDefinitions": [{"name": "a", "image": "<IMAGE1_NAME>", "cpu": {{cpu}}}]}'
    assert unreplaced_placeholders(text) == ["<IMAGE1_NAME>"]


def test_absent_placeholders_name_the_images_that_would_go_nowhere():
    assert absent_placeholders(TASKDEF, ["IMAGE1_NAME", "IMAGE2_NAME"]) == ["IMAGE2_NAME"]


def test_the_corpus_pipeline_pair_renders_into_a_valid_task_definition_and_appspec():
    taskdef = CORPUS / "taskdef" / "shashank070__aws-codepipeline-ecs-bluegreen-deployment__taskdef.json"
    if not taskdef.is_file():
        pytest.skip("the shared corpus is not checked out next to the repository")
    text = taskdef.read_text()
    placeholders = unreplaced_placeholders(text)
    assert placeholders, "the template should hold an <IMAGE...> placeholder"
    rendered = substitute_images(text, {p.strip("<>"): URI for p in placeholders})
    td, diagnostics = parse_taskdef(load_json(rendered, "taskdef.json").data)
    assert td is not None and not [d for d in diagnostics if d.severity == "error"]
    assert unreplaced_placeholders(rendered) == []
    assert URI in [c.image for c in td.containers]


# --- the task definition ARN in the AppSpec ------------------------------------------------------


def test_the_appspec_gets_the_registered_arn_in_yaml():
    text = substitute_task_definition(APPSPEC_YAML, ARN)
    spec, diagnostics = parse_appspec(text)
    assert diagnostics == [] and spec.task_definition == ARN and spec.task_definition_revision() == ("ecs-demo", 8)
    assert not spec.needs_task_definition


def test_the_appspec_gets_the_registered_arn_in_json_and_a_local_revision_too():
    text = json.dumps({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": "<TASK_DEFINITION>", "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]})
    spec, _ = parse_appspec(substitute_task_definition(text, "orders:12"), "appspec.json")
    assert spec.task_definition_revision() == ("orders", 12)


def test_only_the_exact_token_is_replaced_everywhere_it_appears():
    text = "# <TASK_DEFINITION> is filled in by the pipeline\n" + APPSPEC_YAML
    assert substitute_task_definition(text, ARN).count(ARN) == 2
    for other in ("<TASK_DEF_ARN>", "<task_definition>", "TASK_DEFINITION", "<TASK_DEFINITION_ARN:revision>"):
        odd = APPSPEC_YAML.replace("<TASK_DEFINITION>", other)
        assert substitute_task_definition(odd, ARN) == odd
        assert parse_appspec(substitute_task_definition(odd, ARN))[0] is None


def test_an_appspec_that_names_its_task_definition_keeps_it():
    named = APPSPEC_YAML.replace("<TASK_DEFINITION>", "arn:aws:ecs:us-east-1:111122223333:task-definition/web:3")
    assert substitute_task_definition(named, ARN) == named


# --- Image<N> configuration ----------------------------------------------------------------------


def test_image_artifacts_pairs_in_order_from_either_spelling():
    assert image_artifacts({}) == []
    assert image_artifacts({"image2ArtifactName": "Web", "image2ContainerName": "WEB",
                            "Image1ArtifactName": "BuildArtifact", "Image1ContainerName": "IMAGE1_NAME",
                            "applicationName": "app"}) == [(1, "BuildArtifact", "IMAGE1_NAME"), (2, "Web", "WEB")]


@pytest.mark.parametrize("configuration, message", [
    ({"image1ArtifactName": "BuildArtifact"}, "Action configuration is missing 'Image1ContainerName' configuration"),
    ({"Image3ContainerName": "IMAGE3_NAME"}, "Action configuration is missing 'Image3ArtifactName' configuration"),
    ({"image1ArtifactName": "A", "image2ArtifactName": "B", "image2ContainerName": "B", "image4ContainerName": "D"},
     "Action configuration is missing 'Image1ContainerName' configuration; Action configuration is missing "
     "'Image4ArtifactName' configuration"),
    ({"image1ArtifactName": "A", "image1ContainerName": ""},
     "Action configuration is missing 'Image1ContainerName' configuration"),
])
def test_a_half_configured_image_is_refused_with_the_aws_message(configuration, message):
    with pytest.raises(UserError) as exc:
        image_artifacts(configuration)
    assert str(exc.value) == message
    assert exc.value.exit_code == 2 and "Image<N>ContainerName" in exc.value.hint


# --- imageDetail.json ----------------------------------------------------------------------------


def test_read_image_detail_reads_the_ecr_source_form(tmp_path):
    (tmp_path / "imageDetail.json").write_text(json.dumps({
        "ImageSizeInBytes": "44728918", "ImageDigest": "sha256:" + "a" * 64, "Version": "1.0",
        "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019", "RegistryId": "111122223333", "RepositoryName": "web",
        "ImageURI": URI, "ImageTags": ["latest"]}))
    assert read_image_detail(tmp_path, "SourceArtifact") == URI


def test_an_artifact_with_imagedefinitions_json_gets_the_aws_message_and_the_fix(tmp_path):
    (tmp_path / "imagedefinitions.json").write_text('[{"name": "web", "imageUri": "web:1"}]')
    with pytest.raises(UserError) as exc:
        read_image_detail(tmp_path, "BuildArtifact")
    assert str(exc.value) == "Exception while trying to read the image artifact file from the artifact: BuildArtifact"
    assert exc.value.hint.startswith("the artifact holds imagedefinitions.json, the file of the standard ECS action; "
                                     "CodeDeployToECS reads imageDetail.json: {\"ImageURI\": \"<image>\"}")


@pytest.mark.parametrize("files, hint", [
    ({"imagedetail.json": '{"ImageURI": "web:1"}'},
     "the file is named imagedetail.json; CodeDeployToECS looks for exactly imageDetail.json (names are "
     "case-sensitive)"),
    ({"appspec.yaml": "", "taskdef.json": ""},
     "there is no imageDetail.json at the root of the artifact (it holds appspec.yaml, taskdef.json)"),
    ({}, "there is no imageDetail.json at the root of the artifact (it holds nothing)"),
    ({"imageDetail.json": '[{"name": "web", "imageUri": "web:1"}]'},
     "BuildArtifact/imageDetail.json:1:1: this is an imagedefinitions.json (a list of {name, imageUri}"),
    ({"imageDetail.json": '{"ImageUri": "web:1"}'},
     "BuildArtifact/imageDetail.json:1:1: missing required key 'ImageURI' (there is 'ImageUri': keys are "
     "case-sensitive)"),
    ({"imageDetail.json": "{"}, "BuildArtifact/imageDetail.json:1:2: malformed JSON"),
])
def test_unreadable_image_artifacts_say_what_is_wrong(tmp_path, files, hint):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(UserError) as exc:
        read_image_detail(tmp_path, "BuildArtifact")
    assert str(exc.value) == "Exception while trying to read the image artifact file from the artifact: BuildArtifact"
    assert exc.value.hint.startswith(hint), exc.value.hint
