"""conveyor.config.appspec on the real AppSpecs of the shared corpus (MANIFEST.tsv says where each
comes from and what it exercises): a verdict per file, with its reason, and the EC2/on-premises
AppSpecs rejected with one message that says what they are.

Why templates are errors, not warnings: on the way to CodeDeploy, CodePipeline's CodeDeployToECS
renders exactly one token, `<TASK_DEFINITION>` (aws-semantics §3.5). A file that still holds `$VAR`,
`${VAR}`, `<CONTAINER_PORT>` or `%{ if }` cannot be deployed as it is; it must be rendered first
(envsubst, sed, terraform templatefile) and the result validated. The error says so at each value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config.appspec import check_appspec_file, load_appspec

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ECS, EC2 = CORPUS / "appspec-ecs", CORPUS / "appspec-ec2"

VALID, WARNINGS, INVALID = "valid", "valid-with-warnings", "invalid"
P = "Resources[0].TargetService.Properties."
NOT_REPLACED = ("is not replaced: CodeDeployToECS replaces only the exact token <TASK_DEFINITION> (angle brackets "
                "included)")
UNRENDERED = "looks like a template placeholder that was not rendered"

# Every corpus file, its verdict, and a substring of the main error (invalid) or warning.
VERDICTS = {
    # MANIFEST "questionable": the task definition's file name where a registered task definition belongs.
    "2025-softbank-hackathon__backend__appspec.yaml":
        (INVALID, f"6:9 {P}TaskDefinition: 'taskdef.json' is a file name, but TaskDefinition names a registered "
                  "task definition: with CodeDeployToECS write <TASK_DEFINITION>"),
    # An ARN without :REVISION (ECS takes the latest ACTIVE one) and ContainerPort "80" (a quoted number).
    "5hry__e-commerce-web-bluegreen-deploy__appspec.yaml":
        (WARNINGS, f"10:9 {P}TaskDefinition: warning: the ARN names no revision"),
    "AbdulrahmanSamir__nodejs-BG-ECS__appspec.yaml": (VALID, None),  # the canonical CodePipeline form
    # MANIFEST says CodePipeline overwrites the dummy; it replaces only <TASK_DEFINITION> (§3.5).
    "Abrar-Akbar__aws-codepipeline-bluegreen-swiggy__appspec.yaml":
        (INVALID, f"6:9 {P}TaskDefinition: 'arn:....' is not an ECS task definition ARN"),
    "AleksandarCvjetic__aws-ecs-pipeline-with-blue-green-deployment__appspec.yaml": (VALID, None),  # 1-space indent
    "AndreasX42__quizstream__.aws__appspec.yaml": (VALID, None),  # PlatformVersion, ignored locally
    "Aton-Kish__ecs-blue-green-deployment__codedeploy__appspec.yaml": (VALID, None),  # version: '0.0' (a string)
    # JSON: TaskDefinition is the literal word "ARN".
    "DevopsArtFactory__springboot-sample__appspec.json":
        (INVALID, f"8:21 {P}TaskDefinition: 'ARN' is not a task definition; expected <TASK_DEFINITION>"),
    # version: 1, and a placeholder CodeDeployToECS does not know.
    "Harshita123-coder__Mercor__codedeploy__appspec.yaml":
        (INVALID, "1:1 version: version must be 0.0, the only AppSpec version, got 1"),
    "Jareechang__ecs-nextjs__appspec.json":
        (INVALID, "1:1: missing required key 'version': an AppSpec starts with version: 0.0"),
    "Jonathan1503__taller_codedeploy_fargate__appspec.json":
        (INVALID, "2:5 version: version must be 0.0, the only AppSpec version, got 1"),
    "Mohinish-K053__strapi_blue_green_dep__appspec.json":
        (INVALID, f"8:13 {P}TaskDefinition: 'REPLACE_TASK_DEFINITION_ARN' is not a task definition"),
    "Vijay-Pattar__aws-ecs-production-platform__deploy__appspec.yaml": (VALID, None),
    # A concrete ARN with its revision; `Hooks:` with every entry commented out is null, i.e. no hooks.
    "aws-6w8hnx__code-workshop-ecs-lambda-codedeploy__ECS-BlueGreen__appspec__appspec.yml": (VALID, None),
    # MANIFEST: blanks " " filled in by a script.
    "aws-samples__ecs-blue-green-deployment-with-codedeploy__iac__code-deploy__appspec.yml":
        (INVALID, f"11:11 {P}LoadBalancerInfo.ContainerName: ContainerName is blank"),
    "aws-samples__ecs-windows-ci-cd-blue-green__asset__appspec_template.yaml":
        (INVALID, f"9:11 {P}LoadBalancerInfo.ContainerPort: ContainerPort must be a port number 1-65535, got "
                  f"'<CONTAINER_PORT>'; '<CONTAINER_PORT>' {UNRENDERED}"),
    # NetworkConfiguration (ignored locally) and two hooks.
    "aws-samples__sample-intelligent-rollback__deploy__appspec.yaml": (VALID, None),
    # <region>/<account> left in the task definition ARN (and in the hook's Lambda ARN).
    "benbpyle__ecs-blue-green-cdk-rust-hook__lib__code-deploy__app-spec.yml":
        (INVALID, f"6:9 {P}TaskDefinition: the ARN still holds <region>, <account>: fill them in"),
    "cam-spec__aws-microservices-cicd-platform__cicd__appspec.yaml":
        (INVALID, f"8:9 {P}TaskDefinition: '<CUSTOMER_SERVICE_TASK_DEFINITION_ARN>' {NOT_REPLACED}"),
    "dpla__api__appspec_template.yaml":
        (INVALID, f"6:9 {P}TaskDefinition: '$TASK_DEFINITION' {UNRENDERED}"),
    "hidekiakizuki__sample_app__aws__appspec.yaml": (VALID, None),  # trailing whitespace
    "josefloressv__aws-devops-sdlc-automation__ecs__appspec.yaml":
        (INVALID, f"13:9 {P}TaskDefinition: 'TASK_DEFINITION_ARN_PLACEHOLDER' is not a task definition"),
    "moabukar__blue-green__ecs__appspec.yaml":
        (INVALID, f"8:11 {P}LoadBalancerInfo.ContainerName: invalid container name '[YOUR_ContainerName]'"),
    "msg-systems__CloudNativeDemo__appspec_template.yaml":
        (INVALID, f"8:11 {P}LoadBalancerInfo.ContainerPort: ContainerPort must be a port number 1-65535, got "
                  f"'${{ECS_CONTAINER_PORT}}'; '${{ECS_CONTAINER_PORT}}' {UNRENDERED}"),
    "snowiow__green-blue-ecs-example__appspec_template.yaml":
        (INVALID, f"14:30 {P}NetworkConfiguration.AwsvpcConfiguration.SecurityGroups[0]: '$SECURITY_GROUP' "
                  f"{UNRENDERED}"),
    "somleng__somleng__deploy__appspec.yaml":
        (INVALID, f"5:9 {P}TaskDefinition: 'task-definition-ARN' is not a task definition"),
    "theonlymonica__bluegreen-ecs-fargate-examples__codedeploy__appspec.yaml":
        (INVALID, f"6:9 {P}TaskDefinition: '<TASK_DEFINITION_ARN:revision>' {NOT_REPLACED}"),
    # A Terraform templatefile: strict JSON stops at the bare <CONTAINER_PORT>, and says why.
    "toluna-terraform__terraform-aws-ecs-gitflow__templates__appspec.json.tpl":
        (INVALID, "11:42: malformed JSON: Expecting value ('<CONTAINER_PORT>' is a template placeholder that was not "
                  "rendered: render the file before using it)"),
    "uma-arai__sbcntr-resources__cicd__appspec.yaml":
        (INVALID, "1:1 version: version must be 0.0, the only AppSpec version, got 1"),
    "yutaka0m__kotlin-api-sample__.aws__appspec.yaml": (VALID, None),  # PlatformVersion before LoadBalancerInfo
}


@pytest.fixture
def corpus() -> Path:
    if not ECS.is_dir() or not EC2.is_dir():
        pytest.skip(f"the shared appspec corpus is not checked out next to the repository ({CORPUS})")
    return CORPUS


def test_the_verdict_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in ECS.iterdir()) == sorted(VERDICTS)
    assert len(VERDICTS) == 30


def test_the_verdict_counts():
    counts = {v: sum(1 for verdict, _ in VERDICTS.values() if verdict == v) for v in (VALID, WARNINGS, INVALID)}
    assert counts == {VALID: 9, WARNINGS: 1, INVALID: 20}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdict(corpus, name):
    verdict, expected = VERDICTS[name]
    found = [str(d) for d in check_appspec_file(ECS / name, name)]
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
    load_appspec(ECS / name, name)  # warnings never stop a deploy


@pytest.mark.parametrize("name", ["00010358__DSCC_API_CW_00010358__appspec.yml", "0pointr__aws-bootstrap__appspec.yml",
                                  "0xff0xfe__DVWA__appspec.yml",
                                  "Andrew-Chen-Wang__cookiecutter-django-ecs-github__appspec.yaml",
                                  "aws-samples__aws-codepipeline-s3-codedeploy-linux__appspec.yml"])
def test_ec2_appspecs_get_one_error_saying_what_they_are(corpus, name):
    found = check_appspec_file(EC2 / name, name)
    assert len(found) == 1 and found[0].severity == "error"
    text = str(found[0])
    assert text.startswith(f"{name}:2:1 os: this is an EC2/on-premises AppSpec (it has os, files")
    assert "Conveyor deploys ECS services" in text and "Type: AWS::ECS::Service" in text


def test_the_ec2_corpus_is_covered(corpus):
    assert len(list(EC2.iterdir())) == 5


def test_the_hybrid_ec2_ecs_file_says_what_to_remove(corpus):
    name = "Andrew-Chen-Wang__cookiecutter-django-ecs-github__appspec.yaml"
    (found,) = check_appspec_file(EC2 / name, name)
    assert "(it has os, files; it also has an ECS TargetService: remove os, files)" in found.message


def test_corpus_models_hold_what_conveyor_deploys(corpus):
    rollback = load_appspec(ECS / "aws-samples__sample-intelligent-rollback__deploy__appspec.yaml")
    assert rollback.needs_task_definition
    assert (rollback.container_name, rollback.container_port) == ("sample-app", 8080)
    assert rollback.hooks == (("BeforeAllowTraffic", "CodeDeployHook_BeforeTraffic"),
                              ("AfterAllowTraffic", "CodeDeployHook_AfterTraffic"))
    assert rollback.ignored == ("PlatformVersion", "NetworkConfiguration")
    assert rollback.network_configuration["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"

    quoted = load_appspec(ECS / "5hry__e-commerce-web-bluegreen-deploy__appspec.yaml")
    assert quoted.container_port == 80
    assert quoted.task_definition_revision() == ("ws1-bluegreen-task-def", None)

    workshop = load_appspec(ECS / "aws-6w8hnx__code-workshop-ecs-lambda-codedeploy__ECS-BlueGreen__appspec__"
                                  "appspec.yml")
    assert workshop.hooks == () and not workshop.needs_task_definition
    assert workshop.task_definition_revision() == ("cdkcodeworkshopecsbluegreendeploystackcodeDeployTaskDef16FC7A58", 2)

    quoted_version = load_appspec(ECS / "Aton-Kish__ecs-blue-green-deployment__codedeploy__appspec.yaml")
    assert quoted_version.version == "0.0" and quoted_version.ignored == ()
