#!/usr/bin/env python3
"""The README's dashboard screenshots: log in to a daemon's dashboard with a real browser
(Debian's Chromium through Playwright) and save the main pages as PNGs.

    python scripts/screenshots.py                         # a fresh daemon with a demo history
    python scripts/screenshots.py --url http://127.0.0.1:8714 --token-file ~/.conveyor/token
    python scripts/screenshots.py --home /tmp/shots       # keep (or reuse) the data dir

Without --url it makes the history the pictures show: `conveyor demo --yes --bad-release` in a
fresh CONVEYOR_HOME (podman, the registry and HAProxy, so the build, the staging deploy and the
production canary with its alarm-driven rollback are real; run `conveyor setup` once before, and
run the script under `flock /tmp/conveyor-heavy.lock` on a shared machine), plus three small
pipelines of host commands (one succeeded, one failed in its tests, one waiting for approval) so the
pipelines table is not a single row. Then it shoots, at 1280x800 (the first screenful):

    docs/img/dashboard-pipelines.png  -execution.png  -service.png  -deployment.png
    docs/img/dashboard-registry.png   -events.png     -dora.png
    docs/img/dashboard-execution-narrow.png   (390x844, a phone)

The token is typed into the login form only; it is not written into any file or URL.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")
WIDE = {"width": 1280, "height": 800}
TALL = ("deployment", "service")
NARROW = {"width": 390, "height": 844}
GIT_ENV = {"GIT_AUTHOR_NAME": "Dana Developer", "GIT_AUTHOR_EMAIL": "dana@example.com",
           "GIT_COMMITTER_NAME": "Dana Developer", "GIT_COMMITTER_EMAIL": "dana@example.com"}

#: Small pipelines of host commands for the pipelines table: (name, conveyor.yml)
EXTRA_PIPELINES = {
    "payments-api": """\
        name: payments-api
        allowHostCommands: true
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions: [{name: Source, provider: Git, outputArtifacts: [src]}]
            - name: Build
              actions:
                - {name: Compile, provider: Command, inputArtifacts: [src],
                   command: [sh, -c, "echo compiling payments-api; sleep 1; echo done"]}
                - {name: UnitTests, provider: Command, runOrder: 2, inputArtifacts: [src],
                   command: [sh, -c, "echo '42 passed'"]}
        """,
    "inventory-worker": """\
        name: inventory-worker
        allowHostCommands: true
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions: [{name: Source, provider: Git, outputArtifacts: [src]}]
            - name: Test
              actions:
                - {name: Tests, provider: Command, inputArtifacts: [src],
                   command: [sh, -c, "echo 'test_reserve_stock FAILED: expected 3, got 2'; exit 1"]}
        """,
    "web-frontend": """\
        name: web-frontend
        allowHostCommands: true
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions: [{name: Source, provider: Git, outputArtifacts: [src]}]
            - name: Build
              actions:
                - {name: Bundle, provider: Command, inputArtifacts: [src], command: [sh, -c, "echo bundled"]}
            - name: Approval
              actions:
                - {name: Approve, provider: Manual, customData: "Release the new checkout page?"}
            - name: Release
              actions:
                - {name: Publish, provider: Command, command: [sh, -c, "echo published"]}
        """,
}


class Daemon:
    """A daemon this script talks to: its URL and token, and the CLI for the same data dir."""

    def __init__(self, url: str, token: str, env: dict[str, str] | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.env = env

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def cli(self, *args: str, cwd: Path | None = None) -> str:
        assert self.env is not None, "the CLI needs the daemon's data dir (not with --url)"
        done = subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], env=self.env, cwd=cwd,
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"conveyor {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout


def demo_daemon(home: Path) -> Daemon:
    """A daemon in `home` with the demo's history (reused when `home` already has one)."""
    # The registry keeps its default port (5000): the registries.conf drop-in `conveyor setup` writes
    # lets builds push over plain HTTP to that port only.
    env = {"CONVEYOR_PORT": str(_free_port()),  # unless told
           **os.environ, "CONVEYOR_HOME": str(home), **GIT_ENV,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    home.mkdir(parents=True, exist_ok=True)
    probe = Daemon("http://unused", "", env)
    if not _has_history(home):
        print(f"making a demo history in {home} (conveyor demo --yes --bad-release: a few minutes)", flush=True)
        probe.cli("demo", "--yes", "--bad-release")
        for name, yml in EXTRA_PIPELINES.items():
            repo = home / "screenshots" / name
            repo.mkdir(parents=True, exist_ok=True)
            (repo / "conveyor.yml").write_text(textwrap.dedent(yml))
            for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", f"{name}: first commit"]):
                subprocess.run(["git", *args], cwd=repo, env=env, check=True)
            probe.cli("run", "--repo", str(repo))
    else:  # a stopped daemon (no daemon.json) is started again, its history kept
        probe.cli("up")
    endpoint = json.loads((home / "daemon.json").read_text())
    daemon = Daemon(f"http://127.0.0.1:{endpoint['port']}", (home / "token").read_text().strip(), env)
    _settle(daemon)
    return daemon


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_history(home: Path) -> bool:
    return (home / "screenshots" / "web-frontend").exists()


def _settle(daemon: Daemon, timeout: float = 120.0) -> None:
    """Wait until every execution is finished or waiting for a person, so the pictures hold still."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [e for e in daemon.get("/api/v1/executions?limit=50")
                   if e["status"] in ("InProgress", "Stopping") and not e["awaitingApproval"]]
        if not running:
            return
        time.sleep(1)
    print("warning: some executions are still running; shooting anyway", file=sys.stderr)


def pages(daemon: Daemon) -> dict[str, str]:
    """name -> dashboard path, picked from what the daemon holds."""
    out = {"pipelines": "/ui/pipelines", "registry": "/ui/registry", "events": "/ui/events", "dora": "/ui/dora"}
    executions = daemon.get("/api/v1/executions?limit=100")
    demo = [e for e in executions if e["pipeline"] == "orders-service"] or executions
    if demo:
        best = next((e for e in demo if e["status"] == "Succeeded"), demo[0])
        out["execution"] = f"/ui/executions/{best['id']}"
    services = daemon.get("/api/v1/services")
    if services:
        prod = next((s for s in services if s["environment"] == "production"), services[0])
        env, name = prod["environment"], prod["serviceName"]
        out["service"] = f"/ui/services/{env}/{name}"
        latest = daemon.get(f"/api/v1/services/{env}/{name}/deployment").get("deployment")
        if latest and latest.get("id"):
            out["deployment"] = f"/ui/deployments/{latest['id']}"
    return out


def login(page: Any, base_url: str, token: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Token").fill(token)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/ui/**")


def shoot(daemon: Daemon, out_dir: Path, name: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    targets = pages(daemon)
    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for viewport, shots in ((WIDE, list(targets)), (NARROW, ["execution"])):
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                page = context.new_page()
                login(page, daemon.url, daemon.token, name)
                for shot in shots:
                    if shot not in targets:
                        print(f"skipped {shot}: nothing to show", file=sys.stderr)
                        continue
                    page.goto(daemon.url + targets[shot])
                    page.wait_for_selector("main h1")
                    page.wait_for_timeout(1500)  # the page's second reads (reports, charts) and fonts
                    suffix = "-narrow" if viewport is NARROW else ""
                    path = out_dir / f"dashboard-{shot}{suffix}.png"
                    # The deployment and service pages are tall (facts, then charts and tables): whole.
                    page.screenshot(path=str(path), full_page=shot in TALL)
                    saved.append(path)
                    print(f"saved {path}", flush=True)
                context.close()
        finally:
            browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running daemon's URL (then --token-file)")
    parser.add_argument("--token-file", help="the daemon's token file (its data dir's `token`)")
    parser.add_argument("--home", help="the data dir for the demo daemon (default: a new temporary one)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"), help="where the PNGs go (default docs/img)")
    parser.add_argument("--name", default="Dana (release manager)", help="the name to log in with")
    args = parser.parse_args(argv)
    if args.url:
        if not args.token_file:
            parser.error("--url needs --token-file")
        daemon = Daemon(args.url, Path(args.token_file).expanduser().read_text().strip())
    else:
        daemon = demo_daemon(Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="conveyor-shots-")))
    shoot(daemon, Path(args.out), args.name)
    if not args.url and not args.home:
        daemon.cli("down", "--all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
