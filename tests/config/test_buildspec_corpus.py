"""conveyor.config.buildspec on the 60 real buildspecs of the shared corpus (MANIFEST.tsv says where each
comes from and what it exercises): a verdict per file, the model CodeBuild would see for a few of them;
and `conveyor validate --kind buildspec` through the real CLI (exit codes, first line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.config.buildspec import check_buildspec_file, load_buildspec

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "buildspec"

VALID, WARNINGS, INVALID = "valid", "valid-with-warnings", "invalid"

# Every corpus file, its verdict, and a substring of the main error (invalid) or warning (valid-with-warnings).
VERDICTS = {
    "Abdelali12-codes__aws_ecs_blue_green_lambda_hooks__buildspec.yaml":
        (VALID, None),
    "AcademySoftwareFoundation__openvdb__ci__buildspec.yml":
        (WARNINGS, "runtime-versions.python: warning: unquoted 3.10 is read as the YAML number 3.1, so CodeBuild "
                   "sees '3.1'"),
    "Apillon__apillon-services__buildspec-test.yml": (VALID, None),
    "Azamcloudspace__ECS-CICD__ci__buildspec.yml": (VALID, None),
    "Consensys__doc.goquorum__.aws__buildspec.yml": (VALID, None),
    # `artifacts` is indented under phases.post_build: CodeBuild ignores it there, so imageDetail.json is never
    # uploaded and the CodeDeployToECS stage that needs it fails.
    "Takao-Yamasaki__sbcntr-basic__codebuild__buildspec.yml":
        (INVALID, "34:5 phases.post_build.artifacts: 'artifacts' is a top-level key, but it is indented under "
                  "phases.post_build"),
    # env.variables.CODEBUILD_CACHE_BUCKET uses the CODEBUILD_ prefix that CodeBuild reserves (aws-semantics §1.3:
    # "do not set them"). This is live CI that CodeBuild runs, so it is accepted with a warning.
    "alltheplaces__alltheplaces__ci__buildspec.yml":
        (WARNINGS, "6:5 env.variables.CODEBUILD_CACHE_BUCKET: warning: names starting with CODEBUILD_ are reserved"),
    # MANIFEST: duplicate 'depend-on' key in the 'publish' entry (loaders disagree on which one wins), and the
    # 'fail-fast' typo for fast-fail. The duplicate key stops the load.
    "appsmithorg__appsmith__ci__buildspec.yml":
        (INVALID, "157:7 batch.build-graph[18].depend-on: duplicate key 'depend-on' (first defined on line 151)"),
    "aws-samples__aws-codebuild-samples__buildspecs__build-with-cache.yml": (VALID, None),
    "aws-samples__aws-codebuild-samples__buildspecs__sonarqube.yml": (VALID, None),
    "aws-samples__aws-codebuild-samples__dockerbuildspec.yml": (VALID, None),
    "aws-samples__devsecops-cicd-containers__buildspec-prod.yml":
        (WARNINGS, "artifacts.type: warning: 'type' is a buildspec 0.1 key"),
    "aws-samples__ecs-blue-green-deployment-with-codedeploy__iac__pipeline__codebuild__buildspec-app.yaml":
        (WARNINGS, "phases.pre_build: warning: 'pre_build' is written after 'build' but runs before it"),
    "aws-samples__ecs-blue-green-deployment-with-codedeploy__iac__pipeline__codebuild__buildspec-container.yaml":
        (WARNINGS, "artifacts.files[0]: warning: '/tmp/build.json' is an absolute path"),  # not on the host
    "aws__amazon-ecs-agent__buildspecs__pr-build-windows.yml": (VALID, None),  # empty post_build.commands is fine
    "aws__amazon-ecs-agent__buildspecs__pr-build.yml": (VALID, None),
    "aws__aws-cdk__buildspec.yaml": (VALID, None),  # file-format JunitXml: formats are case-insensitive
    "aws__aws-encryption-sdk-java__codebuild__release__release-prod.yml": (VALID, None),
    "aws__aws-encryption-sdk-java__codebuild__release__release.yml": (VALID, None),
    "aws__aws-encryption-sdk-javascript__codebuild__release__prod-release.yml": (VALID, None),
    "aws__aws-encryption-sdk-javascript__codebuild__release__publish.yml": (VALID, None),
    "aws__aws-encryption-sdk-javascript__codebuild__release__version.yml": (VALID, None),
    "aws__aws-encryption-sdk-python__buildspec.yml":
        (WARNINGS, "batch.build-list[8]: warning: 'py39_awses_latest' names no buildspec, so it runs this file, "
                   "which has no phases"),
    "aws__aws-sdk-java-v2__buildspecs__integ-test.yml": (VALID, None),
    "aws__aws-sdk-java-v2__buildspecs__noop-without-runtimes.yml": (VALID, None),
    "aws__aws-sdk-java-v2__buildspecs__release-javadoc.yml":
        (WARNINGS, "16:6 phases.build.commands[2]: warning: empty command"),
    "aws__aws-sdk-java-v2__buildspecs__release-to-maven.yml": (VALID, None),
    "aws__aws-toolkit-jetbrains__buildspec__linuxTests.yml":  # reports read from /tmp: never on the host
        (WARNINGS, "reports.unit-test.base-directory: warning: '/tmp/testArtifacts/test-reports' is an absolute"),
    "aws__aws-toolkit-jetbrains__buildspec__windowsTests.yml": (VALID, None),
    "aws__aws-toolkit-vscode__buildspec__linuxIntegrationTests.yml":
        (WARNINGS, "runtime-versions.dotnet: warning: unquoted 6.0 is read as the YAML number 6"),
    "aws__aws-toolkit-vscode__buildspec__linuxTests.yml": (VALID, None),
    # MANIFEST "MALFORMED key": 'Commands' is an unknown key to CodeBuild, which only warns; install also has
    # runtime-versions, so the phase is valid — but its five commands never run.
    "aws__aws-toolkit-vscode__buildspec__release__50githubrelease.yml":
        (WARNINGS, "phases.install.Commands: warning: unknown key 'Commands' (did you mean 'commands'?); CodeBuild "
                   "ignores it, so the 5 command(s) under it never run"),
    "aws__s2n-tls__codebuild__spec__buildspec_fuzz.yml": (VALID, None),
    "aws__s2n-tls__codebuild__spec__buildspec_generalbatch.yml": (VALID, None),
    "aws__s2n-tls__codebuild__spec__buildspec_integ_matrix.yml": (VALID, None),
    "aws__s2n-tls__codebuild__spec__buildspec_ubuntu_fuzz_artifacts.yml": (VALID, None),
    "aws__s2n-tls__codebuild__spec__buildspec_unit_coverage.yml": (VALID, None),
    "aws__sagemaker-python-sdk__buildspec-release.yml": (VALID, None),
    # post_build has only `finally`; the reference says commands are required there, AWS's own CI runs it: warn.
    "aws__sagemaker-python-sdk__buildspec.yml":
        (WARNINGS, "phases.post_build: warning: the post_build phase has 'finally' but no 'commands'"),
    "aws__sagemaker-spark-container__buildspec_test.yml": (VALID, None),
    "aws__sagemaker-xgboost-container__ci__buildspec.yml": (VALID, None),
    "ca-risken__core__codebuild__buildspec.yml": (VALID, None),
    "chartdb__chartdb__buildspec-prod.yml": (VALID, None),
    "compose-x__ecs-service-discovery__.codebuild__buildspec.yml":
        (WARNINGS, "env.shell: warning: unknown shell '/bin/bash' (did you mean 'bash'?)"),
    "cypress-io__cypress-realworld-app__buildspec-matrix.yml": (VALID, None),
    # MANIFEST "MALFORMED": NAME/SPEC/GROUP sit directly under a batch entry's env instead of env.variables.
    # CodeBuild ignores unknown keys, so the builds run without those variables: warnings.
    "cypress-io__cypress-realworld-app__buildspec.yml":
        (WARNINGS, "batch.build-list[1].env.NAME: warning: unknown key 'NAME' in a batch env; CodeBuild ignores it "
                   "(environment variables go under env.variables)"),
    # MANIFEST "MALFORMED": version 0.1 with `phases:` left empty and install/build/post_build indented under
    # environment_variables — no phase would run.
    "dharnitski__golang-codebuild__buildspec.yml":
        (INVALID, "3:1 phases: expected a mapping of phases (install, pre_build, build, post_build), got nothing "
                  "(null); install, build, post_build are under 'environment_variables' (line 9): indent them under "
                  "'phases:'"),
    # Not in the MANIFEST notes: post_build's `sed ... "        image: ${DOCKER_IMAGE}:..."` is unquoted and holds
    # ': ', so YAML reads the command as a mapping — CodeBuild's YAML_FILE_ERROR "Expected Commands[12] to be of
    # string type: found subkeys instead".
    "insidero__parameterized-aws-codebuild-docker-image-buildspec__buildspec.yml":
        (INVALID, "35:9 phases.post_build.commands[12]: YAML_FILE_ERROR: expected a string command, got a mapping "
                  "(quote a command that contains ': '"),
    "jch254__buildpipeline__buildspec-prod.yml": (VALID, None),
    "leomaro7__ecs-blue-green-deployment__buildspec.yml": (VALID, None),
    "magento__pwa-studio__.codebuild__buildspec.yml": (VALID, None),
    "maildev__maildev__codebuild__buildspec.yml": (VALID, None),
    # The unbalanced `$(` is a shell error at run time, not a buildspec error.
    "ministryofjustice__hmpps-delius-po-alfresco-proxy__ci__buildspec.yml": (VALID, None),
    "neparij__Allure.Net.Examples__.aws__buildspec.yml": (VALID, None),
    "ooni__backend__fastpath__buildspec.yml":
        (WARNINGS, "artifacts.files: warning: expected a list of paths, got a single string"),
    "pagopa__pn-load-test__codebuild__buildspec.yml":
        (WARNINGS, "phases.build.commands: warning: expected a list of commands, got a single string"),
    "shashank070__aws-codepipeline-ecs-bluegreen-deployment__buildspec.yml":
        (WARNINGS, "artifacts.files: warning: expected a list of paths, got a single string"),
    "sjamillah__photo-uploader-app__deploy__buildspec.yml": (VALID, None),
    "smarigowda__cypress-example-kitchensink__buildspec-batch.yml": (VALID, None),
    "toluna-terraform__terraform-aws-infra-pipeline__templates__buildspec-git-merge.yml.tpl":
        (VALID, None),
}


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared buildspec corpus is not checked out next to the repository ({CORPUS})")
    return CORPUS


def test_the_verdict_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(VERDICTS)
    assert len(VERDICTS) == 60


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdict(corpus, name):
    verdict, expected = VERDICTS[name]
    found = [str(d) for d in check_buildspec_file(corpus / name, display=name)]
    errors = [d for d in found if ": warning: " not in d]
    warnings = [d for d in found if ": warning: " in d]
    assert all(d.startswith(f"{name}:") for d in found)
    if verdict == INVALID:
        assert any(expected in e for e in errors), found
        return
    assert errors == []
    if verdict == VALID:
        assert warnings == []
    else:
        assert any(expected in w for w in warnings), warnings
        load_buildspec(corpus / name)  # loads: warnings never stop a build


def test_corpus_models_hold_the_values_codebuild_sees(corpus):
    vdb = load_buildspec(corpus / "AcademySoftwareFoundation__openvdb__ci__buildspec.yml")
    assert vdb.phases["install"].runtime_versions == {"python": "3.1"}  # unquoted 3.10
    assert vdb.env.variables == {"PYTHONPATH": ""}
    assert vdb.env.secret("GITHUB_TOKEN").json_key == "token"
    assert vdb.artifacts.name == "fvdb-artifacts" and vdb.cache.paths == ("/root/.cache/pip/**/*",
                                                                           "$HOME/miniforge3/**/*")
    jetbrains = load_buildspec(corpus / "aws__aws-toolkit-jetbrains__buildspec__linuxTests.yml")
    assert jetbrains.env.variables == {"CI": "true", "LOCAL_ENV_RUN": "true"}
    assert jetbrains.reports["unit-test"].discard_paths is True
    assert jetbrains.secondary_artifacts["plugin"].name == "plugin.zip"
    compose = load_buildspec(corpus / "compose-x__ecs-service-discovery__.codebuild__buildspec.yml")
    assert compose.env.variables["USE_EPOCH"] == "0" and compose.env.shell == "/bin/bash"
    assert [b.depend_on for b in compose.batch.builds] == [(), (), ("x86_64", "aarch64")]
    s2n = load_buildspec(corpus / "aws__s2n-tls__codebuild__spec__buildspec_unit_coverage.yml")
    assert s2n.env.parameter_store == {"CODECOV_TOKEN": "codecov-upload-token"}
    assert s2n.phases["build"].on_failure.mode == "ABORT"
    pagopa = load_buildspec(corpus / "pagopa__pn-load-test__codebuild__buildspec.yml")
    assert len(pagopa.phases["build"].commands) == 1  # one block-scalar script
    version = load_buildspec(corpus / "aws__aws-encryption-sdk-javascript__codebuild__release__version.yml")
    assert version.env.git_credential_helper is True and version.env.variables["VERSION_BUMP"] == ""
    sagemaker = load_buildspec(corpus / "aws__sagemaker-python-sdk__buildspec.yml")
    assert sagemaker.phases["post_build"].commands == () and len(sagemaker.phases["post_build"].finally_) == 4


def validate(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd / ".home")}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", "validate", "--kind", "buildspec", str(path)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_conveyor_validate_on_corpus_files(corpus, tmp_path):
    bad = validate(corpus / "Takao-Yamasaki__sbcntr-basic__codebuild__buildspec.yml", tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0] == (
        f"{corpus / 'Takao-Yamasaki__sbcntr-basic__codebuild__buildspec.yml'}:34:5 phases.post_build.artifacts: "
        "'artifacts' is a top-level key, but it is indented under phases.post_build, where CodeBuild ignores it (so "
        "the build uploads no artifacts); move it to the start of the line")
    assert bad.stderr.splitlines()[-1] == "1 error"
    good = validate(corpus / "chartdb__chartdb__buildspec-prod.yml", tmp_path)
    assert good.returncode == 0, good.stderr
    assert "is valid" in good.stdout


def test_conveyor_validate_kind_buildspec(tmp_path):
    (tmp_path / "bad.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - echo Hello: world\n")
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - make\n")
    bad = validate(Path("bad.yml"), tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "bad.yml:5:9 phases.build.commands[0]: YAML_FILE_ERROR: expected a string command, got a mapping (quote a "
        "command that contains ': ', e.g. - 'echo Hello: world')",
        "1 error",
    ]
    good = validate(Path("buildspec.yml"), tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "✓ buildspec.yml (buildspec) is valid"
