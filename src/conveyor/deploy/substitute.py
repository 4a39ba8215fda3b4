"""What the CodeDeployToECS action does to its two templates before it calls CodeDeploy
(aws-semantics §3.5). Pure text, exactly as CodePipeline does it:

    pairs = image_artifacts(action_configuration)    # [(1, "BuildArtifact", "IMAGE1_NAME")]
    uri = read_image_detail(artifact_dir, "BuildArtifact")           # imageDetail.json's ImageURI
    taskdef_text = substitute_images(taskdef_text, {"IMAGE1_NAME": uri})
    unreplaced_placeholders(taskdef_text)            # [] — or ["<IMAGE2_NAME>"]: no image for it
    appspec_text = substitute_task_definition(appspec_text, registered_arn)

Image<N>ContainerName is a placeholder name, not a container name: IMAGE1_NAME replaces the text
`<IMAGE1_NAME>` wherever it appears, whatever the container is called. An ImageURI holds only the
characters of an image reference (imageDetail.json is checked by conveyor.config.imagedefs), so it
can be put into JSON text without escaping.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conveyor.config.appspec_check import TASK_DEFINITION_TOKEN
from conveyor.config.imagedefs import IMAGE_DETAIL_NAME, parse_image_detail
from conveyor.documents.located import loads_limited
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, UserError
from conveyor.paths import is_inside

MAX_IMAGES = 4  # Image1..Image4 (action-reference-ECSbluegreen)
IMAGE_DEFINITIONS_NAME = "imagedefinitions.json"
TOKEN = re.compile(r"<[A-Z0-9_]+>")
# The AWS messages (aws-semantics §3.5, gotcha 15).
MISSING_KEY = "Action configuration is missing '{key}' configuration"
UNREADABLE_IMAGE = "Exception while trying to read the image artifact file from the artifact: {artifact}"


def substitute_images(taskdef_text: str, images: dict[str, str]) -> str:
    """`taskdef_text` with every `<NAME>` replaced by images[NAME] (NAME as written in
    Image<N>ContainerName, without the brackets).

    A placeholder that is not in the text changes nothing. One that is in the text but has no
    image stays, and the task definition then has the image "<IMAGE1_NAME>": find those with
    unreplaced_placeholders() and refuse to register it (ECS would fail to pull it).

    >>> substitute_images('{"image": "<IMAGE1_NAME>"}', {"IMAGE1_NAME": "registry/web@sha256:ab"})
    '{"image": "registry/web@sha256:ab"}'
    """
    for name, uri in images.items():
        taskdef_text = taskdef_text.replace(f"<{name}>", uri)
    return taskdef_text


def substitute_task_definition(appspec_text: str, arn: str) -> str:
    """`appspec_text` with every `<TASK_DEFINITION>` replaced by `arn`, the revision just registered.

    Nothing else is replaced: an AppSpec that names a task definition itself (an ARN) deploys
    that one, and one with another placeholder (`<TASK_DEF_ARN>`) keeps it and fails validation.

    >>> substitute_task_definition("TaskDefinition: <TASK_DEFINITION>", "orders:8")
    'TaskDefinition: orders:8'
    """
    return appspec_text.replace(TASK_DEFINITION_TOKEN, arn)


def unreplaced_placeholders(taskdef_text: str) -> list[str]:
    """The `<NAME>` tokens still in the containers' image fields, in order, each once.

    >>> unreplaced_placeholders('{"containerDefinitions": [{"name": "web", "image": "<IMAGE1_NAME>"}]}')
    ['<IMAGE1_NAME>']
    """
    try:
        data = loads_limited(taskdef_text, "taskdef.json")
    except ConfigError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("containerDefinitions"), list):
        images = [c.get("image") for c in data["containerDefinitions"] if isinstance(c, dict)]
    else:  # not JSON (yet): look at the text of every "image" value
        images = re.findall(r'"image"\s*:\s*"([^"]*)"', taskdef_text)
    found: list[str] = []
    for image in images:
        for token in TOKEN.findall(image) if isinstance(image, str) else ():
            if token not in found:
                found.append(token)
    return found


def absent_placeholders(taskdef_text: str, names: list[str]) -> list[str]:
    """The names whose `<NAME>` does not appear in the task definition (their image is unused)."""
    return [name for name in names if f"<{name}>" not in taskdef_text]


def image_artifacts(configuration: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(N, artifact name, placeholder name) for each Image<N> pair of a CodeDeployToECS action
    configuration, by N. Keys are read as conveyor.yml writes them (image1ArtifactName) or as
    CodePipeline JSON does (Image1ArtifactName). One without the other is a UserError with AWS's
    message, for every such N at once.

    >>> image_artifacts({"image1ArtifactName": "BuildArtifact", "image1ContainerName": "IMAGE1_NAME"})
    [(1, 'BuildArtifact', 'IMAGE1_NAME')]
    """
    pairs, problems = [], []
    for n in range(1, MAX_IMAGES + 1):
        artifact, container = (_setting(configuration, f"Image{n}{what}") for what in ("ArtifactName", "ContainerName"))
        if artifact and container:
            pairs.append((n, artifact, container))
        elif artifact or container:
            problems.append(MISSING_KEY.format(key=f"Image{n}ContainerName" if artifact else f"Image{n}ArtifactName"))
    if problems:
        raise UserError("; ".join(problems), hint="each Image<N>ArtifactName (the input artifact holding "
                                                  "imageDetail.json) needs its Image<N>ContainerName (the placeholder "
                                                  "<NAME> to replace in the task definition), and the other way round")
    return pairs


def read_image_detail(directory: Path, artifact: str) -> str:
    """The ImageURI of imageDetail.json at the root of the artifact `artifact`, extracted in
    `directory`; UserError with AWS's message otherwise, and a hint saying what is wrong (an
    imagedefinitions.json instead, a wrongly-cased name, an invalid file)."""
    directory = Path(directory)
    path = directory / IMAGE_DETAIL_NAME
    message = UNREADABLE_IMAGE.format(artifact=artifact)
    if path.is_symlink() and not is_inside(directory, path):
        raise UserError(message, hint=f"{IMAGE_DETAIL_NAME} is a symbolic link to outside its artifact")
    if not path.is_file():
        names = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
        near = next((n for n in names if n.lower() == IMAGE_DETAIL_NAME.lower()), None)
        if near is not None:
            hint = (f"the file is named {near}; CodeDeployToECS looks for exactly {IMAGE_DETAIL_NAME} (names are "
                    "case-sensitive)")
        elif any(n.lower() == IMAGE_DEFINITIONS_NAME for n in names):
            hint = (f"the artifact holds {IMAGE_DEFINITIONS_NAME}, the file of the standard ECS action; "
                    f"CodeDeployToECS reads {IMAGE_DETAIL_NAME}: {{\"ImageURI\": \"<image>\"}} (in a buildspec: "
                    f"printf '{{\"ImageURI\":\"%s\"}}' \"$REPOSITORY_URI:$TAG\" > {IMAGE_DETAIL_NAME}, listed in "
                    "artifacts.files)")
        else:
            listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "nothing"
            hint = f"there is no {IMAGE_DETAIL_NAME} at the root of the artifact (it holds {listed})"
        raise UserError(message, hint=hint)
    try:
        source = f"{artifact}/{IMAGE_DETAIL_NAME}"
        return parse_image_detail(read_text_file(path, source), source)
    except ConfigError as exc:
        raise UserError(message, hint="; ".join(str(d) for d in exc.diagnostics if d.severity == "error")) from None


def _setting(configuration: dict[str, Any], key: str) -> str | None:
    value = configuration.get(key[0].lower() + key[1:], configuration.get(key))
    return value if isinstance(value, str) and value else None
