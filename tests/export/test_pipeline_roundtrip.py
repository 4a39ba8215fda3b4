"""The export and `conveyor import codepipeline` agree: conveyor.yml -> template -> the JSON
get-pipeline would return (pipeline_json) -> import -> the same pipeline (stages, actions and their
configuration, triggers, variables, execution mode), compared with Conveyor's defaults written out
(pipeline_cases.canonical). The template's ConnectionArn parameter is given; every other parameter
keeps its default, as a stack created without more parameters would.

Where it cannot be exact, the tables below say what differs and why (the export's notes say the
same to the user). What is lost on the way:
  - settings that live in a CodeBuild project, not in the pipeline: buildspec path, image, the
    build timeout (timeoutInMinutes), a Command or Image action exported as a project;
  - a Git repository that is a local path or a CodeCommit name (no owner/repository: the
    FullRepositoryId parameter has no default) and a GitHub URL (it comes back as owner/repo);
  - typed CodeBuild variables (SECRETS_MANAGER, PARAMETER_STORE: import keeps PLAINTEXT only);
  - what AWS has no room for: an approval timeout under 5 minutes, a Command's category Test, a
    Command's local-only image, a Wait without inputs (a Commands action needs one), a deploy to an
    environment kept off AWS (a Manual approval), a CodeDeploy application not named conveyor-<env>
    (the environment is named after it), Git variables a connection source names differently.
"""

from __future__ import annotations

import pytest
from pipeline_cases import CORPUS, EXAMPLE, FIXTURES, canonical, differences, round_trip

from conveyor.config.importer import import_codepipeline
from conveyor.config.pipeline import load_pipeline, load_pipeline_text
from conveyor.errors import ConfigError

# Corpus pipelines whose import is a valid conveyor.yml: what differs after the round trip.
CORPUS_ROUND_TRIPS: dict[str, list[str]] = {
    "AbhishekSharmaIE__DevopsEcommerceapp__pipeline.json": [],
    "AliRazaqNorthbay__ECS-test__pipeline.json": [],
    "Phani-Chandan02__devsecops-fintech-lab__pipeline-definition.json": [],
    "UdeeshaJayendra__secure-cicd-webapp__codepipeline.json": [],
    "jeevanantham2205__Brain-Tasks-App__codepipeline.json": [],
    "mattbernhardt23__thoughtMapBackend__pipeline-definition.json": [],
    "sarvaratchaganr__Secure-CICD-Pipeline-with-IAM-CloudWatch__pipeline-definition.json": [],
    "sharanyach12__cicd-pipeline-aws__codepipeline__pipeline.json": [],
    "vam-kri__smart-hotel-booking__pipeline-definition.json": [],
    # CodeCommit source: its repository name is no owner/repository, so FullRepositoryId has no default
    "NicoStrauss__BeanstalkDemo__aws__pipeline.json": [
        "stages[0].actions[0].configuration.repository: 'project-name' -> '<FullRepositoryId>'"],
    "uwakweobed89-png__CLOUD-OPS-project__codepipeline.json": [
        "stages[0].actions[0].configuration.repository: 'cloudops-api' -> '<FullRepositoryId>'"],
    # GitHub (version 1) source: the URL comes back as the connection's owner/repository
    "alvinjaison__cicdtest-node__codepipeline.json": [
        ("stages[0].actions[0].configuration.repository: 'https://github.com/rajeesh-iinerds/cicdsample4.git' -> "
         "'rajeesh-iinerds/cicdsample4'")],
    "dopc02devops__flask-memcached-codecommit__codepipeline__pipeline.json": [
        ("stages[0].actions[0].configuration.repository: 'https://github.com/dopc02devops/flask-memcached-codecommit"
         ".git' -> 'dopc02devops/flask-memcached-codecommit'")],
    "nithish-95__tic-tac-toe__codepipeline.json": [
        ("stages[0].actions[0].configuration.repository: 'https://github.com/nithish-95/tic-tac-toe.git' -> "
         "'nithish-95/tic-tac-toe'")],
    "pallavtyagi__aws-app__codepipeline.json": [
        "stages[0].actions[0].configuration.repository: 'https://github.com/pallavtyagi/aws-app.git' -> "
        "'pallavtyagi/aws-app'"],
}
# Corpus files that give no valid conveyor.yml to export (test_import.py says why in detail).
NOT_EXPORTED = {
    "Ahmed-ElHamidy__postfix-ecs-pipeline__pipeline.json": "malformed JSON",
    "Wanted162__project-brain-task__codepipeline-definition.json": "malformed JSON",
    "d3rIngo__auto-pipe-terraform__codepipeline.json": "a pipeline needs at least 2 stages",
    "ramanjulreddykotlo__aws-devops-project__codepipeline.json": "Git takes exactly 1 output artifact",
    "seroche__payment-gateway-api__codepipeline.json": "invalid pipeline name '%ServiceName%'",
}


@pytest.fixture
def corpus():
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


def test_the_tables_cover_the_corpus(corpus):
    assert sorted(p.name for p in corpus.glob("*.json")) == sorted([*CORPUS_ROUND_TRIPS, *NOT_EXPORTED])
    exact = [name for name, diffs in CORPUS_ROUND_TRIPS.items() if not diffs]
    assert (len(exact), len(CORPUS_ROUND_TRIPS)) == (9, 15)


@pytest.mark.parametrize("name", sorted(CORPUS_ROUND_TRIPS))
def test_corpus_round_trip(corpus, name, tmp_path):
    """corpus JSON -> import -> conveyor.yml -> export -> JSON -> import -> the same conveyor.yml."""
    before = load_pipeline_text(import_codepipeline(corpus / name).text)
    _, after, errors = round_trip(before, tmp_path)
    assert errors == []
    assert differences(canonical(before), canonical(after)) == CORPUS_ROUND_TRIPS[name]


@pytest.mark.parametrize("name", sorted(NOT_EXPORTED))
def test_corpus_files_without_a_valid_import_are_not_exported(corpus, name):
    with pytest.raises(ConfigError, match=NOT_EXPORTED[name]):
        load_pipeline_text(import_codepipeline(corpus / name).text)


def test_the_exact_fixture_round_trips_exactly(tmp_path):
    """Every provider in the form CodePipeline carries exactly: Git (owner/repository), CodeBuild,
    Command (argv and script, working directory, variables, output files and variables), Wait
    (with an input), ECS, Manual, CodeDeployToECS; triggers, variables, execution mode."""
    root = FIXTURES / "exact"
    before = load_pipeline(root / "conveyor.yml")
    result, after, errors = round_trip(before, tmp_path, root)
    assert errors == [] and result.diagnostics == []
    assert differences(canonical(before), canonical(after)) == []
    assert {a.provider for _, a in after.actions()} == {"Git", "CodeBuild", "Command", "Wait", "ECS", "Manual",
                                                        "CodeDeployToECS"}


def test_the_example_round_trips_but_for_its_local_repository_and_build_timeout(tmp_path):
    before = load_pipeline(EXAMPLE / "conveyor.yml")
    result, after, errors = round_trip(before, tmp_path, EXAMPLE)
    assert errors == []
    assert [f"{d.severity} {d.message}" for d in result.diagnostics] == [
        "warning '<FullRepositoryId>' looks like an unfilled template placeholder"]  # no default: see below
    assert differences(canonical(before), canonical(after)) == [
        # repository '.': the FullRepositoryId parameter has no default (given when the stack is created)
        "stages[0].actions[0].configuration.repository: '.' -> '<FullRepositoryId>'",
        # privilegedMode is the CodeBuild project's PrivilegedMode (in the template), not in the pipeline
        "stages[1].actions[0].configuration.privilegedMode: True -> False",
        # the build timeout is the CodeBuild project's TimeoutInMinutes: 20, not in the pipeline
        "stages[1].actions[0].timeoutInMinutes: 20 -> None",
    ]


EVERY_DIFFERENCES = {
    # sources: a local path and a GitHub URL
    "stages[0].actions[0].configuration.repository": "'.' -> '<AppFullRepositoryId>'",
    "stages[0].actions[1].configuration.repository": "'https://github.com/acme/tools.git' -> 'acme/tools'",
    # Unit (CodeBuild): buildspec, image and timeout live in the project; typed variables are not imported
    "stages[1].actions[0].configuration.buildspec": "'ci/test.yml' -> 'buildspec.yml'",
    "stages[1].actions[0].configuration.image": "'public.ecr.aws/docker/library/python:3.12' -> None",
    "stages[1].actions[0].configuration.environmentVariables.TOKEN":
        "{'type': 'SECRETS_MANAGER', 'value': 'prod/token:api'} -> None",
    "stages[1].actions[0].configuration.environmentVariables.DB_URL":
        "{'type': 'PARAMETER_STORE', 'value': '/every/db-url'} -> None",
    "stages[1].actions[0].timeoutInMinutes": "30 -> None",
    # Check (Command, Test, a local image, 10 minutes): the Commands action is Compute, managed image, 55 minutes
    "stages[1].actions[2].category": "'Test' -> 'Build'",
    "stages[1].actions[2].configuration.image": "'localhost/conveyor/python:3-slim' -> None",
    "stages[1].actions[2].timeoutInMinutes": "10 -> None",
    # Wait without inputs: the Commands action borrows the first source's artifact
    "stages[2].actions[1].inputArtifacts": "[] -> ['app']",
    # Approve: RepositoryName -> FullRepositoryName; 1 minute -> CodePipeline's minimum of 5
    "stages[3].actions[0].configuration.customData": (
        "'Release #{Img.ImageTag} of #{AppSource.RepositoryName}, pushed by #{AppSource.AuthorName}?' -> "
        "'Release #{Img.ImageTag} of #{AppSource.FullRepositoryName}, pushed by #{AppSource.AuthorName}?'"),
    "stages[3].actions[0].timeoutInMinutes": "1 -> 5",
    # BlueGreen: production's codeDeployApplication is web-prod, so the imported environment is web-prod
    "stages[4].actions[0].configuration.environment": "'production' -> 'web-prod'",
    "stages[4].actions[0].configuration.applicationName": "None -> 'web-prod'",
}
# Actions that come back as another provider: the Command with its own image and the Image action
# (CodeBuild projects of the export's), the deploy to lab (kept off AWS: a Manual approval).
EVERY_REPLACED = {"stages[1].actions[3]": "CodeBuild", "stages[1].actions[4]": "CodeBuild",
                  "stages[4].actions[1]": "Manual"}


def test_the_every_provider_fixture_round_trip_differs_where_aws_has_no_room(tmp_path):
    root = FIXTURES / "every-provider"
    before = load_pipeline(root / "conveyor.yml")
    _, after, errors = round_trip(before, tmp_path, root, ["staging", "production"])
    # the import notes FullRepositoryName, which conveyor.yml's Git source does not set
    assert errors == ["pipeline.stages[3].actions[0].customData: Git action 'App' has no output variable "
                      "'FullRepositoryName' (known: AuthorDate, AuthorName, BranchName, CommitId, CommitMessage, "
                      "CommitterDate, RepositoryName)"]
    found = differences(canonical(before), canonical(after))
    replaced = {d.split(".")[0] + "." + d.split(".")[1] for d in found
                if any(d.startswith(f"{k}.") for k in EVERY_REPLACED)}
    assert replaced == set(EVERY_REPLACED)
    assert {k: after.stages[int(k[7])].actions[int(k[-2])].provider for k in EVERY_REPLACED} == EVERY_REPLACED
    rest = dict(d.split(": ", 1) for d in found if not any(d.startswith(f"{k}.") for k in EVERY_REPLACED))
    assert rest == EVERY_DIFFERENCES
