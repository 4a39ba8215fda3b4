"""Which registry images a lifecycle run must never remove, and why: the images the deploy state
still needs (ECR itself does not know about services; locally we do, so we refuse to break them).

    state = read_deploy_state(home)                      # services.db and codedeploy.db, read-only
    keep = protected_images(state, store.tags, recent, now=clock())
    keep[("orders-service", "sha256:…")]
    # ['in use by staging/orders-service task definition orders-service:7']

An image is protected while any of these refers to it (by tag or by digest, in a task
definition's containerDefinitions[].image):
- an ACTIVE service's current task definition;
- a live task (not STOPPED) of any task definition;
- an ECS deployment or task set that is PRIMARY or ACTIVE (both sides of a blue/green one);
- a CodeDeploy deployment that is not final (its replacement), and its original task set's task
  definition (the service's, already covered) — a Ready one waits for a continue or a rollback;
- a service's rollback target: the task definition of its newest COMPLETED/Succeeded deployment
  before the current one (what `conveyor rollback` redeploys).
- an image pushed less than `grace` ago (default 60 minutes): a pipeline that just pushed it may
  not have registered its task definition yet (Build → Deploy spans minutes, never an hour here).

Task definitions name images by host: the host part is not compared (any of the local registry's
names, the ECR-style one, an alias), only the repository and the tag or digest: a false match can
only keep an image, never remove one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.errors import ConveyorError

#: How long after its push an image is kept whatever the policy says (seconds).
DEFAULT_GRACE = 3600.0

ECS_LIVE_DEPLOYMENT = ("PRIMARY", "ACTIVE")
ECS_DONE = ("COMPLETED",)
CD_FINAL = ("Succeeded", "Failed", "Stopped")
CD_DONE = ("Succeeded",)


@dataclass(frozen=True)
class DeploymentRow:
    """An ECS deployment/task set or a CodeDeploy deployment, reduced to what protection reads."""

    kind: str  # "ecs" or "codedeploy"
    id: str
    environment: str
    service: str
    taskdef: str
    status: str
    rollout_state: str = ""
    seq: int = 0


@dataclass(frozen=True)
class DeployState:
    services: tuple[tuple[str, str, str], ...] = ()  # (environment, name, taskdef) of ACTIVE services
    deployments: tuple[DeploymentRow, ...] = ()
    live_tasks: tuple[tuple[str, str, str], ...] = ()  # (environment, service, taskdef)
    taskdefs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "family:rev" -> images


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None = None
    digest: str | None = None


def parse_reference(image: str) -> ImageRef | None:
    """`host[:port]/repo[:tag][@digest]` → repository and tag/digest; None for a name without a
    registry host (it cannot be in the local registry)."""
    name, _, digest = image.partition("@")
    first, sep, rest = name.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return None
    repo, tag = rest, None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = rest.rpartition(":")
    if not repo:
        return None
    return ImageRef(repo, tag if not digest else tag, digest or None)


def protected_images(state: DeployState, tags_of: Callable[[str], Mapping[str, str]],
                     recent: Iterable[tuple[str, str, float]] = (), *, now: float,
                     grace: float = DEFAULT_GRACE) -> dict[tuple[str, str], list[str]]:
    """(repository, digest) → the reasons it is kept. `tags_of(repo)` is the store's tag → digest
    map; `recent` is (repository, digest, pushed_at) of candidate images (for the grace window)."""
    uses: list[tuple[str, str]] = []  # (taskdef, why)
    for env, name, taskdef in state.services:
        uses.append((taskdef, f"in use by {env}/{name} task definition {taskdef}"))
    for env, name, taskdef in state.live_tasks:
        uses.append((taskdef, f"a live task of {env}/{name} runs task definition {taskdef}"))
    for d in state.deployments:
        if d.kind == "ecs" and d.status in ECS_LIVE_DEPLOYMENT:
            uses.append((d.taskdef, f"{d.environment}/{d.service} deployment {d.id} ({d.status}) "
                                    f"uses task definition {d.taskdef}"))
        if d.kind == "codedeploy" and d.status not in CD_FINAL:
            uses.append((d.taskdef, f"{d.environment}/{d.service} CodeDeploy deployment {d.id} ({d.status}) "
                                    f"uses task definition {d.taskdef}"))
    for (env, name), taskdefs in rollback_targets(state).items():
        for taskdef in taskdefs:
            uses.append((taskdef, f"rollback target of {env}/{name}: task definition {taskdef}"))
    kept: dict[tuple[str, str], list[str]] = {}
    tag_cache: dict[str, Mapping[str, str]] = {}
    for taskdef, why in uses:
        for image in state.taskdefs.get(taskdef, ()):
            ref = parse_reference(image)
            if ref is None:
                continue
            if ref.repository not in tag_cache:
                tag_cache[ref.repository] = tags_of(ref.repository)
            digest = ref.digest or tag_cache[ref.repository].get(ref.tag or "latest")
            if digest is not None:
                reasons = kept.setdefault((ref.repository, digest), [])
                if why not in reasons:
                    reasons.append(why)
    for repo, digest, pushed_at in recent:
        age = now - pushed_at
        if age < grace:
            kept.setdefault((repo, digest), []).append(
                f"pushed {age / 60:.0f} min ago, within the {grace / 60:.0f} min grace for deploys to start")
    return kept


def rollback_targets(state: DeployState) -> dict[tuple[str, str], list[str]]:
    """Per service, what `conveyor rollback` would redeploy, as each controller picks it: a rolling
    service the newest COMPLETED ECS deployment of another revision than its PRIMARY deployment's
    (else the service's); a blue/green one the newest Succeeded CodeDeploy deployment of another
    revision. Both are kept for every service (the controller is not read: keeping one more image
    is the safe side)."""
    current: dict[tuple[str, str], set[str]] = {}
    for env, name, taskdef in state.services:
        current.setdefault((env, name), set()).add(taskdef)
    primary = {}
    for d in sorted(state.deployments, key=lambda d: d.seq):
        if d.kind == "ecs" and d.status == "PRIMARY":
            primary[(d.environment, d.service)] = d.taskdef
    targets: dict[tuple[str, str], list[str]] = {}
    for kind, done in (("ecs", lambda d: d.rollout_state in ECS_DONE), ("codedeploy", lambda d: d.status in CD_DONE)):
        newest_first = sorted((d for d in state.deployments if d.kind == kind and done(d)), key=lambda d: -d.seq)
        for key in current:
            now = {primary[key]} if key in primary else current[key]
            found = next((d.taskdef for d in newest_first
                          if (d.environment, d.service) == key and d.taskdef not in now), None)
            if found is not None and found not in targets.get(key, []):
                targets.setdefault(key, []).append(found)
    return targets


def taskdef_images(body: str) -> tuple[str, ...]:
    try:
        data = json.loads(body)
        return tuple(str(c["image"]) for c in data.get("containerDefinitions") or [] if c.get("image"))
    except (ValueError, TypeError, AttributeError, KeyError):
        return ()


class DeployStateUnreadable(ConveyorError):
    """The stores exist but cannot be read: nothing may be expired (protection would be a guess)."""


def read_deploy_state(home: Path) -> DeployState:
    """The deploy state from the daemon's stores, read-only (a missing store is an empty one; a
    store that cannot be read raises DeployStateUnreadable, so a run fails closed)."""
    try:
        return _read_deploy_state(Path(home))
    except sqlite3.Error as exc:
        raise DeployStateUnreadable(f"cannot read the deploy state under {home}: {exc}; nothing was expired",
                                    hint="run `conveyor up` once so the stores have their current schema") from exc


def _read_deploy_state(home: Path) -> DeployState:
    services: list[tuple[str, str, str]] = []
    deployments: list[DeploymentRow] = []
    tasks: list[tuple[str, str, str]] = []
    taskdefs: dict[str, tuple[str, ...]] = {}
    ecs = _open(Path(home) / "services.db")
    if ecs is not None:
        with ecs:
            services = [(r[0], r[1], r[2]) for r in ecs.execute(
                "SELECT environment, name, taskdef FROM services WHERE status = 'ACTIVE'")]
            deployments += [DeploymentRow("ecs", r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in ecs.execute(
                "SELECT id, environment, service, taskdef, status, rollout_state, seq FROM deployments")]
            tasks = [(r[0], r[1], r[2]) for r in ecs.execute(
                "SELECT environment, service, taskdef FROM tasks WHERE last_status != 'STOPPED'")]
            taskdefs = {f"{r[0]}:{r[1]}": taskdef_images(r[2])
                        for r in ecs.execute("SELECT family, revision, body FROM taskdefs")}
        ecs.close()
    cd = _open(Path(home) / "codedeploy.db")
    if cd is not None:
        with cd:
            deployments += [DeploymentRow("codedeploy", r[0], r[1], r[2], r[3], r[4], "", r[5]) for r in cd.execute(
                "SELECT id, environment, service, taskdef, status, seq FROM cd_deployments")]
        cd.close()
    return DeployState(tuple(services), tuple(deployments), tuple(tasks), taskdefs)


def _open(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
