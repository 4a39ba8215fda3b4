"""One lifecycle run over everything builds and pushes leave behind, and its schedule in the daemon.

A run, in order:
1. the deploy state is read (services.db, codedeploy.db) and the protected images computed
   (protection.py); if it cannot be read, nothing is expired (fail closed);
2. each repository's lifecycle policy is evaluated and its expiries applied (expiry.py), except
   protected images, which are reported with why they are kept;
3. if anything was deleted, blobs are garbage-collected while the proxy holds writes (gc.py),
   with the registry's disk use before and after;
4. containers a killed build's `docker run --rm` left behind (exited, labelled by the docker
   wrapper) are removed (leftover_containers.py), so they pin no image;
5. Conveyor's images in the host engine beyond the newest K per repository are removed
   (host_images.py);
6. the LOCAL build caches are cut to their size bound, least recently used first (build.cache).
A dry run does steps 1, 2 and 4-6's selection and changes nothing.

ECR evaluates policies "within 24 hours" of a change; the daemon runs once at start and then
every `interval` (default hourly), and `conveyor image lifecycle` runs one on demand.

Settings (the daemon's environment, like CONVEYOR_REGISTRY_PORT):
    CONVEYOR_LIFECYCLE_INTERVAL   seconds between runs (default 3600; 0 = only on demand)
    CONVEYOR_LIFECYCLE_GRACE      seconds a fresh push is kept whatever the policy (default 3600)
    CONVEYOR_LIFECYCLE_GC_QUIET   seconds without writes before blobs are collected (default 30)
    CONVEYOR_KEEP_LOCAL_IMAGES    Conveyor's images kept per repository in the engine (default 3)
    CONVEYOR_BUILD_CACHE_MAX      bytes for all LOCAL build caches, K/M/G suffixes (default 2G)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError, UserError
from conveyor.registry import host_images, leftover_containers
from conveyor.registry.expiry import RepositoryPlan, apply_plan, index_children, plan_repository
from conveyor.registry.gc import DEFAULT_QUIET, GarbageCollector, GcResult, disk_usage
from conveyor.registry.protection import DEFAULT_GRACE, DeployState, protected_images, read_deploy_state

log = logging.getLogger("conveyor.registry.lifecycle")

DEFAULT_INTERVAL = 3600.0


@dataclass(frozen=True)
class Settings:
    interval: float = DEFAULT_INTERVAL
    grace: float = DEFAULT_GRACE
    gc_quiet: float = DEFAULT_QUIET
    keep_local: int = host_images.DEFAULT_KEEP
    cache_max: int | None = None  # None: build.cache.DEFAULT_MAX_BYTES (not imported here: build → config → registry)


def parse_size(text: str) -> int:
    units = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in units else ""
    number = t[: len(t) - len(unit)]
    if not number.isdigit():
        raise ValueError(f"'{text}' is not a size (bytes, or a number with K, M, G)")
    return int(number) * units[unit]


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The daemon's settings; a bad value is a UserError naming the variable."""
    def number(key: str, default: float, *, integer: bool = False) -> Any:
        raw = env.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise UserError(f"{key}={raw!r}: not a number") from None
        if value < 0:
            raise UserError(f"{key}={raw!r}: must not be negative")
        return value

    cache = env.get("CONVEYOR_BUILD_CACHE_MAX")
    try:
        cache_max = parse_size(cache) if cache else None
    except ValueError as exc:
        raise UserError(f"CONVEYOR_BUILD_CACHE_MAX: {exc}") from None
    return Settings(number("CONVEYOR_LIFECYCLE_INTERVAL", DEFAULT_INTERVAL),
                    number("CONVEYOR_LIFECYCLE_GRACE", DEFAULT_GRACE),
                    number("CONVEYOR_LIFECYCLE_GC_QUIET", DEFAULT_QUIET),
                    number("CONVEYOR_KEEP_LOCAL_IMAGES", host_images.DEFAULT_KEEP, integer=True), cache_max)


class Housekeeping:
    """Runs lifecycle passes over a LocalRegistry (conveyor.registry.local) and the host engine;
    one pass at a time."""

    def __init__(self, registry: Any, home: Path, settings: Settings = Settings(), *,
                 clock: Callable[[], float] = time.time, engine: str | None = "podman",
                 deploy_state: Callable[[], DeployState] | None = None,
                 caches: Callable[[bool], dict] | None = None):
        """`caches(dry_run)` bounds the LOCAL build caches and reports (the daemon passes
        build.cache.bound_caches for <home>/cache; the registry package does not import build)."""
        self.registry, self.home, self.settings = registry, Path(home), settings
        self.clock, self.engine, self.caches = clock, engine, caches
        self.deploy_state = deploy_state or (lambda: read_deploy_state(self.home))
        self._lock = threading.Lock()
        self.last: dict | None = None

    def run(self, repository: str | None = None, *, dry_run: bool = False) -> dict:
        with self._lock:
            started = self.clock()
            result = self._run(repository, dry_run)
            result["startedAt"], result["dryRun"] = started, dry_run
            if not dry_run:
                self.last = result
            return result

    def _run(self, repository: str | None, dry_run: bool) -> dict:
        store = self.registry.store
        repos = [r for r in store.repositories() if repository is None or r.name == repository]
        if repository is not None and not repos:
            raise UserError(f"no repository '{repository}' in the local registry",
                            hint="`conveyor image ls` lists them")
        now = self.clock()
        out: dict[str, Any] = {"repositories": [], "errors": []}
        try:
            state = self.deploy_state()
        except ConveyorError as exc:
            out["errors"].append(str(exc))
            state = None
        images = {r.name: store.images(r.name) for r in repos}
        plans: list[RepositoryPlan] = []
        if state is not None:
            recent = [(name, i.digest, i.pushed_at) for name, imgs in images.items() for i in imgs]
            protected = protected_images(state, store.tags, recent, now=now, grace=self.settings.grace)
            for repo in repos:
                try:
                    children = index_children(store, repo.name, images[repo.name]) if repo.lifecycle_policy else {}
                    plan = plan_repository(repo, images[repo.name], protected, now=now, children=children)
                    if not dry_run:
                        apply_plan(plan, store)
                except ConveyorError as exc:
                    plan = RepositoryPlan(repo.name, repo.lifecycle_policy is not None, errors=[str(exc)])
                plans.append(plan)
        out["repositories"] = [p.to_json() for p in plans]
        deleted = sum(len(p.deleted) for p in plans)
        service = self.registry.service
        if dry_run or not deleted:
            usage = disk_usage(service.data_dir)
            gc = GcResult(False, usage, usage, skipped="dry run" if dry_run else "nothing was deleted")
        else:
            try:
                gc = GarbageCollector(service.config_path, service.data_dir, service.binary).collect(
                    self.registry.proxy.gate, self.settings.gc_quiet)
            except ConveyorError as exc:
                usage = disk_usage(service.data_dir)
                gc = GcResult(False, usage, usage, error=str(exc))
        out["garbageCollection"] = gc.to_json()
        out["leftoverContainers"] = self._leftover_containers(dry_run)
        out["hostImages"] = self._host_images(dry_run)
        out["buildCache"] = self.caches(dry_run) if self.caches is not None else {}
        return out

    def _leftover_containers(self, dry_run: bool) -> dict:
        if self.engine is None:
            return {"skipped": "no engine"}
        try:
            selection = leftover_containers.select_leftovers(
                leftover_containers.list_labelled(self.engine), now=self.clock())
            report = selection.to_json()
            if not dry_run:
                report.update(leftover_containers.remove(selection, self.engine))
            return report
        except (ConveyorError, ValueError) as exc:
            return {"error": str(exc)}

    def _host_images(self, dry_run: bool) -> dict:
        if self.engine is None:
            return {"skipped": "no engine"}
        from conveyor.registry.local import registry_hosts

        try:
            images, used = host_images.list_images(self.engine)
            selection = host_images.select_prunes(images, keep=self.settings.keep_local,
                                                  hosts=registry_hosts(self.registry), in_use=used,
                                                  now=self.clock(), min_age=self.settings.grace)
            report = selection.to_json()
            if not dry_run:
                report.update(host_images.prune(selection, self.engine))
            return report
        except (ConveyorError, ValueError) as exc:
            return {"error": str(exc)}


class LifecycleSchedule:
    """Runs `housekeeping.run()` once at start and then every `interval` seconds on a thread of
    its own; a failing run is logged and the next one happens on time."""

    def __init__(self, housekeeping: Housekeeping, interval: float):
        self.housekeeping, self.interval = housekeeping, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0:
            return  # on demand only
        self._thread = threading.Thread(target=self._loop, name="registry-lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.housekeeping.run()
                log.info("lifecycle run: %s", summary(result))
            except Exception:  # one bad run must not end the schedule
                log.exception("lifecycle run failed")
            if self.interval <= 0 or self._stop.wait(self.interval):
                return


def summary(result: Mapping[str, Any]) -> str:
    repos = result.get("repositories") or []
    expired = sum(len(r["deleted"]) if not result.get("dryRun") else len(r["expire"]) for r in repos)
    protected = sum(len(r["protected"]) for r in repos)
    gc = result.get("garbageCollection") or {}
    hosts = result.get("hostImages") or {}
    cache = result.get("buildCache") or {}
    leftovers = result.get("leftoverContainers") or {}
    return (f"{expired} image(s) {'would expire' if result.get('dryRun') else 'expired'}, {protected} protected; "
            f"registry {gc.get('bytesBefore', 0)} → {gc.get('bytesAfter', 0)} bytes; "
            f"{len(leftovers.get('remove') or [])} leftover build container(s) "
            f"{'to remove' if result.get('dryRun') else 'removed'}; "
            f"{len(hosts.get('remove') or [])} local image(s) pruned; "
            f"build cache {cache.get('bytesBefore', 0)} → {cache.get('bytesAfter', 0)} bytes")
