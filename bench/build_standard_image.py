"""Standard build image benchmark: what `conveyor setup` costs for it, and what it weighs.

    python3 bench/build_standard_image.py            # fresh build once + cheap runs ×5 (~5 min)
    python3 bench/build_standard_image.py --no-fresh # only the cheap runs and the sizes (~1 min)
    python3 bench/build_standard_image.py --runs 9

What it measures:
  * fresh: everything from nothing — mmdebstrap of the root filesystem, the npm-registry and
    PyPI downloads (into an empty download cache), the upper layers, the probe and the label
    layer — built under bench names (localhost/conveyor-bench/…), so the BUILD_IMAGE other work
    uses is never touched; podman's layer cache cannot help, since the fresh root filesystem is
    a new image. Once per invocation (it takes minutes); per stage from setup's own lines.
  * shim change: the same bench image rebuilt after a change in the aws shim: the root
    filesystem and the downloads' layers are reused (median of --runs).
  * second run: `ensure_build_image` when the image is current — what every later `conveyor
    setup` pays for it (median of --runs; no registry is asked, nothing is built).
  * sizes: `podman image inspect` Size of BUILD_IMAGE (as it is on this machine), the size of
    each layer (`podman history`), and `du` of each runtime's directories inside it — the
    numbers behind one image rather than per-runtime layers built on first use.

Results: bench/results/build-standard-image-2026-12-06.json (run it under the heavy-run lock).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from conveyor.stack import aws_shim, checks, setup  # noqa: E402
from conveyor.stack import components as c  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "build-standard-image-2026-12-06.json"
BENCH_NAMES = {"BUILD_IMAGE": "localhost/conveyor-bench/build:latest",
               "BUILD_ROOTFS_IMAGE": "localhost/conveyor-bench/build-rootfs:bookworm",
               "BUILD_LAYERS_IMAGE": "localhost/conveyor-bench/build-layers:latest"}
#: What each runtime (and the big tools) occupies in the image, for the one-image decision.
DU_PATHS = {
    "java (openjdk-17)": ["/usr/lib/jvm"],
    "maven + Debian maven-repo": ["/usr/share/maven", "/usr/share/maven-repo"],
    "gradle (Debian 4.4)": ["/usr/share/gradle"],
    "go 1.19": ["/usr/lib/go-1.19", "/usr/share/go-1.19"],
    "go 1.22 (backports)": ["/usr/lib/go-1.22", "/usr/share/go-1.22"],
    "node 20 (npm registry)": ["/opt/conveyor/runtimes/nodejs/20"],
    "node 22 (npm registry)": ["/opt/conveyor/runtimes/nodejs/22"],
    "node 18 + npm (Debian)": ["/usr/share/nodejs", "/usr/lib/x86_64-linux-gnu/nodejs",
                               "/usr/bin/node"],
    "yarn + pnpm": ["/opt/conveyor/tools"],
    "aws cli v1 venv": ["/usr/local/aws-cli"],
    "ruby": ["/usr/lib/ruby", "/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1"],
    "php": ["/usr/lib/php", "/usr/bin/php8.2"],
    "gcc toolchain": ["/usr/lib/gcc", "/usr/libexec/gcc", "/usr/include"],
    "python3": ["/usr/lib/python3", "/usr/lib/python3.11"],
}


class Names:
    """Point conveyor.stack.components' image names at bench names for the duration (all of
    them, or all but the root filesystem: `shared_rootfs`)."""

    def __init__(self, shared_rootfs: bool = False) -> None:
        self.names = {k: v for k, v in BENCH_NAMES.items()
                      if not (shared_rootfs and k == "BUILD_ROOTFS_IMAGE")}

    def __enter__(self) -> Names:
        self.saved = {name: getattr(c, name) for name in self.names}
        for name, value in self.names.items():
            setattr(c, name, value)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            setattr(c, name, value)


def podman(*args: str, check: bool = True) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True,
                          check=check).stdout


def timed_setup(lines: list[str]) -> float:
    def echo(line: str) -> None:
        lines.append(f"{time.monotonic() - started:7.1f} {line}")
    started = time.monotonic()
    setup.ensure_build_image(echo, checks.engine(), dry_run=False)
    return time.monotonic() - started


def stage_seconds(lines: list[str]) -> dict[str, float]:
    """Each stage's own elapsed time, from setup's `✓ …: … (N s)` lines."""
    stages = {}
    for line in lines:
        match = re.match(r"\s*[\d.]+ ✓ ([^:(]+?)(?::.*)? \((\d+) s\)$", line)
        if match:
            stages[match.group(1).strip()] = float(match.group(2))
    return stages


def remove_bench_images() -> None:
    podman("image", "rm", "--force", *BENCH_NAMES.values(), check=False)


def fresh_build(cache: str) -> dict:
    lines: list[str] = []
    remove_bench_images()
    os.environ[c.DOWNLOAD_CACHE_ENV] = cache
    with Names():
        seconds = timed_setup(lines)
        size = image_size(c.BUILD_IMAGE)
    return {"seconds": round(seconds, 1), "stages": stage_seconds(lines), "size_bytes": size,
            "log": lines}


def shim_change_runs(runs: int, tmp: str, shared_rootfs: bool = False) -> list[float]:
    """Rebuilds of the bench image after an aws shim change (a comment line appended)."""
    original = aws_shim.__file__
    seconds = []
    try:
        for run in range(runs):
            changed = os.path.join(tmp, f"aws_shim_{run}.py")
            shutil.copyfile(original, changed)
            with open(changed, "a", encoding="utf-8") as f:
                f.write(f"# bench change {run} {time.time()}\n")
            aws_shim.__file__ = changed
            with Names(shared_rootfs):
                seconds.append(round(timed_setup([]), 2))
    finally:
        aws_shim.__file__ = original
    return seconds


def second_runs(runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        lines: list[str] = []
        seconds.append(round(timed_setup(lines), 3))
        assert not any("→" in line for line in lines), lines  # nothing was (re)built
    return seconds


def image_size(ref: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", ref).strip())


def layer_sizes(ref: str) -> list[dict]:
    out = podman("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", ref)
    layers = []
    for line in out.splitlines():
        size, _, created = line.partition("\t")
        layers.append({"size": size, "created_by": created[:160]})
    return layers


def runtime_sizes(ref: str) -> dict[str, int]:
    script = "\n".join(f"printf '%s\\t' {json.dumps(name)}; du -scb {' '.join(paths)} "
                       f"2>/dev/null | tail -1 | cut -f1" for name, paths in DU_PATHS.items())
    out = podman("run", "--rm", ref, "bash", "-c", script)
    sizes = {}
    for line in out.splitlines():
        name, _, size = line.partition("\t")
        sizes[name] = int(size or 0)
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-fresh", action="store_true", help="skip the fresh build")
    parser.add_argument("--shim-only", action="store_true",
                        help="only the shim-change rebuilds, on this machine's root filesystem "
                             "image (the first run builds the bench layers; not counted)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    began = time.time()
    results: dict = {"benchmark": "build-standard-image",
                     "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                     "machine": {"cpus": os.cpu_count(), "podman": podman("version", "--format",
                                                                           "{{.Client.Version}}").strip()},
                     "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="bench-standard-image-", dir="/var/tmp") as tmp:
        try:
            if args.shim_only:
                shim_change_runs(1, tmp, shared_rootfs=True)  # builds the bench layers once
                shim = shim_change_runs(args.runs, tmp, shared_rootfs=True)
                results["shim_change_seconds"] = {"runs": shim, "median": statistics.median(shim),
                                                  "rootfs": "shared"}
                args.output = args.output.with_name(args.output.stem + "-shim.json")
            elif not args.no_fresh:
                results["fresh"] = fresh_build(os.path.join(tmp, "downloads"))
                shim = shim_change_runs(args.runs, tmp)
                results["shim_change_seconds"] = {"runs": shim, "median": statistics.median(shim)}
        finally:
            remove_bench_images()
            os.environ.pop(c.DOWNLOAD_CACHE_ENV, None)
    second = second_runs(args.runs)
    results["second_run_seconds"] = {"runs": second, "median": statistics.median(second)}
    results["image"] = {"ref": c.BUILD_IMAGE, "size_bytes": image_size(c.BUILD_IMAGE),
                        "rootfs_size_bytes": image_size(c.BUILD_ROOTFS_IMAGE),
                        "layers": layer_sizes(c.BUILD_IMAGE),
                        "runtime_bytes": runtime_sizes(c.BUILD_IMAGE)}
    results["elapsed_seconds"] = round(time.time() - began, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    fresh = results.get("fresh", {})
    print(f"fresh {fresh.get('seconds', '-')} s {fresh.get('stages', '')}; shim change "
          f"{results.get('shim_change_seconds', {}).get('median', '-')} s; second run "
          f"{results['second_run_seconds']['median']} s; image "
          f"{results['image']['size_bytes'] / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
