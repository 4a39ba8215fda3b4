"""Build benchmark: the CodeBuild-compatible runner on the orders-service example, cold and after a
one-line change, and the runner's own cost per phase and per command.

    python3 bench/build.py             # 5 runs of each measurement (~40 s on 2 cores)
    python3 bench/build.py --quick     # 2 runs (~15 s)
    python3 bench/build.py --runs 9
    python3 bench/build.py --part standard-image   # setup time and size of the standard image
    python3 bench/build.py --part node-cache       # the Node sample cold vs with cache: warm
    python3 bench/build.py --part lifecycle        # disk use before/after a lifecycle run

The three parts live in their own modules (bench/build_standard_image.py, build_node_cache.py,
build_lifecycle.py, each with its own options after `--part NAME`, and its own results file).

What it measures:
  * cold build vs rebuild (the image cache): examples/orders-service copied to a git repo in a
    temporary directory, built by run_build in the build image with the engine's API socket
    mounted (as `conveyor build` does) from a buildspec without the registry login and push
    (pre_build computes IMAGE_TAG; build runs the unit tests, then `docker build`). *Cold*: the
    bench images removed first (`rmi -f` of its tags, which takes their untagged intermediate
    layers with them), so no layer of it is cached. *Rebuild*: a one-line change in app/,
    committed, and built again: the layers above `COPY app/` are reused. Wall time of the whole
    build, of the BUILD phase and of the `docker build` command (from the agent log lines'
    timestamps).
  * runner overhead: a buildspec of K `true` commands in each of install, pre_build, build and
    post_build, K = 1 and K = 10. The phases' durations (PhaseRecord) against the same commands
    run directly in the same image by one `podman run --rm IMAGE sh -c 'true; true; ...'`, with
    `podman run --rm IMAGE true` timed alone as the container start. Per command: the slope
    between K = 1 and K = 10; per phase: what is left at K = 1; fixed: PROVISIONING (container
    and shell start, environment) against the bare `podman run`.

Results go to bench/results/build.json; docs/benchmarks.md summarises them.
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
import uuid
from pathlib import Path

# bench/engine.py's machine record (bench/ is on sys.path when run as a script)
from engine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "build.json"
EXAMPLE = ROOT / "examples" / "orders-service"
BENCH_IMAGE = "localhost/bench-orders"
COMMAND_PHASES = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
LINE = re.compile(r"^\[Container\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) (.*)$")


def orders_buildspec(base_image: str) -> str:
    """The example's buildspec without the registry: no login, no push, no artifacts."""
    return f"""version: 0.2
env:
  exported-variables: [IMAGE_TAG]
phases:
  pre_build:
    on-failure: ABORT
    commands:
      - export IMAGE_TAG="$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-7)"
  build:
    on-failure: ABORT
    commands:
      - mkdir -p reports
      - python3 ci/junit.py reports/junit.xml
      - docker build --build-arg BASE_IMAGE={base_image} -t {BENCH_IMAGE}:$IMAGE_TAG -f Containerfile .
"""


def trivial_buildspec(k: int) -> str:
    phases = "".join(f"  {name}:\n    commands:\n" + "      - true\n" * k
                     for name in ("install", "pre_build", "build", "post_build"))
    return f"version: 0.2\nphases:\n{phases}"


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-c", "commit.gpgsign=false", *argv], cwd=repo, env={**os.environ, **GIT_ENV},
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_repo(path: Path, base_image: str) -> Path:
    """The example in a git repo, its Containerfile given a label unique to this run right after
    FROM: no layer of the bench image can then come from (or be shared with) an image built from
    the example itself, so a cold build is cold and removing the bench image removes only its own."""
    shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns("__pycache__", "reports"))
    containerfile = path / "Containerfile"
    text = re.sub(r"^(FROM .*)$", rf"\1\nLABEL conveyor.bench={uuid.uuid4().hex}", containerfile.read_text(),
                  count=1, flags=re.MULTILINE)
    containerfile.write_text(text)
    (path / "bench-buildspec.yml").write_text(orders_buildspec(base_image))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "orders-service")
    return path


def one_line_change(repo: Path, n: int) -> str:
    """Append a comment to app/orders.py and commit it: the code layer changes, nothing else."""
    target = repo / "app" / "orders.py"
    target.write_text(target.read_text() + f"# bench change {n}\n")
    git(repo, "commit", "-q", "-am", f"bench change {n}")
    return git(repo, "rev-parse", "HEAD")


# -- measurements

class Timeline:
    """The agent log of one build: the lines, and when each command ran (by the lines' stamps)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def command_seconds(self, prefix: str) -> float | None:
        stamped = [(m.group(1), m.group(2)) for m in map(LINE.match, self.lines) if m]
        for i, (stamp, text) in enumerate(stamped):
            if text.startswith(f"Running command {prefix}") and i + 1 < len(stamped):
                return _stamp(stamped[i + 1][0]) - _stamp(stamp)
        return None


def _stamp(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y/%m/%d %H:%M:%S.%f").timestamp()


def build_once(spec_path: Path, repo: Path, image: str, engine, access) -> tuple[object, Timeline, float]:
    from conveyor.build.runner import BuildRequest, run_build
    from conveyor.config.buildspec import load_buildspec

    spec = load_buildspec(spec_path, spec_path.name)
    commit = git(repo, "rev-parse", "HEAD")
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-src-") as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(repo, work, symlinks=True)  # as `conveyor build`: the build gets a copy
        req = BuildRequest(source_dir=work, image=image, engine=engine, source_version=commit,
                           resolved_source_version=commit, initiator="bench",
                           extra_mounts=list(access.mounts) if access else [],
                           extra_env=dict(access.env) if access else {})
        timeline = Timeline()
        t0 = time.perf_counter()
        result = run_build(spec, req, timeline)
        wall = time.perf_counter() - t0
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"bench build {result.status}:\n" + "\n".join(timeline.lines[-40:]))
    return result, timeline, wall


def phase_seconds(result) -> dict[str, float]:
    out: dict[str, float] = {}
    for record in result.phases:
        out[record.phase] = out.get(record.phase, 0.0) + record.ended - record.started
    return out


def remove_bench_images(engine_cli: str) -> list[str]:
    """Remove the images tagged BENCH_IMAGE (their untagged intermediate layers go with them). An
    image that also carries another name is only untagged: `rmi -f NAME` would delete it whole."""
    rows = subprocess.run([engine_cli, "images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}",
                           BENCH_IMAGE], capture_output=True, text=True, check=False).stdout.split("\n")
    removed = []
    for image_id, ref in (row.split(" ", 1) for row in rows if row.strip()):
        names = json.loads(subprocess.run([engine_cli, "image", "inspect", "--format", "{{json .RepoTags}}", image_id],
                                          capture_output=True, text=True, check=False).stdout or "[]") or []
        if all(name.startswith(BENCH_IMAGE + ":") for name in names):
            subprocess.run([engine_cli, "rmi", "-f", image_id], capture_output=True, check=False)
        else:
            subprocess.run([engine_cli, "untag", image_id, ref], capture_output=True, check=True)
        removed.append(ref)
    return removed


def layer_count(engine_cli: str) -> int:
    """All local images, intermediate layers included: what a cold build leaves behind."""
    return len(subprocess.run([engine_cli, "images", "-a", "-q", "--no-trunc"], capture_output=True,
                              text=True, check=False).stdout.split())


def cache_runs(scratch: Path, runs: int, engine, access, build_image: str, base_image: str) -> dict:
    repo = make_repo(scratch / "orders", base_image)
    spec_path = repo / "bench-buildspec.yml"
    cold, rebuild = [], []
    layers_before = layer_count(engine.binary)
    for i in range(runs):
        remove_bench_images(engine.binary)
        result, timeline, wall = build_once(spec_path, repo, build_image, engine, access)
        cold.append(_cache_sample(result, timeline, wall))
        one_line_change(repo, i)
        result, timeline, wall = build_once(spec_path, repo, build_image, engine, access)
        rebuild.append(_cache_sample(result, timeline, wall))
        print(f"cache run {i + 1}/{runs}: cold {cold[-1]['build_seconds']:.2f}s (docker build "
              f"{cold[-1]['docker_build_seconds']:.2f}s), rebuild {rebuild[-1]['build_seconds']:.2f}s "
              f"(docker build {rebuild[-1]['docker_build_seconds']:.2f}s, "
              f"{rebuild[-1]['cached_steps']} steps cached)", flush=True)
    remove_bench_images(engine.binary)
    leftover = layer_count(engine.binary) - layers_before
    keys = ("build_seconds", "build_phase_seconds", "docker_build_seconds", "unit_tests_seconds",
            "provisioning_seconds")
    med = {name: {k: round(statistics.median(r[k] for r in samples), 3) for k in keys}
           for name, samples in (("cold", cold), ("rebuild", rebuild))}
    ratio = {k: round(med["cold"][k] / med["rebuild"][k], 2) for k in keys}
    return {"median": med, "ratio_cold_to_rebuild": ratio, "images_left_after_cleanup": leftover,
            "cold": cold, "rebuild": rebuild}


def _cache_sample(result, timeline: Timeline, wall: float) -> dict:
    phases = phase_seconds(result)
    return {"build_seconds": round(wall, 3), "build_phase_seconds": round(phases.get("BUILD", 0.0), 3),
            "docker_build_seconds": round(timeline.command_seconds("docker build") or 0.0, 3),
            "unit_tests_seconds": round(timeline.command_seconds("python3 ci/junit.py") or 0.0, 3),
            "provisioning_seconds": round(phases.get("PROVISIONING", 0.0), 3),
            "cached_steps": sum("Using cache" in line or "--> Using cache" in line for line in timeline.lines),
            "image_tag": result.exported.get("IMAGE_TAG"),
            "phases": {k: round(v, 3) for k, v in phases.items()}}


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - t0


def overhead_runs(scratch: Path, runs: int, engine, build_image: str, ks: tuple[int, int]) -> dict:
    repo = scratch / "trivial"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for k in ks:
        (repo / f"buildspec-{k}.yml").write_text(trivial_buildspec(k))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "trivial")
    by_k: dict[int, list[dict]] = {k: [] for k in ks}
    direct_start, direct_sh = [], {k: [] for k in ks}
    for i in range(runs):
        for k in ks:
            result, _timeline, wall = build_once(repo / f"buildspec-{k}.yml", repo, build_image, engine, None)
            phases = phase_seconds(result)
            by_k[k].append({"build_seconds": round(wall, 3), "phases": {p: round(s, 4) for p, s in phases.items()}})
            script = "; ".join(["true"] * (k * len(COMMAND_PHASES)))
            direct_sh[k].append(timed([engine.binary, "run", "--rm", build_image, "sh", "-c", script]))
        direct_start.append(timed([engine.binary, "run", "--rm", build_image, "true"]))
        print(f"overhead run {i + 1}/{runs}: " + ", ".join(
            f"K={k}: build {by_k[k][-1]['build_seconds']:.2f}s, phases "
            + "/".join(f"{by_k[k][-1]['phases'][p] * 1000:.0f}" for p in COMMAND_PHASES) + " ms" for k in ks)
            + f"; podman run true {direct_start[-1] * 1000:.0f} ms", flush=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)
    phase_ms = {k: {p: round(med([r["phases"][p] for r in by_k[k]]) * 1000, 2) for p in COMMAND_PHASES}
                for k in ks}
    per_phase_ms = {k: round(med([sum(r["phases"][p] for p in COMMAND_PHASES) / len(COMMAND_PHASES)
                                  for r in by_k[k]]) * 1000, 2) for k in ks}
    lo, hi = ks
    start_ms = med(direct_start) * 1000
    direct_cmd_ms = {k: (med(direct_sh[k]) * 1000 - start_ms) / (k * len(COMMAND_PHASES)) for k in ks}
    per_command_ms = (per_phase_ms[hi] - per_phase_ms[lo]) / (hi - lo)
    per_phase_fixed_ms = per_phase_ms[lo] - lo * per_command_ms
    provisioning_ms = med([r["phases"]["PROVISIONING"] for r in by_k[hi]]) * 1000
    finalizing_ms = med([r["phases"]["FINALIZING"] for r in by_k[hi]]) * 1000
    # `podman run --rm` starts and removes the container; the runner does those in PROVISIONING
    # and FINALIZING, so the fixed cost compares their sum with it.
    fixed_ms = med([(r["phases"]["PROVISIONING"] + r["phases"]["FINALIZING"]) for r in by_k[hi]]) * 1000
    other_ms = med([r["build_seconds"] - sum(r["phases"][p] for p in COMMAND_PHASES) - r["phases"]["PROVISIONING"]
                    - r["phases"]["FINALIZING"] for r in by_k[hi]]) * 1000
    build_ms = {k: round(med([r["build_seconds"] for r in by_k[k]]) * 1000, 1) for k in ks}
    direct_total_ms = {k: round(med(direct_sh[k]) * 1000, 1) for k in ks}
    return {
        "commands_per_phase": list(ks), "phases": list(COMMAND_PHASES),
        "phase_ms": {str(k): v for k, v in phase_ms.items()},
        "mean_phase_ms": {str(k): v for k, v in per_phase_ms.items()},
        "runner_per_command_ms": round(per_command_ms, 2),
        "direct_per_command_ms": round(direct_cmd_ms[hi], 3),  # 40 shell builtins: within the noise of `run`
        "runner_per_phase_fixed_ms": round(per_phase_fixed_ms, 2),
        "provisioning_ms": round(provisioning_ms, 1), "finalizing_ms": round(finalizing_ms, 1),
        "direct_container_start_ms": round(start_ms, 1),
        "runner_fixed_ms": round(fixed_ms, 1),
        "fixed_overhead_ms": round(fixed_ms - start_ms, 1),
        "other_phases_ms": round(other_ms, 1),
        "build_ms": {str(k): v for k, v in build_ms.items()},
        "direct_sh_ms": {str(k): v for k, v in direct_total_ms.items()},
        "ratio_build_to_direct": {str(k): round(build_ms[k] / direct_total_ms[k], 2) for k in ks},
        "runs": {str(k): v for k, v in by_k.items()},
        "direct_start_runs_ms": [round(s * 1000, 1) for s in direct_start],
        "direct_sh_runs_ms": {str(k): [round(s * 1000, 1) for s in v] for k, v in direct_sh.items()},
    }


#: `--part NAME` → the module that measures it.
PARTS = {"standard-image": "build_standard_image", "node-cache": "build_node_cache",
         "lifecycle": "build_lifecycle"}


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--part"] and len(args_in) > 1:
        if args_in[1] not in PARTS:
            print(f"--part: one of {', '.join(PARTS)}", file=sys.stderr)
            return 2
        import importlib

        module = importlib.import_module(PARTS[args_in[1]])
        sys.argv = [f"bench/{PARTS[args_in[1]]}.py", *args_in[2:]]
        return int(module.main() or 0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 runs of each measurement")
    parser.add_argument("--runs", type=int, default=None, help="runs of each measurement (default 5, quick 2)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)

    from conveyor.images import BASE_IMAGE, BUILD_IMAGE
    from conveyor.providers.local.containers import (
        detect_engine,
        engine_access,
        ensure_api_service,
        image_exists,
    )

    engine = detect_engine()
    for image in (BUILD_IMAGE, BASE_IMAGE):
        if not image_exists(engine, image):
            print(f"{image} is not available: run `conveyor setup` first", file=sys.stderr)
            return 1
    began = time.time()
    now = datetime.datetime.now(datetime.UTC)
    results: dict = {"benchmark": "build", "date": now.isoformat(timespec="seconds"),
                     "command": " ".join(["python3", "bench/build.py", *(argv if argv is not None else sys.argv[1:])]),
                     "machine": {**machine(), "engine": _version(engine.binary)},
                     "config": {"runs": runs, "build_image": BUILD_IMAGE, "base_image": BASE_IMAGE,
                                "bench_image": BENCH_IMAGE, "commands_per_phase": [1, 10]}}
    scratch = Path(tempfile.mkdtemp(prefix="conveyor-bench-build-"))
    api = ensure_api_service(engine, str(scratch / "engine"))
    try:
        results["cache"] = cache_runs(scratch, runs, engine, engine_access(api.socket), BUILD_IMAGE, BASE_IMAGE)
        results["overhead"] = overhead_runs(scratch, runs, engine, BUILD_IMAGE, (1, 10))
    finally:
        api.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    results["elapsed_seconds"] = round(time.time() - began, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    c, o = results["cache"], results["overhead"]
    print(f"cold {c['median']['cold']['build_seconds']}s / rebuild {c['median']['rebuild']['build_seconds']}s "
          f"= {c['ratio_cold_to_rebuild']['build_seconds']}x; "
          f"docker build {c['median']['cold']['docker_build_seconds']}s"
          f" / {c['median']['rebuild']['docker_build_seconds']}s "
          f"= {c['ratio_cold_to_rebuild']['docker_build_seconds']}x")
    print(f"runner: {o['runner_per_command_ms']} ms per command (direct {o['direct_per_command_ms']} ms), "
          f"{o['runner_per_phase_fixed_ms']} ms per phase, provisioning+finalizing {o['runner_fixed_ms']} ms vs "
          f"`run --rm true` {o['direct_container_start_ms']} ms; "
          f"build {o['build_ms']} ms vs direct {o['direct_sh_ms']} ms")
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


def _version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
