"""Preparing a task definition revision for a deployment: the checks and fills between the
task definition template, the image definitions and the service declaration. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.config.imagedefs import ImageDefinition, apply_image_definitions
from conveyor.config.taskdef import TaskDefinition, parse_taskdef
from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import ConfigError, UserError


def prepare_revision(spec: ServiceSpec, *, taskdef: dict[str, Any] | None, current: TaskDefinition | None,
                     images: Sequence[ImageDefinition] = (), source: str = "taskdef.json",
                     images_source: str = "imagedefinitions.json") -> TaskDefinition:
    """The task definition a deployment registers: `taskdef` (or the revision the service runs
    now, as AWS's ECS action does) with the images replaced by container name, placeholders the
    images left filled from the running revision, and its load-balanced container checked.

    >>> from conveyor.deploy.spec import ServiceSpec
    >>> spec = ServiceSpec.from_config("staging", "orders", {"loadBalancer": {"port": 8081, "container": "api",
    ...                                                        "containerPort": 8080}})
    >>> td = prepare_revision(spec, taskdef={"family": "orders", "containerDefinitions": [
    ...     {"name": "api", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]}]},
    ...     current=None, images=[ImageDefinition("", "registry/orders:abc")])
    >>> td.family, td.container("api").image
    ('orders', 'registry/orders:abc')
    """
    if taskdef is not None:
        base, problems = parse_taskdef(taskdef, source)
        errors = [d for d in problems if getattr(d, "severity", "error") == "error"]
        if base is None or errors:
            raise ConfigError(errors or problems)
    elif current is not None:
        base = current
    else:
        raise UserError(f"service {spec.name} in {spec.environment} has no task definition yet",
                        hint="deploy it once from its pipeline or with --file conveyor.yml")
    named = [i if i.name else ImageDefinition(default_container(spec, base, images_source), i.image_uri)
             for i in images]
    new = apply_image_definitions(base, named, images_source)
    new = fill_placeholders(new, current, images_source)
    check_load_balancer(spec, new, source)
    return new


def fill_placeholders(td: TaskDefinition, current: TaskDefinition | None, source: str) -> TaskDefinition:
    """A template's `<IMAGE1_NAME>`-style image not given by the image definitions keeps the
    image the service runs now; with nothing running there is no image to use: an error."""
    fills, missing = {}, []
    for c in td.containers:
        if c.image.startswith("<") and c.image.endswith(">"):
            before = current.container(c.name) if current else None
            if before is not None and not before.image.startswith("<"):
                fills[c.name] = before.image
            else:
                missing.append(f"{c.name} ({c.image})")
    if missing:
        raise UserError(f"{source} gives no image for container(s) {', '.join(missing)} of task definition "
                        f"{td.family}, and the service runs none yet",
                        hint="add {\"name\": CONTAINER, \"imageUri\": URI} entries to imagedefinitions.json")
    return td.with_images(fills) if fills else td


def default_container(spec: ServiceSpec, td: TaskDefinition, source: str) -> str:
    """The container an image without a name is for: the load-balanced one, or the only one."""
    if spec.load_balancer is not None:
        return spec.load_balancer.container
    if len(td.containers) == 1:
        return td.containers[0].name
    raise UserError(f"{source}: say which container the image is for "
                    f"(containers: {', '.join(c.name for c in td.containers)})", hint="--image NAME=URI")


def check_load_balancer(spec: ServiceSpec, td: TaskDefinition, source: str) -> None:
    lb = spec.load_balancer
    if lb is None:
        return
    c = td.container(lb.container)
    if c is None:
        raise UserError(f"loadBalancer.container '{lb.container}' of service {spec.name} is not a container of "
                        f"{source} (containers: {', '.join(x.name for x in td.containers)})")
    ports = [pm.container_port for pm in c.port_mappings]
    if ports and lb.container_port not in ports:
        raise UserError(f"loadBalancer.containerPort {lb.container_port} of service {spec.name} is not among "
                        f"container {c.name}'s portMappings in {source} ({', '.join(map(str, ports))})")
