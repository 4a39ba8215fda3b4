"""The image files a pipeline hands to a deploy (aws-semantics §3.2, §3.4):

- imagedefinitions.json, the standard ECS action's input: a JSON array of {"name", "imageUri"},
  one entry per container whose image changes, at most 100 KB;
- imageDetail.json, CodeDeployToECS's input: a JSON object with at least "ImageURI".

    defs = parse_imagedefinitions(text)              # [ImageDefinition("api", "...")] or ConfigError
    td = apply_image_definitions(td, defs)           # new images by container name, all or nothing
    uri = parse_image_detail(text)                   # "...@sha256:..." or ConfigError

Mixing the two files up is the classic mistake ("Exception while trying to read the image
artifact file"): each parser recognises the other's shape and says which file is which.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor.config.taskdef import TaskDefinition
from conveyor.config.taskdef_check import image_problem
from conveyor.documents.checker import Checker, did_you_mean, type_name
from conveyor.documents.located import Document, load_json
from conveyor.documents.source import read_text_file
from conveyor.errors import ConfigError, Diagnostic, UserError

MAX_BYTES = 100 * 1024  # "UTF-8, at most 100 KB" (CodePipeline file reference)
IMAGE_DEFINITION_KEYS = ("name", "imageUri")
IMAGE_DETAIL_NAME = "imageDetail.json"  # the exact name CodeDeployToECS looks for
# What the ECR source action writes into imageDetail.json.
IMAGE_DETAIL_KEYS = ("ImageURI", "ImageSizeInBytes", "ImageDigest", "Version", "ImagePushedAt", "RegistryId",
                     "RepositoryName", "ImageTags")
IMAGE_DEFINITIONS_SHAPE = '[{"name": "<container name>", "imageUri": "<image>"}]'


@dataclass(frozen=True)
class ImageDefinition:
    name: str       # containerDefinitions[].name in the task definition
    image_uri: str


def parse_imagedefinitions(text: str, source: str = "imagedefinitions.json") -> list[ImageDefinition]:
    """The entries of an imagedefinitions.json text, or ConfigError with every problem."""
    doc, diagnostics = _check_imagedefinitions(text, source)
    if any(d.severity == "error" for d in diagnostics) or doc is None:
        raise ConfigError(diagnostics)
    return [ImageDefinition(e["name"], e["imageUri"]) for e in doc.data]


def parse_image_detail(text: str, source: str = IMAGE_DETAIL_NAME) -> str:
    """The ImageURI of an imageDetail.json text, or ConfigError with every problem."""
    doc, diagnostics = _check_image_detail(text, source)
    if any(d.severity == "error" for d in diagnostics) or doc is None:
        raise ConfigError(diagnostics)
    return doc.data["ImageURI"]


def check_imagedefinitions_file(path: Path, source: str) -> list[Diagnostic]:
    """For `conveyor validate --kind imagedefinitions`: an imageDetail.json (by its name, in any
    case) is checked as CodeDeployToECS reads it, anything else as imagedefinitions.json."""
    try:
        text = read_text_file(path, source)
    except ConfigError as exc:
        return exc.diagnostics
    name = Path(path).name
    if name.lower().endswith(IMAGE_DETAIL_NAME.lower()):
        diagnostics = _check_image_detail(text, source)[1]
        if not name.endswith(IMAGE_DETAIL_NAME):
            wrong = name[len(name) - len(IMAGE_DETAIL_NAME):]
            diagnostics.append(Diagnostic(source, 0, 0, "", f"the file is named {wrong}, but CodeDeployToECS looks for "
                                                            f"exactly {IMAGE_DETAIL_NAME} (names are case-sensitive)",
                                          "warning"))
        return sorted(diagnostics)
    return _check_imagedefinitions(text, source)[1]


def apply_image_definitions(taskdef: TaskDefinition, defs: list[ImageDefinition],
                            source: str = "imagedefinitions.json") -> TaskDefinition:
    """`taskdef` with each listed container's image replaced; containers not listed keep theirs.
    A name that is not a container fails the whole update (UserError), as the ECS action does."""
    names = [c.name for c in taskdef.containers]
    missing = [(i, d.name) for i, d in enumerate(defs) if taskdef.container(d.name) is None]
    if missing:
        which = ", ".join(f'"{name}" (entry {i})' for i, name in missing)
        noun, verb = ("container", "does") if len(missing) == 1 else ("containers", "do")
        guess = did_you_mean(missing[0][1], names) if len(missing) == 1 else ""
        raise UserError(f"{source}: {noun} {which} {verb} not exist in task definition {taskdef.family} "
                        f"(containers: {', '.join(names)}){guess}; the name must equal containerDefinitions[].name",
                        hint=f"fix the name where {source} is written (often a printf in the buildspec)")
    return taskdef.with_images({d.name: d.image_uri for d in defs})


# --- the checks ---------------------------------------------------------------------------------


def _load(text: str, source: str) -> tuple[Document | None, list[Diagnostic]]:
    diagnostics = []
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        diagnostics.append(Diagnostic(source, 0, 0, "", f"the file is {size} bytes; CodePipeline reads at most "
                                                        f"100 KB ({MAX_BYTES} bytes)"))
    try:
        return load_json(text, source), diagnostics
    except ConfigError as exc:
        return None, diagnostics + exc.diagnostics


def _check_uri(chk: Checker, path: tuple, key: str, value: object) -> None:
    if chk.is_type(path + (key,), value, str) and (problem := image_problem(value)):  # type: ignore[arg-type]
        chk.error(path + (key,), problem)


def _check_imagedefinitions(text: str, source: str) -> tuple[Document | None, list[Diagnostic]]:
    doc, diagnostics = _load(text, source)
    if doc is None:
        return None, diagnostics
    chk = Checker(doc)
    data = doc.data
    if isinstance(data, dict) and "ImageURI" in data:
        chk.error((), f"this is an imageDetail.json ({{\"ImageURI\": ...}}, what CodeDeployToECS reads); the ECS "
                      f"action reads imagedefinitions.json, a list that names the container: {IMAGE_DEFINITIONS_SHAPE}")
    elif not isinstance(data, list):
        chk.error((), f"expected a JSON array {IMAGE_DEFINITIONS_SHAPE}, got {type_name(data)}")
    elif not data:
        chk.error((), f"the list is empty: the ECS action needs at least one entry {IMAGE_DEFINITIONS_SHAPE}")
    else:
        seen: dict[str, int] = {}
        for i, entry in enumerate(data):
            if not chk.is_type((i,), entry, dict, 'an object {"name": ..., "imageUri": ...}'):
                continue
            for key in entry:
                if key not in IMAGE_DEFINITION_KEYS:
                    chk.warning((i, key), f"unknown key '{key}'{did_you_mean(key, IMAGE_DEFINITION_KEYS)}; the ECS "
                                          "action reads only name and imageUri")
            name = chk.get((i,), "name", str, required=True, what="a container name")
            if name is not None:
                if not name:
                    chk.error((i, "name"), "the container name is empty")
                elif name in seen:
                    chk.error((i, "name"), f"duplicate name '{name}' (also entry {seen[name]}): "
                                           "one entry per container")
                seen.setdefault(name, i)
            if entry.get("imageUri") is None:
                close = next((k for k in entry if k.lower() == "imageuri"), None)
                chk.error((i,), "missing required key 'imageUri'" + (f" (there is '{close}': keys are case-sensitive)"
                                                                      if close else ""))
            else:
                _check_uri(chk, (i,), "imageUri", entry["imageUri"])
    return doc, sorted(diagnostics + chk.diagnostics)


def _check_image_detail(text: str, source: str) -> tuple[Document | None, list[Diagnostic]]:
    doc, diagnostics = _load(text, source)
    if doc is None:
        return None, diagnostics
    chk = Checker(doc)
    data = doc.data
    if isinstance(data, list):
        chk.error((), f"this is an imagedefinitions.json (a list of {{name, imageUri}}, what the ECS action reads); "
                      f"CodeDeployToECS reads {IMAGE_DETAIL_NAME}, an object: {{\"ImageURI\": \"<image>\"}}")
    elif not isinstance(data, dict):
        chk.error((), f"expected a JSON object {{\"ImageURI\": \"<image>\"}}, got {type_name(data)}")
    else:
        for key in data:
            if key not in IMAGE_DETAIL_KEYS:
                chk.warning((key,), f"unknown key '{key}'{did_you_mean(key, IMAGE_DETAIL_KEYS)}; CodeDeployToECS reads "
                                    "only ImageURI")
        if data.get("ImageURI") is None:
            close = next((k for k in data if k.lower() == "imageuri"), None)
            chk.error((), "missing required key 'ImageURI'" + (f" (there is '{close}': keys are case-sensitive)"
                                                               if close else ""))
        else:
            _check_uri(chk, (), "ImageURI", data["ImageURI"])
    return doc, sorted(diagnostics + chk.diagnostics)
