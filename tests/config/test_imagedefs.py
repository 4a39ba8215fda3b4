"""conveyor.config.imagedefs: imagedefinitions.json and imageDetail.json as the ECS and CodeDeployToECS
actions read them (aws-semantics §3.2, §3.4), replacing images by container name all or nothing,
and a verdict for every file of the shared corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.config.imagedefs import (
    ImageDefinition,
    apply_image_definitions,
    check_imagedefinitions_file,
    parse_image_detail,
    parse_imagedefinitions,
)
from conveyor.config.taskdef import parse_taskdef
from conveyor.errors import ConfigError, UserError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "imagedefinitions"
DIGEST = "sha256:" + "b" * 64


def messages(text: str, parse=parse_imagedefinitions, source: str = "imagedefinitions.json") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, source)
    return [str(d) for d in info.value.diagnostics]


@pytest.mark.parametrize("text, expected", [
    ('[{"name":"api","imageUri":"127.0.0.1:5000/orders:abc"}]', [ImageDefinition("api", "127.0.0.1:5000/orders:abc")]),
    (json.dumps([{"name": "api", "imageUri": f"orders@{DIGEST}"}, {"name": "worker", "imageUri": "httpd:2.4"}]),
     [ImageDefinition("api", f"orders@{DIGEST}"), ImageDefinition("worker", "httpd:2.4")]),
    ('[{"name":"api","imageUri":"nginx","extra":1}]', [ImageDefinition("api", "nginx")]),  # a warning, not an error
])
def test_parse(text, expected):
    assert parse_imagedefinitions(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("", ["imagedefinitions.json:1:1: the file is empty; expected a JSON object"]),
    ("[{'name': 'api'}]", ["imagedefinitions.json:1:3: malformed JSON: Expecting property name enclosed in double "
                           "quotes"]),
    ("[]", ['imagedefinitions.json:1:1: the list is empty: the ECS action needs at least one entry [{"name": '
            '"<container name>", "imageUri": "<image>"}]']),
    ('{"name": "api", "imageUri": "nginx"}', ['imagedefinitions.json:1:1: expected a JSON array [{"name": '
                                              '"<container name>", "imageUri": "<image>"}], got a mapping']),
    ('{"ImageURI": "nginx"}', ['imagedefinitions.json:1:1: this is an imageDetail.json ({"ImageURI": ...}, what '
                               'CodeDeployToECS reads); the ECS action reads imagedefinitions.json, a list that names '
                               'the container: [{"name": "<container name>", "imageUri": "<image>"}]']),
    ('["nginx"]', ['imagedefinitions.json:1:2 [0]: expected an object {"name": ..., "imageUri": ...}, got a string']),
    ('[{"imageUri": "nginx"}]', ["imagedefinitions.json:1:2 [0]: missing required key 'name'"]),
    ('[{"name": "api", "imageURI": "nginx"}]', [
        "imagedefinitions.json:1:2 [0]: missing required key 'imageUri' (there is 'imageURI': keys are case-sensitive)",
        "imagedefinitions.json:1:18 [0].imageURI: warning: unknown key 'imageURI' (did you mean 'imageUri'?); the ECS "
        "action reads only name and imageUri"]),
    ('[{"name": "", "imageUri": "nginx"}]', ["imagedefinitions.json:1:3 [0].name: the container name is empty"]),
    ('[{"name": 1, "imageUri": "nginx"}]', ["imagedefinitions.json:1:3 [0].name: expected a container name, got an "
                                            "integer"]),
    ('[{"name": "api", "imageUri": "nginx"},\n {"name": "api", "imageUri": "httpd"}]', [
        "imagedefinitions.json:2:3 [1].name: duplicate name 'api' (also entry 0): one entry per container"]),
    ('[{"name": "api", "imageUri": "orders: v1"}]', [
        "imagedefinitions.json:1:18 [0].imageUri: invalid image 'orders: v1': ECS allows letters, digits and - _ . : / "
        "# (then @sha256:DIGEST for a digest)"]),
    ('[{"name": "api", "imageUri": ""}]', ["imagedefinitions.json:1:18 [0].imageUri: the image is empty"]),
])
def test_errors(text, expected):
    assert messages(text) == expected


def test_more_than_100_kb_is_rejected():
    entries = [{"name": f"c{i}", "imageUri": f"127.0.0.1:5000/repository-{i}:{'x' * 40}"} for i in range(1500)]
    found = messages(json.dumps(entries))
    assert found[0].startswith("imagedefinitions.json: the file is ")
    assert found[0].endswith("bytes; CodePipeline reads at most 100 KB (102400 bytes)")


@pytest.mark.parametrize("text, expected", [
    ('{"ImageURI": "nginx:1"}', "nginx:1"),
    (json.dumps({"ImageSizeInBytes": "44728918", "ImageDigest": DIGEST, "Version": "1.0",
                 "ImagePushedAt": "Mon Jan 21 20:04:00 UTC 2019", "RegistryId": "123456789012",
                 "RepositoryName": "my-repo",
                 "ImageURI": f"123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repo@{DIGEST}",
                 "ImageTags": ["latest"]}), f"123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repo@{DIGEST}"),
])
def test_image_detail(text, expected):
    assert parse_image_detail(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('[{"name": "api", "imageUri": "nginx"}]', [
        'imageDetail.json:1:1: this is an imagedefinitions.json (a list of {name, imageUri}, what the ECS action '
        'reads); CodeDeployToECS reads imageDetail.json, an object: {"ImageURI": "<image>"}']),
    ('{"imageUri": "nginx"}', [
        "imageDetail.json:1:1: missing required key 'ImageURI' (there is 'imageUri': keys are case-sensitive)",
        "imageDetail.json:1:2 imageUri: warning: unknown key 'imageUri' (did you mean 'ImageURI'?); CodeDeployToECS "
        "reads only ImageURI"]),
    ('"nginx"', ['imageDetail.json:1:1: expected a JSON object {"ImageURI": "<image>"}, got a string']),
])
def test_image_detail_errors(text, expected):
    assert messages(text, parse_image_detail, "imageDetail.json") == expected


# --- replacing images -------------------------------------------------------------------------------

TASKDEF = {"family": "orders-service", "containerDefinitions": [
    {"name": "api", "image": "<IMAGE1_NAME>", "memory": 256},
    {"name": "sidecar", "image": "busybox:1", "memory": 64, "essential": False}]}


def test_apply_replaces_listed_containers_and_keeps_the_rest():
    td, _ = parse_taskdef(TASKDEF)
    new = apply_image_definitions(td, [ImageDefinition("api", "127.0.0.1:5000/orders:abc")])
    assert [c.image for c in new.containers] == ["127.0.0.1:5000/orders:abc", "busybox:1"]
    assert new.raw["containerDefinitions"][0]["image"] == "127.0.0.1:5000/orders:abc"


@pytest.mark.parametrize("defs, expected", [
    ([ImageDefinition("web", "x")],
     'imagedefinitions.json: container "web" (entry 0) does not exist in task definition orders-service (containers: '
     'api, sidecar); the name must equal containerDefinitions[].name'),
    ([ImageDefinition("API", "x")],
     'imagedefinitions.json: container "API" (entry 0) does not exist in task definition orders-service (containers: '
     "api, sidecar) (did you mean 'api'?); the name must equal containerDefinitions[].name"),
    ([ImageDefinition("api", "x"), ImageDefinition("web", "y"), ImageDefinition("db", "z")],
     'imagedefinitions.json: containers "web" (entry 1), "db" (entry 2) do not exist in task definition '
     "orders-service (containers: api, sidecar); the name must equal containerDefinitions[].name"),
])
def test_apply_fails_whole_on_an_unknown_name(defs, expected):
    td, _ = parse_taskdef(TASKDEF)
    with pytest.raises(UserError) as info:
        apply_image_definitions(td, defs)
    assert str(info.value) == expected
    assert info.value.hint == "fix the name where imagedefinitions.json is written (often a printf in the buildspec)"
    assert td.container("api").image == "<IMAGE1_NAME>"  # nothing changed


# --- the corpus -----------------------------------------------------------------------------------

VALID, WARNINGS = "valid", "valid-with-warnings"
VERDICTS = {
    "2402199__CiCD-ECS__imagedefinitions.json": (VALID, None),  # pinned by digest
    "AchillesLe__docker-ecs__imagedefinitions.json": (VALID, None),
    "ArielDomchik__ECS-Terraform-CodePipeline-Deployment__imagedefinitions.json": (VALID, None),
    "Boscoand__ecs-demo-php-simple-app__imageDetail.json": (VALID, None),  # imageDetail.json, by digest
    "DataAgora__decentralized-ml__imagedefinitions.json": (VALID, None),  # no tag: implicit latest
    "Future-Position-X__fpx-monorepo__imagedefinitions.json": (VALID, None),  # Docker Hub
    "aws-samples__java-sample-app__imageDetail.json": (VALID, None),  # "ecrRepoOutput:latest" is a valid reference
    # MANIFEST: committed as ImageDetail.json, a name CodeDeployToECS does not look for.
    "shashank070__aws-codepipeline-ecs-bluegreen-deployment__ImageDetail.json":
        (WARNINGS, "warning: the file is named ImageDetail.json, but CodeDeployToECS looks for exactly "
                   "imageDetail.json (names are case-sensitive)"),
    "thenoblet__pexelhub__deploy__imageDetail.json": (VALID, None),
    "uu64__ecs-bg-deployment-example__imageDetail.json": (VALID, None),
}


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared imagedefinitions corpus is not checked out next to the repository ({CORPUS})")
    return CORPUS


def test_the_verdict_table_covers_the_corpus(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdict(corpus, name):
    verdict, expected = VERDICTS[name]
    found = [str(d) for d in check_imagedefinitions_file(corpus / name, name)]
    assert [d for d in found if ": warning: " not in d] == []
    if verdict == VALID:
        assert found == []
    else:
        assert any(expected in w for w in found), found
    text = (corpus / name).read_text()
    if name.lower().endswith("imagedetail.json"):
        assert parse_image_detail(text, name)
    else:
        assert parse_imagedefinitions(text, name)[0].image_uri


def test_corpus_values(corpus):
    [pinned] = parse_imagedefinitions((corpus / "2402199__CiCD-ECS__imagedefinitions.json").read_text())
    assert pinned.name == "ECS" and "@sha256:b6ce1e9f" in pinned.image_uri
    assert parse_image_detail((corpus / "uu64__ecs-bg-deployment-example__imageDetail.json").read_text()) == \
        "nginxdemos/hello:latest"


def test_a_missing_file():
    assert [str(d) for d in check_imagedefinitions_file(Path("/nonexistent/imagedefinitions.json"), "x.json")] == [
        "x.json: file not found"]
