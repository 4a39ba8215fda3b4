"""The Node sample's build, cold and with its `cache:` paths warm: does caching node_modules (and
npm's own cache) cut the build time, as AWS's build recipes claim?

    python3 bench/build_node_cache.py              # 3 cold and 3 warm builds (~5 min on 2 cores)
    python3 bench/build_node_cache.py --runs 5
    python3 bench/build_node_cache.py --image localhost/my/build:tag    # another build image

What it measures: examples/node-service, copied to a git repository in a temporary directory,
built by `conveyor build` exactly as a user runs it (conveyor.cli.main.main, in this process, so
the runner's PhaseRecords can be read; the interpreter's start is not in the time, and would be
the same for both) with its own buildspec.yml: runtime-versions nodejs 20, `npm ci`, jest with
JUnit and Clover reports, docker build, docker push to the local registry (a daemon on its own
data directory, its registry on the default port as builds need), imagedefinitions.json and
envsubst's taskdef.json.

  * cold: the project's LOCAL cache directory removed first, so DOWNLOAD_SOURCE restores
    nothing and `npm ci` downloads every package from the npm registry.
  * warm: the cache the previous (cold) build saved is restored in DOWNLOAD_SOURCE: node_modules
    and /root/.npm (npm's content-addressed cache of the tarballs).

Cold and warm builds alternate (cold, warm, cold, warm, …) after one untimed build that primes
the engine's layer cache and the registry, so both see the same image build and push. Reported:
median wall time of each, warm/cold ratio, and per phase (from the PhaseRecords): INSTALL alone
(`npm ci`), DOWNLOAD_SOURCE (the restore) and UPLOAD_ARTIFACTS (the save, which both kinds pay:
CodeBuild's LOCAL cache saves after every successful build).

Results: bench/results/build-node-cache-<date>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from engine import machine  # noqa: E402  (bench/engine.py's machine record)

from conveyor.build.runner import BuildResult  # noqa: E402
from conveyor.registry.uris import DEFAULT_PORT  # noqa: E402

EXAMPLE = ROOT / "examples" / "node-service"
REPOSITORY = "node-service"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
PHASES = ("PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS")
NPM_ADDED = re.compile(r"^added (\d+) packages in ([\d.]+m?s)", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"conveyor {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def sample_repo(parent: Path) -> Path:
    repo = parent / REPOSITORY
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("node_modules", "coverage", "reports"))
    for args in (["init", "--quiet", "-b", "main"], ["add", "-A"], ["commit", "--quiet", "-m", "node-service"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
    return repo


def one_build(repo: Path, image: str, base_image: str) -> dict:
    """`conveyor build` in `repo`; its wall time, phase durations and what npm said."""
    import conveyor.cli.build as cli_build
    from conveyor.cli.main import main

    results: list[BuildResult] = []
    real = cli_build.run_build

    def recording(spec, req, on_line):
        result = real(spec, req, on_line)
        results.append(result)
        return result

    out = io.StringIO()
    cli_build.run_build = recording  # type: ignore[assignment]
    cwd = os.getcwd()
    try:
        os.chdir(repo)
        t0 = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["build", "--image", image, "--env", f"BASE_IMAGE={base_image}"])
        wall = time.monotonic() - t0
    finally:
        os.chdir(cwd)
        cli_build.run_build = real  # type: ignore[assignment]
    text = out.getvalue()
    if code != 0 or not results or results[0].status != "SUCCEEDED":
        raise SystemExit(f"the build did not succeed (exit {code}):\n{text[-4000:]}")
    phases: dict[str, float] = {}
    for record in results[0].phases:
        phases[record.phase] = round(phases.get(record.phase, 0.0) + record.ended - record.started, 3)
    added = NPM_ADDED.search(text)
    return {"wall_s": round(wall, 3), "phases_s": {p: phases.get(p, 0.0) for p in PHASES},
            "npm": added.group(0) if added else None,
            "restored": "Restoring cache from key" in text, "saved": "Saved cache for key" in text}


def summary(runs: list[dict]) -> dict:
    return {"wall_median_s": round(statistics.median(r["wall_s"] for r in runs), 3),
            "phases_median_s": {p: round(statistics.median(r["phases_s"][p] for r in runs), 3) for p in PHASES}}


def remove_images() -> None:
    done = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True)
    refs = [r for r in done.stdout.split() if r.rsplit(":", 1)[0].rsplit("/", 1)[-1] == REPOSITORY]
    if refs:
        subprocess.run(["podman", "rmi", "-f", *refs], capture_output=True)


def main() -> int:
    from conveyor.images import BUILD_IMAGE, NODE_IMAGE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="cold and warm builds each (default 3)")
    parser.add_argument("--image", default=BUILD_IMAGE, help="build image (default: the standard image)")
    parser.add_argument("--base-image", default=NODE_IMAGE, help="the service image's base (node 18+)")
    parser.add_argument("--out", default=None, help="results file (default bench/results/build-node-cache-DATE.json)")
    args = parser.parse_args()
    today = datetime.date.today().isoformat()
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"build-node-cache-{today}.json"

    with tempfile.TemporaryDirectory(prefix="bench-node-cache-") as tmp:
        home = Path(tmp) / "home"
        os.environ.update({"CONVEYOR_HOME": str(home), "CONVEYOR_PORT": str(free_port()),
                           "CONVEYOR_REGISTRY_PORT": str(DEFAULT_PORT)})
        repo = sample_repo(Path(tmp))
        cache_dir = home / "cache" / f"local-{repo.name}"
        cli("up")
        try:
            print("priming build (untimed) …", flush=True)
            priming = one_build(repo, args.image, args.base_image)
            cold: list[dict] = []
            warm: list[dict] = []
            cache_bytes = 0
            for i in range(args.runs):
                shutil.rmtree(cache_dir, ignore_errors=True)
                cold.append(one_build(repo, args.image, args.base_image))
                assert not cold[-1]["restored"] and cold[-1]["saved"], cold[-1]
                cache_bytes = sum(p.stat().st_size for p in cache_dir.glob("*.tar"))
                warm.append(one_build(repo, args.image, args.base_image))
                assert warm[-1]["restored"], warm[-1]
                print(f"run {i + 1}/{args.runs}: cold {cold[-1]['wall_s']:.1f} s "
                      f"(INSTALL {cold[-1]['phases_s']['INSTALL']:.1f} s), warm {warm[-1]['wall_s']:.1f} s "
                      f"(INSTALL {warm[-1]['phases_s']['INSTALL']:.1f} s)", flush=True)
        finally:
            cli("down", "--all")
            remove_images()

    c, w = summary(cold), summary(warm)
    result = {
        "benchmark": "build_node_cache",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python3 bench/build_node_cache.py" + (f" --runs {args.runs}" if args.runs != 3 else ""),
        "machine": machine(),
        "config": {"runs": args.runs, "build_image": args.image, "base_image": args.base_image,
                   "sample": "examples/node-service", "cache_paths": ["node_modules/**/*", "/root/.npm/**/*"],
                   "cache_tar_bytes": cache_bytes},
        "cold": c, "warm": w,
        "ratio_warm_over_cold": {
            "wall": round(w["wall_median_s"] / c["wall_median_s"], 3),
            "install": round(w["phases_median_s"]["INSTALL"] / c["phases_median_s"]["INSTALL"], 3)
            if c["phases_median_s"]["INSTALL"] else None},
        "runs": {"priming": priming, "cold": cold, "warm": warm},
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("cold", "warm", "ratio_warm_over_cold")}, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
