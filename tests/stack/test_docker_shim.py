"""The docker wrapper as the build image runs it: a python3 script in front of the real client,
taking over only `docker login` to a local registry."""

import base64
import json
import os
import stat
import subprocess
import sys

import pytest
from stack_support import docker_wrapper_launcher, stack_missing

from conveyor.providers.local import containers
from conveyor.providers.local.process import run
from conveyor.stack import checks, standard_image
from conveyor.stack import components as c
from conveyor.stack.docker_wrapper import client, login

ECR_LOCAL = "000000000000.dkr.ecr.us-east-1.localhost:5000"
REAL_ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def home(tmp_path):
    """A HOME, and a fake real client that prints its argv and stdin and exits 3."""
    client = tmp_path / "docker-client"
    client.write_text('#!/bin/sh\nprintf "real:%s\\n" "$@"\n'
                      '[ -t 0 ] || sed "s/^/stdin:/"\nexit 3\n')
    client.chmod(0o755)
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def docker(home, *args, stdin="", **env):
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
               "CONVEYOR_DOCKER_CLIENT": str(home.parent / "docker-client"), **env}
    done = subprocess.run([sys.executable, docker_wrapper_launcher(home.parent), *args], input=stdin,
                          capture_output=True, text=True, check=False, env=environ, timeout=30)
    return done.returncode, done.stdout, done.stderr


def auths(path):
    return {host: base64.b64decode(entry["auth"]).decode()
            for host, entry in json.loads(path.read_text())["auths"].items()}


@pytest.mark.parametrize("host", [ECR_LOCAL, "127.0.0.1:5000", "localhost:5123",
                                  "000000000000.dkr.ecr-fips.eu-west-1.localhost:5000",
                                  f"https://{ECR_LOCAL}/v2/"])
def test_login_to_a_local_registry_writes_config_json(home, host):
    code, out, err = docker(home, "login", "--username", "AWS", "--password-stdin", host,
                            stdin="s3cret\n")
    assert (code, out) == (0, "Login Succeeded\n"), err
    config = home / ".docker" / "config.json"
    assert auths(config) == {login.hostname(host): "AWS:s3cret"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert err.startswith(f"WARNING! Your password will be stored unencrypted in {config}.\n")
    assert sorted(os.listdir(config.parent)) == ["config.json"]


def test_the_buildspec_pipeline_form(home):
    launcher = docker_wrapper_launcher(home.parent)
    script = (f'printf "%s\\n" "$CONVEYOR_REGISTRY_PASSWORD" | {sys.executable} {launcher} login '
              f'--username AWS --password-stdin {ECR_LOCAL}')
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False,
                          env={"HOME": str(home), "CONVEYOR_REGISTRY_PASSWORD": "tok=en/+x"})
    assert (done.returncode, done.stdout) == (0, "Login Succeeded\n")
    assert auths(home / ".docker" / "config.json") == {ECR_LOCAL: "AWS:tok=en/+x"}


@pytest.mark.parametrize("args", [
    ["-u", "AWS", "-p", "pw"], ["-uAWS", "-ppw"], ["-u=AWS", "--password=pw"],
    ["--username=AWS", "--password", "pw"],
])
def test_username_and_password_option_forms(home, args):
    code, out, err = docker(home, "login", *args, "127.0.0.1:5000")
    assert (code, out) == (0, "Login Succeeded\n")
    assert err.startswith("WARNING! Using --password via the CLI is insecure. "
                          "Use --password-stdin.\n")
    assert auths(home / ".docker" / "config.json") == {"127.0.0.1:5000": "AWS:pw"}


def test_login_keeps_the_rest_of_config_json_and_replaces_the_old_auth(home):
    config = home / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"docker.io": {"auth": "eDp5"},
                                            ECR_LOCAL: {"auth": "b2xk", "identitytoken": "t"}},
                                  "psFormat": "{{.ID}}"}))
    assert docker(home, "login", "-u", "AWS", "--password-stdin", ECR_LOCAL, stdin="new")[0] == 0
    data = json.loads(config.read_text())
    assert data["psFormat"] == "{{.ID}}"
    assert data["auths"]["docker.io"] == {"auth": "eDp5"}
    assert data["auths"][ECR_LOCAL] == {"auth": base64.b64encode(b"AWS:new").decode()}


def test_docker_config_and_the_config_option_choose_the_directory(home, tmp_path):
    assert docker(home, "login", "-u", "AWS", "-p", "a", ECR_LOCAL,
                  DOCKER_CONFIG=str(tmp_path / "dc"))[0] == 0
    assert auths(tmp_path / "dc" / "config.json") == {ECR_LOCAL: "AWS:a"}
    assert docker(home, "--config", str(tmp_path / "opt"), "--debug", "login", "-u", "AWS",
                  "-p", "b", ECR_LOCAL, DOCKER_CONFIG=str(tmp_path / "dc"))[0] == 0
    assert auths(tmp_path / "opt" / "config.json") == {ECR_LOCAL: "AWS:b"}
    assert not (home / ".docker").exists()


def test_a_mapped_real_ecr_host_stores_both_names(home):
    alias = f"{REAL_ECR}={ECR_LOCAL}"
    code, out, _ = docker(home, "login", "-u", "AWS", "--password-stdin", REAL_ECR, stdin="pw",
                          CONVEYOR_REGISTRY_ALIAS=alias)
    assert (code, out) == (0, "Login Succeeded\n")
    assert auths(home / ".docker" / "config.json") == {REAL_ECR: "AWS:pw", ECR_LOCAL: "AWS:pw"}


@pytest.mark.parametrize("args", [
    ["login", "-u", "AWS", "--password-stdin", REAL_ECR],  # real AWS: unchanged
    ["login", "-u", "me", "--password-stdin", "registry.example.com:5000"],
    ["login", "-u", "me", "--password-stdin"],  # Docker Hub
    ["login", "--password-stdin", ECR_LOCAL],  # no user: the client says what is missing
    ["login", "--help"],
    ["login", "-u", "AWS", "--password-stdin", ECR_LOCAL, "extra"],
    ["--version"],
    ["version", "--format", "{{.Client.Version}}"],
    ["push", f"{ECR_LOCAL}/orders:v1"],
    ["build", "-t", "x y", "--build-arg", "login=1", "."],
    ["run", "-i", "img", "docker", "login", "-u", "AWS", "-p", "x", ECR_LOCAL],
])
def test_everything_else_runs_the_real_client_with_the_same_arguments(home, args):
    code, out, _ = docker(home, *args, stdin="pw\n")
    assert code == 3
    assert out.splitlines() == [*(f"real:{a}" for a in args), "stdin:pw"]
    assert not (home / ".docker").exists()


def test_a_missing_real_client_says_where_it_looked(home):
    code, out, err = docker(home, "ps", CONVEYOR_DOCKER_CLIENT="/nonexistent/docker-client")
    assert (code, out) == (127, "")
    assert err == "docker: cannot run the docker client /nonexistent/docker-client: " \
                  "No such file or directory\n"


@pytest.mark.parametrize("args, stdin, message", [
    (["-u", "AWS", "-p", "x", "--password-stdin"], "y",
     "Error: --password and --password-stdin are mutually exclusive\n"),
    (["-u", "AWS", "--password-stdin"], "\n", "Error: password required\n"),
])
def test_login_errors(home, args, stdin, message):
    code, out, err = docker(home, "login", *args, ECR_LOCAL, stdin=stdin)
    assert (code, out) == (1, "")
    assert err.endswith(message)
    assert not (home / ".docker").exists()


def test_a_broken_config_json_is_reported_not_overwritten(home):
    config = home / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text("{not json")
    code, out, err = docker(home, "login", "-u", "AWS", "--password-stdin", ECR_LOCAL, stdin="p")
    assert (code, out) == (1, "")
    assert err.startswith(f"Error saving credentials: {config} is not valid JSON: ")
    assert config.read_text() == "{not json"


def test_the_wrapper_uses_only_the_standard_library():
    """Every module imports the standard library or a sibling (relatively: the package is
    `conveyor.stack.docker_wrapper` here and `docker_wrapper` in the image)."""
    seen: set[str] = set()
    for path in standard_image.wrapper_files():
        with open(path, encoding="utf-8") as f:
            source = f.read()
        imported = {line.split()[1] for line in source.splitlines()
                    if line.strip().startswith(("import ", "from "))}
        seen |= imported
        assert all(name.split(".")[0] in sys.stdlib_module_names or name.startswith(".")
                   or name == "__future__" for name in imported), (path, imported)
    assert {"os", "sys", ".builds", ".login"} <= seen  # the check saw the imports
    assert standard_image.launcher().startswith("#!/usr/bin/python3\n")
    assert client.REAL_CLIENT == c.DOCKER_CLIENT_PATH


# --- in the build image, on this machine (after `conveyor setup`) ------------------------------

SCRIPT = f"""set -e
echo pw | docker login --username AWS --password-stdin {ECR_LOCAL}
cat "$HOME/.docker/config.json"
echo
docker version --format 'client={{{{.Client.Version}}}} server={{{{.Server.Version}}}}'
command -v docker
"""


@pytest.mark.podman
def test_docker_login_in_the_build_image_and_the_engine_behind_the_wrapper(tmp_path):
    eng = checks.engine()
    if not containers.image_exists(eng, c.BUILD_IMAGE):
        stack_missing(f"{c.BUILD_IMAGE} is not built; run `conveyor setup`")
    if not checks.build_image_status(eng).ok:
        stack_missing(f"{c.BUILD_IMAGE} is out of date; run `conveyor setup`")
    service = containers.ensure_api_service(eng, str(tmp_path / "api"))
    try:
        access = containers.engine_access(service.socket)
        cmd = eng.run(c.BUILD_IMAGE, ["bash", "-c", SCRIPT], rm=True, mounts=access.mounts,
                      env={**access.env, "HOME": "/root"}, timeout=120)
        done = run(cmd, check=False, dry_run=False)
    finally:
        service.stop()
    assert done.ok, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Login Succeeded"
    config = json.loads("\n".join(lines[1:-2]))
    assert config == {"auths": {ECR_LOCAL: {"auth": base64.b64encode(b"AWS:pw").decode()}}}
    client, server = lines[-2].split()
    assert client.startswith("client=20.") and server.startswith("server=") and server != "server="
    assert lines[-1] == "/usr/local/bin/docker"
