"""Lifecycle benchmark: disk use of the registry's storage root and of the engine's image store
before and after one lifecycle run over a realistic push history.

    python3 bench/build_lifecycle.py              # 20 pushes (~1-2 min on 2 cores)
    python3 bench/build_lifecycle.py --pushes 40

The history: an app image pushed once per commit, as a pipeline does — FROM the busybox base,
a dependency layer (DEPS bytes) that changes every 5th commit, and an app layer (APP bytes) of
its own per commit; tagged `<ecr host>/bench-app:<sha>` and pushed to a real registry (a
LocalRegistry in a temporary data directory). The engine side runs in a private podman store
(`podman --root`), so its size is this history alone, not the machine's other images.

The run: repositories' policy `imageCountMoreThan 5`; a fixture service runs the newest image and
its rollback target is the 8th newest (both protected); fresh-push grace and the GC quiet window
are 0 (the history is "old"); engine copies beyond the newest 3 pruned. Measured: bytes under the
registry root and the private store (allocated blocks, as du), images in each, and how long the
run took (expiry, collection and pruning together).

Results go to bench/results/build-lifecycle-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from engine import machine  # noqa: E402  (bench/ is on sys.path when run as a script)

from conveyor.images import BUSYBOX_IMAGE  # noqa: E402
from conveyor.registry.gc import disk_usage  # noqa: E402
from conveyor.registry.housekeeping import Housekeeping, Settings  # noqa: E402
from conveyor.registry.local import LocalRegistry  # noqa: E402
from conveyor.registry.protection import DeploymentRow, DeployState  # noqa: E402

DEPS = 8 * 1024 * 1024
APP = 512 * 1024
POLICY = {"rules": [{"rulePriority": 1, "description": "keep the 5 newest", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]}


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}…: {done.stderr.strip()[-500:]}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    store_root, run_root = tmp / "storage", tmp / "run"
    engine = tmp / "podman-bench"
    engine.write_text(f'#!/bin/sh\nexec podman --root {store_root} --runroot {run_root} "$@"\n')
    engine.chmod(0o755)
    registry = LocalRegistry(tmp / "home", port=0)
    registry.start()
    try:
        return run(args.pushes, tmp, str(engine), store_root, registry)
    finally:
        registry.stop()
        subprocess.run([str(engine), "system", "reset", "--force"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def run(pushes: int, tmp: Path, engine: str, store_root: Path, registry: LocalRegistry) -> int:
    saved = tmp / "base.tar"
    sh(["podman", "save", "--output", str(saved), BUSYBOX_IMAGE])
    sh([engine, "load", "--input", str(saved)])
    saved.unlink()
    auth = str(tmp / "auth.json")
    host = registry.repository_uri("bench-app").rsplit("/", 1)[0]  # the ECR-style name pipelines push to
    sh([engine, "login", "--authfile", auth, "--tls-verify=false", "--username", "AWS", "--password-stdin",
        host], input=registry.token)
    deps = os.urandom(DEPS)
    digests: list[str] = []
    push_seconds = []
    for n in range(1, pushes + 1):
        ctx = tmp / "ctx"
        ctx.mkdir(exist_ok=True)
        if n % 5 == 1:
            deps = os.urandom(DEPS)
        (ctx / "deps.bin").write_bytes(deps)
        (ctx / "app.bin").write_bytes(os.urandom(APP))
        (ctx / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nCOPY deps.bin /deps.bin\nCOPY app.bin /app.bin\n")
        ref = f"{host}/bench-app:c{n:03d}"
        sh([engine, "build", "--quiet", "--tag", ref, str(ctx)])
        started = time.monotonic()
        digestfile = tmp / "digest"
        sh([engine, "push", "--authfile", auth, "--tls-verify=false", "--digestfile", str(digestfile), ref])
        push_seconds.append(time.monotonic() - started)
        digests.append(digestfile.read_text().strip())
    registry.store.declare("bench-app", "MUTABLE", (), POLICY)
    newest, rollback = pushes, pushes - 7
    state = DeployState(
        services=(("prod", "bench-app", "bench-app:2"),),
        deployments=(DeploymentRow("ecs", "d1", "prod", "bench-app", "bench-app:1", "INACTIVE", "COMPLETED", 1),
                     DeploymentRow("ecs", "d2", "prod", "bench-app", "bench-app:2", "PRIMARY", "COMPLETED", 2)),
        taskdefs={"bench-app:2": (f"{host}/bench-app:c{newest:03d}",),
                  "bench-app:1": (f"{host}/bench-app:c{rollback:03d}",)})

    def engine_images() -> int:
        return len(json.loads(sh([engine, "images", "--format", "json"]).stdout or "[]"))

    before = {"registry_bytes": disk_usage(registry.service.data_dir), "registry_images": len(digests),
              "engine_bytes": disk_usage(store_root), "engine_images": engine_images()}
    hk = Housekeeping(registry, tmp / "home", Settings(grace=0, gc_quiet=0, keep_local=3), engine=engine,
                      deploy_state=lambda: state)
    started = time.monotonic()
    result = hk.run()
    seconds = time.monotonic() - started
    after = {"registry_bytes": disk_usage(registry.service.data_dir),
             "registry_images": len(registry.store.images("bench-app")),
             "engine_bytes": disk_usage(store_root), "engine_images": engine_images()}
    repo = result["repositories"][0]
    out = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "history": {"pushes": pushes, "deps_layer_bytes": DEPS, "deps_changes_every": 5, "app_layer_bytes": APP,
                    "base": BUSYBOX_IMAGE, "push_seconds_median": sorted(push_seconds)[len(push_seconds) // 2]},
        "policy": POLICY, "keep_local": 3,
        "before": before, "after": after,
        "registry_freed_bytes": before["registry_bytes"] - after["registry_bytes"],
        "engine_freed_bytes": before["engine_bytes"] - after["engine_bytes"],
        "expired": len(repo["deleted"]), "protected": [d["protectedBecause"] for d in repo["protected"]],
        "gc": result["garbageCollection"], "engine_pruned": result["hostImages"].get("removed"),
        "run_seconds": round(seconds, 2),
    }
    path = ROOT / "bench" / "results" / f"build-lifecycle-{out['date']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("before", "after", "registry_freed_bytes", "engine_freed_bytes",
                                          "expired", "protected", "run_seconds")}, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
