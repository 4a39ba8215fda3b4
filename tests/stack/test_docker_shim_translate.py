"""The docker wrapper's translations, without an engine: BuildKit's and buildx's flags onto the
classic builder, the buildx subcommands answered locally, `run --rm` and bind mounts of the build
container's paths. Then the whole wrapper as a process, in front of a fake client and a fake
engine socket: the fallback line once per invocation, pushes after a buildx --push, the exit
status of `run --rm`."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading

import pytest
from stack_support import docker_wrapper_launcher

from conveyor.stack.docker_wrapper import builds, runs
from conveyor.stack.docker_wrapper import buildx as buildx_cmd
from conveyor.stack.docker_wrapper import engine as engine_api
from conveyor.stack.docker_wrapper.builds import BuildPlan, translate_build
from conveyor.stack.docker_wrapper.runs import translate_run


def plan(*args: str, buildx: bool = False) -> BuildPlan:
    return translate_build(list(args), buildx=buildx)


# --- docker build / buildx build flags ---------------------------------------------------------

@pytest.mark.parametrize("args", [["--progress", "plain"], ["--progress=tty"], ["--load"],
                                  ["--builder", "b1"], ["--builder=b1"]])
def test_presentation_and_builder_choice_are_dropped_silently(args):
    for buildx in (False, True):
        p = plan(*args, "-t", "app", ".", buildx=buildx)
        assert (p.args, p.notes, p.pushes, p.error) == (["-t", "app", "."], [], [], None)


@pytest.mark.parametrize("flag", ["--secret", "--ssh"])
@pytest.mark.parametrize("spelling", ["separate", "attached"])
def test_secrets_and_ssh_are_refused_in_one_line_naming_the_flag(flag, spelling):
    args = [flag, "id=npm,src=.npmrc"] if spelling == "separate" else [f"{flag}=default"]
    p = plan(*args, "-t", "app", ".")
    assert p.error == (f"docker build: {flag} is not supported here: it needs BuildKit, and the "
                       f"local engine's classic builder cannot receive secrets or SSH agents")
    assert "\n" not in p.error


def test_cache_to_is_dropped_with_a_line():
    p = plan("--cache-to", "type=registry,ref=r/app:cache,mode=max", "-t", "app", ".", buildx=True)
    assert p.args == ["-t", "app", "."]
    assert p.notes == ["docker buildx build: --cache-to type=registry,ref=r/app:cache,mode=max "
                       "ignored: the classic builder exports no build cache (layers stay cached "
                       "in the local engine between builds)\n"]


@pytest.mark.parametrize("value, expected", [
    ("r/app:latest", ["--cache-from", "r/app:latest"]),
    ("type=registry,ref=r/app:cache", ["--cache-from", "r/app:cache"]),
    ("ref=r/app:cache,type=registry", ["--cache-from", "r/app:cache"]),
])
def test_cache_from_an_image_is_passed_as_the_image(value, expected):
    assert plan("--cache-from", value, ".", buildx=True).args == [*expected, "."]
    assert plan(f"--cache-from={value}", ".").args == [*expected, "."]


@pytest.mark.parametrize("value", ["type=local,src=/tmp/cache", "type=gha", "type=s3,bucket=b"])
def test_cache_from_other_sources_is_dropped_with_a_line(value):
    p = plan("--cache-from", value, ".", buildx=True)
    assert p.args == ["."]
    assert p.notes == [f"docker buildx build: --cache-from {value} ignored: only images "
                       f"(type=registry) can be cache sources for the classic builder\n"]


@pytest.mark.parametrize("value", ["type=docker", "type=image", "type=image,name=x,push=false"])
def test_outputs_into_the_engine_are_what_the_classic_builder_does_anyway(value):
    p = plan("-o", value, "-t", "app", ".", buildx=True)
    assert (p.args, p.pushes, p.error, p.notes) == (["-t", "app", "."], [], None, [])


@pytest.mark.parametrize("value", ["type=registry", "type=image,push=true"])
def test_outputs_to_the_registry_push_each_tag(value):
    p = plan(f"--output={value}", "-t", "r/app:1", "-t", "r/app:latest", ".", buildx=True)
    assert (p.args, p.pushes) == (["-t", "r/app:1", "-t", "r/app:latest", "."],
                                  ["r/app:1", "r/app:latest"])


@pytest.mark.parametrize("value", ["type=local,dest=out", "out", "type=tar,dest=img.tar",
                                   "type=docker,dest=img.tar", "type=oci,dest=o.tar"])
def test_outputs_to_files_are_refused_with_what_to_do_instead(value):
    p = plan("-o", value, ".")
    assert p.error == (f"docker build: --output {value} is not supported here: the classic "
                       f"builder only puts the image in the engine (use -t NAME, then `docker "
                       f"create` and `docker cp`, or `docker save`)")


def test_one_platform_passes_through_several_are_refused():
    assert plan("--platform", "linux/amd64", ".").args == ["--platform", "linux/amd64", "."]
    p = plan("--platform=linux/amd64,linux/arm64", ".", buildx=True)
    assert p.error == ("docker buildx build: --platform linux/amd64,linux/arm64: the local "
                       "engine's classic builder builds one platform at a time (multi-platform "
                       "images need BuildKit)")


def test_push_builds_then_pushes_every_tag_in_order():
    p = plan("--push", "-t", "r/app:1", "--tag=r/app:latest", "-tr/app:x", ".", buildx=True)
    assert p.args == ["-t", "r/app:1", "--tag=r/app:latest", "-tr/app:x", "."]
    assert p.pushes == ["r/app:1", "r/app:latest", "r/app:x"]
    assert plan("--push=false", "-t", "r/app:1", ".", buildx=True).pushes == []


def test_push_without_a_tag_is_an_error():
    assert plan("--push", ".", buildx=True).error == \
        "docker buildx build: --push needs a name to push: add -t NAME"


@pytest.mark.parametrize("args, line", [
    (["--provenance=true"], "--provenance=true ignored"),
    (["--sbom"], "--sbom ignored"),
    (["--attest", "type=sbom"], "--attest=type=sbom ignored"),
    (["--metadata-file", "m.json"], "--metadata-file=m.json ignored"),
    (["--allow", "network.host"], "--allow=network.host ignored"),
])
def test_attestations_and_metadata_are_dropped_with_a_line(args, line):
    p = plan(*args, "-t", "app", ".", buildx=True)
    assert p.args == ["-t", "app", "."]
    assert p.notes == [f"docker buildx build: {line}: a BuildKit feature the classic builder "
                       f"does not have\n"]


@pytest.mark.parametrize("flag", ["--provenance=false", "--sbom=false", "--provenance=0"])
def test_attestations_turned_off_need_no_line(flag):
    p = plan(flag, ".", buildx=True)
    assert (p.args, p.notes) == (["."], [])


def test_named_build_contexts_are_refused():
    p = plan("--build-context", "base=../base", ".", buildx=True)
    assert p.error is not None and p.error.startswith(
        "docker buildx build: --build-context is not supported here")


def test_classic_options_pass_unchanged_and_the_dockerfile_and_context_are_found():
    args = ["--build-arg", "BASE=b", "--build-arg=V=1", "--target", "test", "-f", "d/Dockerfile",
            "--label", "a=b", "--no-cache", "--pull", "-q", "--add-host", "h:1.2.3.4",
            "--iidfile", "id.txt", "--network=host", "ctx"]
    p = plan(*args)
    assert (p.args, p.notes, p.error, p.pushes) == (args, [], None, [])
    assert (p.dockerfile, p.context) == ("d/Dockerfile", "ctx")
    assert plan("--file=x.Dockerfile", "-").dockerfile == "x.Dockerfile"
    assert plan("-fy.Dockerfile", ".").dockerfile == "y.Dockerfile"


def test_the_dockerfile_path_follows_the_client_rules(tmp_path):
    cwd = str(tmp_path)
    assert builds.dockerfile_path(plan("."), cwd) == os.path.join(cwd, ".", "Dockerfile")
    assert builds.dockerfile_path(plan("sub"), cwd) == os.path.join(cwd, "sub", "Dockerfile")
    assert builds.dockerfile_path(plan("-f", "/abs/D", "."), cwd) == "/abs/D"
    assert builds.dockerfile_path(plan("-f", "x/D", "sub"), cwd) == os.path.join(cwd, "x/D")
    assert builds.dockerfile_path(plan("-"), cwd) is None
    assert builds.dockerfile_path(plan("https://example.com/r.git"), cwd) is None


@pytest.mark.parametrize("text, lines", [
    ("FROM a\nRUN <<EOF\necho\nEOF\n", [2]),
    ("FROM a\nRUN <<-'EOT' bash\necho\nEOT\n", [2]),
    ("FROM a\nCOPY <<EOF /etc/x\ny\nEOF\n", [2]),
    ("FROM a\nrun cat <<END > /f\nx\nEND\n", [2]),
    ("FROM a\nRUN cat <<< 'here-string'\nRUN echo '<<'\nRUN a && b\n", []),
])
def test_heredocs_are_found_by_line(text, lines):
    assert builds.heredoc_lines(text) == lines


def test_the_heredoc_note_names_the_file_and_line(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM a\n\nRUN <<EOF\nx\nEOF\n")
    note = builds.heredoc_note(str(dockerfile))
    assert note is not None and note.startswith("Dockerfile:3: heredocs (<<EOF) need BuildKit")
    assert builds.heredoc_note(str(tmp_path / "missing")) is None


# --- buildx subcommands ------------------------------------------------------------------------

def test_buildx_build_and_its_alias_translate():
    for sub in ("build", "b"):
        p = buildx_cmd.buildx(["--builder", "x", sub, "--load", "-t", "app", "."])
        assert isinstance(p, BuildPlan) and p.args == ["-t", "app", "."]


def test_buildx_version_ls_and_inspect_answer_for_the_default_builder():
    assert buildx_cmd.buildx(["version"]) == (0, buildx_cmd.BUILDX_VERSION + "\n", "")
    code, out, err = buildx_cmd.buildx(["ls"])  # type: ignore[misc]
    assert (code, err) == (0, "")
    rows = [line.split() for line in out.splitlines()]
    assert rows == [["NAME/NODE", "DRIVER/ENDPOINT", "STATUS", "BUILDKIT", "PLATFORMS"],
                    ["default", "*", "docker"],
                    ["default", "default", "running", "classic", buildx_cmd.platform_name()]]
    for args in (["inspect"], ["inspect", "--bootstrap"], ["inspect", "--bootstrap", "mine"]):
        code, out, err = buildx_cmd.buildx(args)  # type: ignore[misc]
        assert (code, err) == (0, "")
        assert "Status:    running\n" in out and f"Platforms: {buildx_cmd.platform_name()}\n" in out
    assert buildx_cmd.buildx(["inspect", "mine"])[1].startswith("Name:          mine\n")  # type: ignore[index]


def test_buildx_create_use_rm_and_stop_succeed():
    code, out, err = buildx_cmd.buildx(["create", "--use", "--name", "ci", "--driver",  # type: ignore[misc]
                                  "docker-container", "--bootstrap"])
    assert (code, out) == (0, "ci\n")
    assert err == "docker buildx create: builders here all use the local engine's classic builder\n"
    assert buildx_cmd.buildx(["create", "--use"])[:2] == (0, "default\n")  # type: ignore[index]
    for args in (["use", "ci"], ["use", "--default", "default"], ["rm", "ci"], ["stop"]):
        assert buildx_cmd.buildx(args) == (0, "", "")


@pytest.mark.parametrize("sub", ["bake", "imagetools", "prune", "du", "dial-stdio"])
def test_other_buildx_commands_are_a_one_line_error(sub):
    code, out, err = buildx_cmd.buildx([sub, "x"])  # type: ignore[misc]
    assert (code, out) == (1, "")
    assert err == buildx_cmd.BUILDX_NOT_HERE.format(sub=sub) and err.count("\n") == 1
    assert buildx_cmd.buildx([]) == (1, "", "docker buildx: a command is needed: build, version, ls, "
                                      "inspect, create, use, rm or stop\n")


# --- docker run --------------------------------------------------------------------------------

MOUNTS = {"/codebuild/output/src/src": "/var/lib/conveyor/builds/7/src",
          "/codebuild/output/src/src_lib": "/var/lib/conveyor/builds/7/lib"}
SRC = "/codebuild/output/src/src"
LABEL = ["--label", f"{runs.REMOVE_LABEL}=true"]


def test_run_rm_is_taken_over_so_the_exit_status_survives():
    p = translate_run(["--rm", "-t", "img", "sh", "-c", "pytest"], SRC, MOUNTS)
    assert (p.args, p.remove_after, p.notes) == ([*LABEL, "-t", "img", "sh", "-c", "pytest"], True, [])


@pytest.mark.parametrize("args", [["--rm", "-d", "img"], ["-d", "--rm", "img"],
                                  ["--rm", "-dit", "img"], ["--detach", "--rm", "img"]])
def test_a_detached_run_keeps_the_engines_removal(args):
    p = translate_run(args, SRC, MOUNTS)
    assert not p.remove_after
    assert p.args[0] == "--rm" and sorted(p.args[1:]) == sorted(a for a in args if a != "--rm")


def test_only_the_clients_options_are_read_not_the_commands():
    args = ["-e", "A=1", "--name", "t", "img", "--rm", "-v", "/x:/y", "-d"]
    p = translate_run(args, SRC, MOUNTS)
    assert (p.args, p.remove_after, p.notes) == (args, False, [])
    assert translate_run(["--rm=false", "img"], SRC, MOUNTS).args == ["img"]


@pytest.mark.parametrize("given, expected", [
    (["-v", f"{SRC}:/w"], ["-v", "/var/lib/conveyor/builds/7/src:/w"]),
    (["--volume", f"{SRC}/app:/w:ro"], ["--volume", "/var/lib/conveyor/builds/7/src/app:/w:ro"]),
    ([f"--volume={SRC}_lib:/l"], ["--volume", "/var/lib/conveyor/builds/7/lib:/l"]),
    ([f"-v{SRC}/.:/w"], ["-v", "/var/lib/conveyor/builds/7/src:/w"]),
    (["-v", "./tests:/t"], ["-v", "/var/lib/conveyor/builds/7/src/app/tests:/t"]),
    (["-v", "..:/up"], ["-v", "/var/lib/conveyor/builds/7/src:/up"]),
    (["-itv", f"{SRC}:/w"], ["-it", "-v", "/var/lib/conveyor/builds/7/src:/w"]),
    (["-v", "cache:/root/.cache"], ["-v", "cache:/root/.cache"]),
    (["-v", "/anonymous"], ["-v", "/anonymous"]),
    (["--mount", f"type=bind,source={SRC},target=/w"],
     ["--mount", "type=bind,source=/var/lib/conveyor/builds/7/src,target=/w"]),
    ([f"--mount=src={SRC}/x,dst=/w,readonly"],
     ["--mount", "src=/var/lib/conveyor/builds/7/src/x,dst=/w,readonly"]),
    (["--mount", "type=volume,source=v,target=/w"], ["--mount", "type=volume,source=v,target=/w"]),
    (["-v", "/var/run/docker.sock:/var/run/docker.sock"],
     ["-v", "/var/run/docker.sock:/var/run/docker.sock"]),
])
def test_bind_mounts_of_the_build_directories_name_the_host_directories(given, expected):
    p = translate_run([*given, "img", "ls"], f"{SRC}/app", MOUNTS)
    assert (p.args, p.notes) == ([*expected, "img", "ls"], [])


def test_a_bind_mount_outside_the_build_directories_is_passed_with_a_line():
    p = translate_run(["-v", "/tmp/out:/out", "img"], SRC, MOUNTS)
    assert p.args == ["-v", "/tmp/out:/out", "img"]
    assert p.notes == ["docker run: bind mount /tmp/out: the engine runs on the host, so this is "
                       "the host's /tmp/out, not this build container's (only the build's source "
                       "directories are translated)\n"]
    unknown = translate_run(["-v", f"{SRC}:/w", "img"], SRC, None)  # the runner said nothing
    assert unknown.args == ["-v", f"{SRC}:/w", "img"] and len(unknown.notes) == 1


def test_create_translates_mounts_but_keeps_rm():
    p = translate_run(["--rm", "-v", f"{SRC}:/w", "img"], SRC, MOUNTS, create=True)
    assert (p.args, p.remove_after) == (["--rm", "-v", "/var/lib/conveyor/builds/7/src:/w", "img"],
                                        False)


def test_host_mounts_reads_json_and_ignores_what_it_cannot_use():
    env = {runs.HOST_MOUNTS_ENV: json.dumps({**MOUNTS, "relative": "/x", "/y": 3, "/z/": "/h"})}
    assert runs.host_mounts(env) == {**MOUNTS, "/z": "/h"}
    assert runs.host_mounts({}) is None
    assert runs.host_mounts({runs.HOST_MOUNTS_ENV: "not json"}) is None


# --- the wrapper as a process: a fake client and a fake engine ---------------------------------

FAKE_CLIENT = """#!/bin/sh
printf '%s\\n' "$*" >> "$CALLS"
echo "buildkit=${DOCKER_BUILDKIT-unset}" >> "$CALLS"
while [ $# -gt 0 ]; do
  if [ "$1" = --cidfile ]; then printf 'c0ffee\\n' > "$2"; fi
  shift
done
exit "${FAKE_EXIT:-0}"
"""


class _Engine(socketserver.StreamRequestHandler):
    """/_ping as podman's API answers it; /containers/HOSTNAME/json with two mounts."""

    headers = b"Api-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\n"
    container = json.dumps({"Mounts": [
        {"Type": "bind", "Source": "/host/builds/9/src", "Destination": "/codebuild/output/src/src"},
        {"Type": "volume", "Source": "/var/lib/containers/v", "Destination": "/v"},
    ]}).encode()

    def handle(self):
        path = self.rfile.readline().split()[1].decode()
        if path == "/_ping":
            status, body = b"200 OK", b"OK"
        elif path == f"/containers/{socket.gethostname()}/json":
            status, body = b"200 OK", self.container
        else:
            status, body = b"404 Not Found", b"{}"
        self.wfile.write(b"HTTP/1.1 " + status + b"\r\n" + self.headers +
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def engine(tmp_path):
    """A socket answering /_ping as podman's API does."""
    path = str(tmp_path / "engine.sock")
    server = socketserver.UnixStreamServer(path, _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"unix://{path}"
    server.shutdown()
    server.server_close()


def wrapper(tmp_path, host, *args, **env):
    client = tmp_path / "docker-client"
    client.write_text(FAKE_CLIENT)
    client.chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
               "CONVEYOR_DOCKER_CLIENT": str(client), "CALLS": str(calls), "DOCKER_HOST": host,
               **env}
    done = subprocess.run([sys.executable, docker_wrapper_launcher(tmp_path), *args], capture_output=True, text=True,
                          check=False, env=environ, timeout=30, cwd=tmp_path)
    return done.returncode, done.stderr, calls.read_text().splitlines()


FALLBACK = ("BuildKit is not served by the local engine (podman 4.3.1); building with the "
            "classic builder\n")


def test_docker_buildkit_1_builds_classic_with_one_line(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "build", "--progress", "plain", "-t", "app", ".",
                               DOCKER_BUILDKIT="1")
    assert (code, err) == (0, FALLBACK)
    assert calls == ["build -t app .", "buildkit=0"]


def test_image_build_is_a_build_too(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "image", "build", "-t", "app", ".",
                               DOCKER_BUILDKIT="true")
    assert (code, err, calls) == (0, FALLBACK, ["build -t app .", "buildkit=0"])


def test_without_docker_buildkit_there_is_no_line(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "build", "-t", "app", ".")
    assert (code, err, calls) == (0, "", ["build -t app .", "buildkit=0"])
    code, err, calls = wrapper(tmp_path, engine, "build", "-t", "app", ".", DOCKER_BUILDKIT="0")
    assert (code, err) == (0, "")


def test_buildx_push_builds_once_pushes_each_tag_and_says_it_once(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "buildx", "build", "--push", "-t", "r/app:1",
                               "-t", "r/app:latest", "--platform", "linux/amd64", ".")
    assert (code, err) == (0, FALLBACK)
    assert calls == ["build -t r/app:1 -t r/app:latest --platform linux/amd64 .", "buildkit=0",
                     "push r/app:1", "buildkit=0", "push r/app:latest", "buildkit=0"]


def test_a_failed_build_pushes_nothing(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "buildx", "build", "--push", "-t", "r/app:1",
                               ".", FAKE_EXIT="2")
    assert (code, err, calls) == (2, FALLBACK, ["build -t r/app:1 .", "buildkit=0"])


def test_an_unanswering_engine_still_falls_back(tmp_path):
    code, err, _ = wrapper(tmp_path, f"unix://{tmp_path}/nothing.sock", "build", ".",
                           DOCKER_BUILDKIT="1")
    assert (code, err) == (0, "BuildKit is not served by the local engine (podman); building "
                              "with the classic builder\n")


def test_an_error_comes_after_the_line_and_runs_nothing(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "build", "--secret", "id=a", ".",
                               DOCKER_BUILDKIT="1")
    assert code == 1 and calls == []
    assert err.splitlines() == [FALLBACK.strip(), translate_build(["--secret", "id=a"]).error]


def test_run_rm_returns_the_commands_status_and_removes_the_container(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "run", "--rm", "img", "false", FAKE_EXIT="3")
    assert (code, err) == (3, "")
    run, _, remove, _ = calls
    cidfile = run.split()[2]
    assert run == f"run --cidfile {cidfile} {' '.join(LABEL)} img false"
    assert remove == "rm --force c0ffee"
    assert not os.path.exists(os.path.dirname(cidfile))


def test_run_rm_with_the_users_cidfile_keeps_it(tmp_path, engine):
    code, _, calls = wrapper(tmp_path, engine, "run", "--rm", "--cidfile", "my.cid", "img")
    assert code == 0
    assert calls[0] == f"run {' '.join(LABEL)} --cidfile my.cid img"
    assert calls[2] == "rm --force c0ffee"
    assert (tmp_path / "my.cid").read_text() == "c0ffee\n"


def test_run_translates_paths_from_the_runners_variable(tmp_path, engine):
    mounts = json.dumps({str(tmp_path): "/host/build/src"})
    code, err, calls = wrapper(tmp_path, engine, "run", "-v", f"{tmp_path}/app:/app", "img",
                               CONVEYOR_HOST_MOUNTS=mounts)
    assert (code, err, calls[0]) == (0, "", "run -v /host/build/src/app:/app img")


def test_without_the_variable_the_engine_is_asked_for_this_containers_mounts(tmp_path, engine):
    code, err, calls = wrapper(tmp_path, engine, "run", "-v", f"{SRC}/app:/app", "--mount",
                               "type=volume,source=v,target=/v", "img")
    assert (code, err) == (0, "")
    assert calls[0] == "run -v /host/builds/9/src/app:/app --mount type=volume,source=v,target=/v img"
    assert engine_api.own_mounts({}, {"DOCKER_HOST": engine}) == {SRC: "/host/builds/9/src"}


def test_an_engine_that_does_not_know_this_container_leaves_the_path_with_a_line(tmp_path, engine):
    _Engine.container, saved = b"not json", _Engine.container
    try:
        code, err, calls = wrapper(tmp_path, engine, "run", "-v", f"{SRC}:/w", "img")
    finally:
        _Engine.container = saved
    assert code == 0 and calls[0] == f"run -v {SRC}:/w img"
    assert err.startswith(f"docker run: bind mount {SRC}: the engine runs on the host")
