"""Buildspecs the pipeline template writes itself, for actions that CodePipeline runs as a CodeBuild
project of ours: the Image action (build, push to ECR, hand on imagedefinitions.json and
imageDetail.json, export the ECR source action's variables) and a Command that the Commands action
cannot take (its own image, more than 10 variables, or a typed variable it does not support).

    text = image_buildspec({"repository": "orders", "tags": ["stable"]}, output=True)
    yaml.safe_load(text)["env"]["exported-variables"]
    # -> ['ImageURI', 'ImageDigest', 'ImageTag', 'RepositoryName', 'RegistryId']
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from conveyor.config.command_shell import output_files, shell_lines

BUILDSPEC_VERSION = "0.2"
IMAGE_VARIABLES = ["ImageURI", "ImageDigest", "ImageTag", "RepositoryName", "RegistryId"]  # actions/image.py
SHORT_SHA = 7  # actions/image.py: the first 7 characters of the commit tag every image


def command_buildspec(conf: dict[str, Any], *, output: bool) -> str:
    spec: dict[str, Any] = {"version": BUILDSPEC_VERSION}
    if conf.get("outputVariables"):
        spec["env"] = {"exported-variables": [str(v) for v in conf["outputVariables"]]}
    spec["phases"] = {"build": {"commands": shell_lines(conf)}}
    if output:
        spec["artifacts"] = {"files": output_files(conf)}
    return _dump(spec)


def image_buildspec(conf: dict[str, Any], *, output: bool) -> str:
    """Build args are passed by name (`--build-arg NAME`): their values are the action's
    environment variables, where CodePipeline resolves #{...} (a project's own buildspec cannot)."""
    repository = shlex.quote(str(conf["repository"]))
    extra = [str(t) for t in conf.get("tags") or [] if str(t)]
    dockerfile = str(conf.get("dockerfile") or "Containerfile")
    context = shlex.quote(str(conf.get("context") or "."))
    tag = '"$(printf %s "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-' + str(SHORT_SHA) + ')"'
    pre_build = [
        'export RegistryId="$(aws sts get-caller-identity --query Account --output text)"',
        'REGISTRY="$RegistryId.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com"',
        'aws ecr get-login-password --region "$AWS_DEFAULT_REGION" | docker login --username AWS '
        '--password-stdin "$REGISTRY"',
        f"export RepositoryName={repository}",
        f"export ImageTag={tag}" + (f'; [ -n "$ImageTag" ] || ImageTag={shlex.quote(extra[0])}' if extra else ""),
        'export ImageURI="$REGISTRY/$RepositoryName:$ImageTag"',
    ]
    if dockerfile == "Containerfile":  # actions/image.py: a Dockerfile is used when there is no Containerfile
        pre_build.append('DOCKERFILE=Containerfile; [ -f "$DOCKERFILE" ] || DOCKERFILE=Dockerfile')
    else:
        pre_build.append(f"DOCKERFILE={shlex.quote(dockerfile)}")
    build_args = "".join(f" --build-arg {shlex.quote(str(k))}" for k in conf.get("buildArgs") or {})
    target = f" --target {shlex.quote(str(conf['target']))}" if conf.get("target") else ""
    tags = "".join(f' -t "$REGISTRY/$RepositoryName":{shlex.quote(t)}' for t in extra)
    build = [f'docker build -f "$DOCKERFILE"{build_args}{target} -t "$ImageURI"{tags} {context}']
    post_build = ['[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ] || exit 1', 'docker push "$ImageURI"']
    post_build += [f'docker push "$REGISTRY/$RepositoryName":{shlex.quote(t)}' for t in extra]
    post_build.append('export ImageDigest="$(docker inspect --format \'{{index .RepoDigests 0}}\' "$ImageURI" '
                      '| cut -d@ -f2)"')
    spec: dict[str, Any] = {"version": BUILDSPEC_VERSION, "env": {"exported-variables": IMAGE_VARIABLES},
                            "phases": {"pre_build": {"commands": pre_build}, "build": {"commands": build},
                                       "post_build": {"commands": post_build}}}
    if output:
        name = shlex.quote(str(conf.get("containerName") or conf["repository"]))
        post_build += [
            "printf '[{\"name\":\"%s\",\"imageUri\":\"%s\"}]' " + name
            + ' "$REGISTRY/$RepositoryName@$ImageDigest" > imagedefinitions.json',
            "printf '{\"ImageURI\":\"%s\",\"ImageDigest\":\"%s\",\"ImageTags\":[\"%s\"],\"RegistryId\":\"%s\","
            "\"RepositoryName\":\"%s\",\"Version\":\"1.0\"}' \"$REGISTRY/$RepositoryName@$ImageDigest\" "
            '"$ImageDigest" "$ImageTag" "$RegistryId" "$RepositoryName" > imageDetail.json',
        ]
        spec["artifacts"] = {"files": ["imagedefinitions.json", "imageDetail.json"]}
    return _dump(spec)


def _dump(spec: dict[str, Any]) -> str:
    return str(yaml.safe_dump(spec, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True))
