"""conveyor.config.codepipeline on real files: the corpus verdicts, exact message text with positions, and
files that are not pipelines at all. Rule-by-rule tests are in test_codepipeline_rules.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config.codepipeline import validate_file

CORPUS = Path(__file__).parents[2] / ".." / "shared" / "corpus" / "pipeline-json"

# Every corpus file, its verdict and (when invalid) a substring of the main error.
VERDICTS = {
    # artifactStores must map region -> store; this file holds a list (create-pipeline rejects it).
    "AbhishekSharmaIE__DevopsEcommerceapp__pipeline.json":
        ("invalid", "pipeline.artifactStores: expected a mapping of region to artifact store"),
    # Not a CodePipeline at all: an Elasticsearch ingest pipeline, and not JSON (""" strings).
    "Ahmed-ElHamidy__postfix-ecs-pipeline__pipeline.json":
        ("invalid", "malformed JSON: Expecting ',' delimiter; this looks like an Elasticsearch ingest pipeline"),
    "AliRazaqNorthbay__ECS-test__pipeline.json": ("valid", None),
    "alvinjaison__cicdtest-node__codepipeline.json": ("valid", None),
    # Placeholder roleArn (<...>) and a CodeDeploy action without ApplicationName/DeploymentGroupName.
    "d3rIngo__auto-pipe-terraform__codepipeline.json":
        ("invalid", "CodeDeploy action is missing required configuration ApplicationName, DeploymentGroupName"),
    # CodeDeploy takes exactly one input artifact; this one lists two.
    "dopc02devops__flask-memcached-codecommit__codepipeline__pipeline.json":
        ("invalid", "inputArtifacts: CodeDeploy takes exactly 1 input artifact, got 2"),
    "jeevanantham2205__Brain-Tasks-App__codepipeline.json": ("valid", None),
    "mattbernhardt23__thoughtMapBackend__pipeline-definition.json": ("valid", None),
    # Account id 1234567890 has 10 digits; a roleArn needs 12.
    "NicoStrauss__BeanstalkDemo__aws__pipeline.json":
        ("invalid", "the account id '1234567890' has 10 digits, expected 12"),
    # Placeholder OAuthToken is only a warning: AWS accepts any string there.
    "nithish-95__tic-tac-toe__codepipeline.json": ("valid", None),
    "pallavtyagi__aws-app__codepipeline.json": ("valid", None),
    "Phani-Chandan02__devsecops-fintech-lab__pipeline-definition.json": ("valid", None),
    # No artifactStore, and no artifacts anywhere: the source outputs nothing, builds/deploys get nothing.
    "ramanjulreddykotlo__aws-devops-project__codepipeline.json":
        ("invalid", "pipeline: missing required key 'artifactStore'"),
    # <CODEPIPELINE_ROLE_ARN> roleArn and <S3_BUCKET_FOR_ARTIFACTS> bucket.
    "sarvaratchaganr__Secure-CICD-Pipeline-with-IAM-CloudWatch__pipeline-definition.json":
        ("invalid", "roleArn '<CODEPIPELINE_ROLE_ARN>': it looks like an unfilled template placeholder"),
    # %ServiceName% as the pipeline name: '%' is not allowed in names.
    "seroche__payment-gateway-api__codepipeline.json":
        ("invalid", "invalid pipeline name '%ServiceName%': it looks like an unfilled template placeholder"),
    # YOUR_ACCOUNT_ID in the roleArn.
    "sharanyach12__cicd-pipeline-aws__codepipeline__pipeline.json":
        ("invalid", "'YOUR_ACCOUNT_ID' looks like an unfilled template placeholder"),
    "UdeeshaJayendra__secure-cicd-webapp__codepipeline.json": ("valid", None),
    "uwakweobed89-png__CLOUD-OPS-project__codepipeline.json": ("valid", None),
    "vam-kri__smart-hotel-booking__pipeline-definition.json": ("valid", None),
    # A shell heredoc wrapped around the JSON: not JSON.
    "Wanted162__project-brain-task__codepipeline-definition.json":
        ("invalid", "1:1: malformed JSON: Expecting value; the JSON seems to start on line 3"),
}


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS.resolve()}")
    return CORPUS


def test_the_verdict_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in corpus.glob("*.json")) == sorted(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdict(corpus, name):
    verdict, expected = VERDICTS[name]
    errors = [str(d) for d in validate_file(corpus / name, display=name) if d.severity == "error"]
    if verdict == "valid":
        assert errors == []
    else:
        assert any(expected in e for e in errors), errors
        assert all(e.startswith(f"{name}:") for e in errors)


def test_corpus_warnings_name_what_aws_accepts_but_fails_later(corpus):
    def warnings(name):
        return [f"{d.path}: {d.message}" for d in validate_file(corpus / name) if d.severity == "warning"]

    assert ("pipeline.stages[0].actions[0].configuration.OAuthToken: OAuthToken is masked ('****') as get-pipeline "
            "prints it; set the real value before creating the pipeline") in warnings(
        "pallavtyagi__aws-app__codepipeline.json")
    # An empty value is refused outright (API ActionConfigurationValue has min length 1): an error, not a warning.
    errors = [f"{d.path}: {d.message}" for d in validate_file(
        corpus / "dopc02devops__flask-memcached-codecommit__codepipeline__pipeline.json") if d.severity == "error"]
    assert ("pipeline.stages[0].actions[0].configuration.OAuthToken: OAuthToken is empty: configuration values are 1 "
            "to 1000 characters (API ActionConfigurationValue); leave the key out instead") in errors
    assert ("pipeline.stages[0].actions[0].configuration.OAuthToken: '{{resolve:secretsmanager:github-token}}' is a "
            "CloudFormation dynamic reference; only CloudFormation resolves it, the CLI sends it as written"
            ) in warnings("sharanyach12__cicd-pipeline-aws__codepipeline__pipeline.json")
    assert ("pipeline.stages[0].actions[0].configuration.Repo: Repo is the repository name without '.git' "
            "('auto-pipe-terraform')") in warnings("d3rIngo__auto-pipe-terraform__codepipeline.json")


# --- exact text, with positions -------------------------------------------------------------------

TEXT = """{
  "pipeline": {
    "name": "demo",
    "roleArn": "arn:aws:iam::123456789012:role/demo",
    "artifactStore": {"type": "S3", "location": "demo-artifacts"},
    "stages": [
      {"name": "Source", "actions": [
        {"name": "Source",
         "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
         "configuration": {"RepositoryName": "demo", "BranchName": "main", "PollForSourceChanges": false},
         "outputArtifacts": [{"name": "src"}]}
      ]},
      {"name": "Build", "actions": [
        {"name": "Build",
         "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "Codebuild", "version": "1"},
         "configuration": {"ProjectName": "demo", "EnvironmentVariables": "#{Build.Version}"},
         "inputArtifacts": [{"name": "sources"}]},
        {"name": "Deploy",
         "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"},
         "runOrder": 0,
         "configuration": {"ApplicationName": "demo"},
         "inputArtifacts": [{"name": "src"}, {"name": "src2"}]}
      ]}
    ]
  }
}
"""


def test_messages_name_file_line_column_and_key_path(tmp_path):
    (tmp_path / "pipeline.json").write_text(TEXT)
    assert [str(d) for d in validate_file(tmp_path / "pipeline.json", display="pipeline.json")] == [
        ("pipeline.json:10:76 pipeline.stages[0].actions[0].configuration.PollForSourceChanges: configuration values "
        "must be strings, got a boolean (write \"false\")"),
        ("pipeline.json:15:64 pipeline.stages[1].actions[0].actionTypeId.provider: unknown provider 'Codebuild' for "
        "category Build (did you mean 'CodeBuild'?)"),
        ("pipeline.json:16:51 pipeline.stages[1].actions[0].configuration.EnvironmentVariables: #{Build.Version}: no "
        "action has namespace 'Build'"),
        ("pipeline.json:17:30 pipeline.stages[1].actions[0].inputArtifacts[0].name: input artifact 'sources' is not "
        "produced by any action (did you mean 'src'?)"),
        "pipeline.json:20:10 pipeline.stages[1].actions[1].runOrder: runOrder must be an integer from 1 to 999, got 0",
        ("pipeline.json:21:10 pipeline.stages[1].actions[1].configuration: CodeDeploy action is missing required "
        "configuration DeploymentGroupName"),
        ("pipeline.json:22:10 pipeline.stages[1].actions[1].inputArtifacts: CodeDeploy takes exactly 1 input "
        "artifact, got 2"),
        ("pipeline.json:22:47 pipeline.stages[1].actions[1].inputArtifacts[1].name: input artifact 'src2' is not "
        "produced by any action (did you mean 'src'?)"),
    ]


@pytest.mark.parametrize("text, expected", [
    ("", "pipeline.json:1:1: the file is empty; expected a JSON object"),
    ('{"pipeline": {"name": "x",}}', ("pipeline.json:1:27: malformed JSON: Expecting property name enclosed in "
                                     "double quotes")),
    ("[1, 2]", ("pipeline.json:1:1: expected a JSON object with a 'pipeline' key (create-pipeline input or "
               "get-pipeline output), got a list")),
    ('{"description": "x", "processors": []}', ("pipeline.json:1:1: not a CodePipeline definition: this looks like "
     "an Elasticsearch ingest pipeline (top-level keys: description, processors); expected {\"pipeline\": {...}} as "
     "written by `aws codepipeline get-pipeline`")),
    ('{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}', ("pipeline.json:1:1: not a CodePipeline "
     "definition: this looks like a CloudFormation template (top-level keys: AWSTemplateFormatVersion, Resources); "
     "expected {\"pipeline\": {...}} as written by `aws codepipeline get-pipeline`")),
    ('{"name": "x", "stages": []}', ("pipeline.json:1:1: missing top-level 'pipeline': this is a bare pipeline "
     "declaration; wrap it as {\"pipeline\": {...}}")),
    ('{"pipeline": {"name": "x", "name": "y"}}', ("pipeline.json:1:28 pipeline.name: duplicate key 'name' (first "
     "defined on line 1)")),
    ("# made by hand\ncat <<EOF\n{}\nEOF", ("pipeline.json:1:1: malformed JSON: Expecting value; the JSON seems to "
     "start on line 3: remove the text around it (a shell heredoc?)")),
])
def test_a_file_that_is_not_a_pipeline_gives_one_clear_diagnostic(tmp_path, text, expected):
    (tmp_path / "pipeline.json").write_text(text)
    assert [str(d) for d in validate_file(tmp_path / "pipeline.json", display="pipeline.json")] == [expected]


def test_a_missing_file_is_a_diagnostic(tmp_path):
    assert [str(d) for d in validate_file(tmp_path / "nope.json", display="nope.json")] == ["nope.json: file not found"]
