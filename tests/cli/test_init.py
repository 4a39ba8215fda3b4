"""`conveyor init` as a user runs it: the four files it writes validate and describe the whole
pipeline; what it refuses (no Dockerfile, no port without a terminal, existing files, bad names)
exits 2 with the reason and writes nothing; on a terminal it asks for what it cannot read."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

FILES = ["conveyor.yml", "buildspec.yml", "taskdef.json", "appspec.yaml"]
SRC = Path(__file__).resolve().parents[2] / "src"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONVEYOR_HOME": str(cwd.parent / ".home"), "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "conveyor.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def repo(tmp_path: Path, files: dict[str, str], name: str = "shop", branch: str = "main") -> Path:
    root = tmp_path / name
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", branch, str(root)], check=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def load(root: Path) -> dict:
    return yaml.safe_load((root / "conveyor.yml").read_text())


def written(root: Path) -> list[str]:
    return [f for f in FILES if (root / f).exists()]


DOCKERFILE = "FROM python:3.12-slim\nCOPY . /srv\nEXPOSE 8080\nCMD [\"python3\", \"-m\", \"app\"]\n"


def test_writes_the_whole_pipeline_and_every_file_validates(tmp_path):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE})
    done = cli("init", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "container port: 8080 (EXPOSE at Dockerfile:3)",
        "health check path: /health (the default, not asked: no terminal; --health-path PATH to choose)"]
    checked = cli("validate", *FILES, "--json", cwd=root)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and (report["errors"], report["warnings"]) == (0, 0)
    assert [f["kind"] for f in report["files"]] == ["conveyor", "buildspec", "taskdef", "appspec"]

    conf = load(root)
    stages = conf["pipeline"]["stages"]
    assert [(s["name"], s["actions"][0]["provider"]) for s in stages] == [
        ("Source", "Git"), ("Build", "CodeBuild"), ("DeployStaging", "ECS"), ("Approval", "Manual"),
        ("DeployProduction", "CodeDeployToECS")]
    assert stages[1]["actions"][0]["privilegedMode"] is True
    assert "allowHostCommands" not in conf   # nothing runs on the host
    staging = conf["environments"]["staging"]["services"]["shop"]
    assert staging["deployment"]["controller"] == "ECS"
    assert staging["loadBalancer"] == {"port": 8081, "container": "shop", "containerPort": 8080,
                                       "healthCheck": {"path": "/health"}}
    prod = conf["environments"]["production"]["services"]["shop"]
    assert prod["loadBalancer"]["testPort"] == 9080 and prod["loadBalancer"]["containerPort"] == 8080
    deployment = prod["deployment"]
    assert deployment["controller"] == "CODE_DEPLOY"
    assert deployment["config"] == {"type": "TimeBasedCanary", "canaryPercentage": 10, "canaryInterval": "30s"}
    assert "DEPLOYMENT_STOP_ON_ALARM" in deployment["autoRollback"]
    assert [(a["metric"], a["scope"]) for a in deployment["alarms"]] == [
        ("HTTPCode_Target_5XX_Count", "green"), ("TargetResponseTime", "green")]
    assert conf["repositories"] == {"shop": {"imageTagMutability": "IMMUTABLE"}}

    spec = yaml.safe_load((root / "buildspec.yml").read_text())
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    assert 'docker build -t "$IMAGE_URI" -f Dockerfile .' in commands
    assert 'export IMAGE_TAG="$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c 1-7)"' in commands
    assert 'docker push "$IMAGE_URI"' in commands
    assert set(spec["artifacts"]["files"]) == {"imagedefinitions.json", "imageDetail.json", "taskdef.json",
                                               "appspec.yaml"}
    taskdef = json.loads((root / "taskdef.json").read_text())
    [container] = taskdef["containerDefinitions"]
    assert (container["name"], container["image"], container["portMappings"]) == (
        "shop", "<IMAGE1_NAME>", [{"containerPort": 8080, "protocol": "tcp"}])
    appspec = yaml.safe_load((root / "appspec.yaml").read_text())
    assert appspec["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": "shop", "ContainerPort": 8080}
    assert not any("build release" in (root / f).read_text() for f in FILES)


def test_without_a_dockerfile_nothing_is_written_and_it_says_what_it_needs(tmp_path):
    root = repo(tmp_path, {"app.py": "print(1)\n"})
    done = cli("init", cwd=root)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"conveyor: no Containerfile or Dockerfile in {root}: `conveyor init` writes a pipeline that builds the image "
        "it describes and deploys it to staging and production; nothing was written",
        "  next: add a Containerfile (or Dockerfile) at the repository root, or pass --dockerfile PATH"]
    assert written(root) == []


def test_containerfile_is_preferred_and_dockerfile_picks_another(tmp_path):
    root = repo(tmp_path, {"Containerfile": "FROM a\nEXPOSE 7000\n", "Dockerfile": "FROM b\nEXPOSE 7001\n",
                           "services/api/Dockerfile": "FROM c\nEXPOSE 7002\n"})
    done = cli("init", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("building Containerfile (podman's choice; a Dockerfile is there too: "
                                           "--dockerfile Dockerfile builds that)")
    assert "-f Containerfile ." in (root / "buildspec.yml").read_text()
    assert load(root)["environments"]["staging"]["services"]["shop"]["loadBalancer"]["containerPort"] == 7000
    done = cli("init", "--force", "--dockerfile", "api/Dockerfile", cwd=root / "services")  # relative to cwd
    assert done.returncode == 0, done.stderr
    assert '-f services/api/Dockerfile services/api' in (root / "buildspec.yml").read_text()
    assert "  build context: services/api/ (the Dockerfile's directory" in done.stdout
    assert load(root)["environments"]["staging"]["services"]["shop"]["loadBalancer"]["containerPort"] == 7002
    assert cli("validate", *FILES, cwd=root).returncode == 0


@pytest.mark.parametrize("given, message", [
    ("nope/Dockerfile", "conveyor: --dockerfile nope/Dockerfile: no such file"),
    ("../Dockerfile", "is outside the repository"),
])
def test_a_dockerfile_that_is_missing_or_outside_the_repository_is_refused(tmp_path, given, message):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    root = repo(tmp_path, {})
    done = cli("init", "--dockerfile", given, cwd=root)
    assert done.returncode == 2 and message in done.stderr
    assert written(root) == []


@pytest.mark.parametrize("dockerfile, reason", [
    ("FROM x\nCMD [\"serve\"]\n", "conveyor: Dockerfile exposes no TCP port (no EXPOSE): the load balancer needs "
                                   "the port the container serves on; nothing was written"),
    ("FROM x\nEXPOSE 53/udp\n", "conveyor: Dockerfile exposes no TCP port (only 53/udp): the load balancer"),
    ("FROM x\nARG PORT\nEXPOSE ${PORT}\n", "conveyor: Dockerfile:3: EXPOSE ${PORT}: $PORT has no default value in "
                                           "the final stage"),
])
def test_without_a_port_and_without_a_terminal_it_is_an_error(tmp_path, dockerfile, reason):
    root = repo(tmp_path, {"Dockerfile": dockerfile})
    done = cli("init", cwd=root)
    assert done.returncode == 2
    assert done.stderr.startswith(reason), done.stderr
    assert "  next: pass --port N, or add `EXPOSE N` to the Dockerfile" in done.stderr
    assert "Traceback" not in done.stderr and written(root) == []
    done = cli("init", "--port", "3000", cwd=root)   # --port needs no EXPOSE
    assert done.returncode == 0, done.stderr
    assert load(root)["environments"]["production"]["services"]["shop"]["loadBalancer"]["containerPort"] == 3000
    assert json.loads((root / "taskdef.json").read_text())["containerDefinitions"][0]["portMappings"][0][
        "containerPort"] == 3000


def test_port_wins_over_expose(tmp_path):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE})
    assert cli("init", "--port", "9000", cwd=root).returncode == 0
    assert "9000" in (root / "appspec.yaml").read_text()


def test_existing_files_are_listed_and_kept_unless_force(tmp_path):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE, "conveyor.yml": "mine\n", "taskdef.json": "{}\n"})
    done = cli("init", cwd=root)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"conveyor: conveyor.yml, taskdef.json already exist in {root}; nothing was written",
        "  next: pass --force to overwrite them"]
    assert (root / "conveyor.yml").read_text() == "mine\n" and written(root) == ["conveyor.yml", "taskdef.json"]
    assert cli("init", "--force", cwd=root).returncode == 0
    assert written(root) == FILES and load(root)["name"] == "shop"


@pytest.mark.parametrize("directory, name", [("My.Service_2", "my-service-2"), ("x", "x-app"),
                                              ("Über Shop", "ber-shop")])
def test_the_name_comes_from_the_directory_made_valid_everywhere(tmp_path, directory, name):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE}, name=directory)
    assert cli("init", cwd=root).returncode == 0
    conf = load(root)
    assert conf["name"] == name and list(conf["environments"]["staging"]["services"]) == [name]
    assert json.loads((root / "taskdef.json").read_text())["family"] == name
    assert f"REPOSITORY_NAME: {name}" in (root / "buildspec.yml").read_text()
    assert cli("validate", *FILES, cwd=root).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--name", "Bad_Name"], "conveyor: --name 'Bad_Name' is not a valid name: use 2-64 lower-case letters and "
                             "digits, joined by single hyphens (e.g. orders-api)"),
    (["--health-path", "health"], "conveyor: --health-path 'health' is not a path: it starts with /"),
    (["--health-path", "/a b"], "conveyor: --health-path '/a b' is not a path"),
    (["--staging-port", "9080"], "conveyor: the staging, production and test listener ports must differ "
                                 "(--staging-port 9080, --production-port 8080, --test-port 9080)"),
    (["--port", "0"], "conveyor: argument --port: '0' is not a port (1-65535)"),
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, args, message):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE})
    done = cli("init", *args, cwd=root)
    assert done.returncode == 2 and done.stderr.splitlines()[0].startswith(message), done.stderr
    assert written(root) == []


def test_options_reach_the_files(tmp_path):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE}, branch="trunk")
    done = cli("init", "--name", "orders-api", "--health-path", "/ready?deep=1", "--staging-port", "18081",
               "--production-port", "18080", "--test-port", "19080", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "`conveyor run --protected-branch trunk --follow`" in done.stdout
    assert "health check path" not in done.stdout   # given, so not announced as a default
    conf = load(root)
    assert conf["protectedBranches"] == ["trunk"] and conf["pipeline"]["triggers"][0]["branches"] == ["trunk"]
    prod = conf["environments"]["production"]["services"]["orders-api"]["loadBalancer"]
    assert (prod["port"], prod["testPort"], prod["healthCheck"]["path"]) == (18080, 19080, "/ready?deep=1")
    assert conf["environments"]["staging"]["services"]["orders-api"]["loadBalancer"]["port"] == 18081
    assert cli("validate", *FILES, cwd=root).returncode == 0


def test_build_args_before_from_become_pipeline_variables(tmp_path):
    root = repo(tmp_path, {"Dockerfile": "ARG BASE_IMAGE=python:3.12-slim\nARG VERSION\nARG AWS_REGION=x\n"
                                         "FROM ${BASE_IMAGE}\nEXPOSE 8080\n"})
    done = cli("init", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "  build arguments as pipeline variables: BASE_IMAGE=python:3.12-slim " in done.stdout
    assert "  not passed to the build: VERSION (no default: builds leave it unset)" in done.stdout
    assert "  not passed to the build: AWS_REGION (a name the build already sets)" in done.stdout
    conf = load(root)
    assert conf["pipeline"]["variables"] == [{"name": "BASE_IMAGE", "defaultValue": "python:3.12-slim",
                                              "description": "--build-arg BASE_IMAGE (Dockerfile:1)"}]
    build = conf["pipeline"]["stages"][1]["actions"][0]
    assert build["environmentVariables"] == {"BASE_IMAGE": "#{variables.BASE_IMAGE}"}
    spec = yaml.safe_load((root / "buildspec.yml").read_text())
    assert spec["env"]["variables"]["BASE_IMAGE"] == "python:3.12-slim"
    assert 'docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE_URI" -f Dockerfile .' in \
        spec["phases"]["build"]["commands"]
    assert cli("validate", *FILES, cwd=root).returncode == 0


def test_a_dockerfile_path_the_shell_would_split_is_refused(tmp_path):
    root = repo(tmp_path, {"my app/Dockerfile": DOCKERFILE})
    done = cli("init", "--dockerfile", "my app/Dockerfile", cwd=root)
    assert done.returncode == 2
    assert "my app/Dockerfile: the buildspec names the Dockerfile in a shell command" in done.stderr
    assert written(root) == []


class Terminal:
    """`conveyor init` on a pseudo-terminal: what it prints, and answers typed to its questions."""

    def __init__(self, root: Path, *args: str) -> None:
        self.fd, child = pty.openpty()
        env = {**os.environ, "CONVEYOR_HOME": str(root.parent / ".home"), "PYTHONPATH": str(SRC)}
        self.proc = subprocess.Popen([sys.executable, "-m", "conveyor.cli.main", "init", *args], cwd=root, env=env,
                                     stdin=child, stdout=child, stderr=child)
        os.close(child)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, f"no {text!r} in {self.seen!r}"
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096).decode()
                except OSError:  # the child closed the terminal
                    assert text in self.seen, f"no {text!r} in {self.seen!r}"

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=60)
        try:
            while select.select([self.fd], [], [], 0.1)[0]:
                self.seen += os.read(self.fd, 4096).decode()
        except OSError:
            pass
        os.close(self.fd)
        return code


def test_on_a_terminal_it_asks_for_the_port_and_the_health_path(tmp_path):
    root = repo(tmp_path, {"Dockerfile": "FROM x\nCMD [\"serve\"]\n"})
    term = Terminal(root)
    term.expect("Dockerfile exposes no TCP port (no EXPOSE)")
    term.expect("Container port the service listens on: ")
    term.type("http")
    term.expect("'http' is not a port (1-65535)")
    term.type("5000")
    term.expect("Health check path (answers 200 when the service is ready) [/health]: ")
    term.type("healthz")
    term.expect("'healthz' is not a path")
    term.type("/healthz")
    assert term.finish() == 0, term.seen
    lb = load(root)["environments"]["production"]["services"]["shop"]["loadBalancer"]
    assert (lb["containerPort"], lb["healthCheck"]["path"]) == (5000, "/healthz")


def test_on_a_terminal_enter_takes_the_default_health_path(tmp_path):
    root = repo(tmp_path, {"Dockerfile": DOCKERFILE})
    term = Terminal(root)
    term.expect("container port: 8080 (EXPOSE at Dockerfile:3)")
    term.expect("[/health]: ")
    term.type("")
    assert term.finish() == 0, term.seen
    assert load(root)["environments"]["staging"]["services"]["shop"]["loadBalancer"]["healthCheck"] == {
        "path": "/health"}
