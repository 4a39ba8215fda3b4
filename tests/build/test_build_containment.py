"""Issue 16 at run time, without a container: what reaches the build shell and what leaves the
source directory (the podman end-to-end cases are in test_build_runner.py)."""

from __future__ import annotations

import os

import pytest

from conveyor.actions.base import ActionFailed
from conveyor.actions.codebuild import cache_directory
from conveyor.build.artifacts import ArtifactError
from conveyor.build.environment import ReservedVariableError
from conveyor.build.runner import export_line, ship_file


def test_export_line_refuses_a_name_that_is_code():
    with pytest.raises(ReservedVariableError, match="'A;touch /tmp/x;B' is not a valid name"):
        export_line("A;touch /tmp/x;B", "1")


def test_export_line_quotes_the_value():
    assert export_line("V", "$(touch /tmp/x); `id`") == "export V='$(touch /tmp/x); `id`'"


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.js").write_text("app")
    (tmp_path / "secret.txt").write_text("host secret")
    return root


def test_a_symlink_out_of_the_source_is_never_copied(source, tmp_path):
    (source / "dist" / "leak").symlink_to(tmp_path / "secret.txt")
    for keep in (False, True):
        dest = tmp_path / f"out-{keep}"
        with pytest.raises(ArtifactError, match="dist/leak is a symbolic link to outside the source directory"):
            ship_file(source, "dist/leak", dest, keep_symlinks=keep)
        assert not dest.exists()


def test_enable_symlinks_no_copies_the_target(source, tmp_path):
    (source / "dist" / "alias.js").symlink_to("app.js")
    ship_file(source, "dist/alias.js", tmp_path / "alias.js", keep_symlinks=False)
    assert not (tmp_path / "alias.js").is_symlink() and (tmp_path / "alias.js").read_text() == "app"


def test_enable_symlinks_yes_keeps_the_link(source, tmp_path):
    (source / "dist" / "alias.js").symlink_to(source / "dist" / "app.js")  # absolute, inside
    ship_file(source, "dist/alias.js", tmp_path / "alias.js", keep_symlinks=True)
    assert (tmp_path / "alias.js").is_symlink() and os.readlink(tmp_path / "alias.js") == "app.js"


def test_a_regular_file_is_copied(source, tmp_path):
    ship_file(source, "dist/app.js", tmp_path / "a", keep_symlinks=False)
    assert (tmp_path / "a").read_text() == "app"


@pytest.mark.parametrize("project", ["../../x", "..", ".", "a/b", ""])
def test_a_project_name_cannot_name_a_directory_outside_the_cache(tmp_path, project):
    with pytest.raises(ActionFailed, match="cannot name a cache directory"):
        cache_directory(tmp_path, project)


def test_a_symlinked_cache_directory_is_refused(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "web").symlink_to("/")
    with pytest.raises(ActionFailed, match="leads outside"):
        cache_directory(tmp_path, "web")
    assert cache_directory(tmp_path, "my.pipeline") == (tmp_path / "cache" / "my.pipeline").resolve()


def test_a_secondary_artifact_identifier_cannot_write_outside_the_artifacts_dir(tmp_path):
    from conveyor.build.buildlog import BuildLog
    from conveyor.build.runner import BuildRequest, _upload
    from conveyor.config.buildspec_model import Artifacts, BuildSpec, Env

    src = tmp_path / "src"
    src.mkdir()
    (src / "b").write_text("b")
    spec = BuildSpec("0.2", None, Env(), {}, Artifacts(("b",)), {"../../up": Artifacts(("b",))}, {}, None, "b.yml")
    req = BuildRequest(source_dir=src, image="x", engine=None, artifacts_dir=tmp_path / "out")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="secondary artifact identifier '../../up' is not valid"):
        _upload(spec, req, BuildLog(lambda line: None, req.clock))
    assert not (tmp_path / "up").exists()


def test_hash_files_ignores_a_symlink_out_of_the_source(tmp_path):
    """The cache key's `$(codebuild-hash-files …)` would otherwise put a host file's hash in the log."""
    from conveyor.build.buildlog import BuildLog
    from conveyor.build.cache import BuildCache
    from conveyor.build.runner import SOURCE_MOUNT, BuildRequest
    from conveyor.config.buildspec_model import BuildSpec, Cache, Env

    src = tmp_path / "src"
    src.mkdir()
    (src / "lock.txt").write_text("v1")
    spec = BuildSpec("0.2", None, Env(), {}, None, {}, {}, Cache(("deps/**/*",), key="k"), "b.yml")
    req = BuildRequest(source_dir=src, image="x", engine=None, cache_dir=tmp_path / "c")  # type: ignore[arg-type]
    cache = BuildCache(spec, req, BuildLog(lambda line: None, req.clock), source_mount=SOURCE_MOUNT)
    alone = cache._hash_files(["**/*"])
    (tmp_path / "secret").write_text("host secret")
    (src / "leak").symlink_to(tmp_path / "secret")
    assert cache._hash_files(["**/*"]) == alone


class _KilledSession:
    """A session whose process had to be SIGKILLed: its `run --rm` never removed the container."""

    def close(self) -> bool:
        return False


def test_a_killed_build_shell_removes_its_containers_itself(tmp_path):
    from conveyor.build.runner import BuildRequest, BuildShell
    from conveyor.config.buildspec import load_buildspec_text
    from conveyor.providers.local.containers import ContainerEngine

    calls = tmp_path / "calls"
    engine_bin = tmp_path / "engine"
    engine_bin.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    engine_bin.chmod(0o755)
    req = BuildRequest(source_dir=tmp_path, image="img", engine=ContainerEngine(binary=str(engine_bin)),
                       container_name="conveyor-build-x")
    shell = BuildShell(load_buildspec_text("version: 0.2\nphases: {build: {commands: [true]}}\n", "b.yml"), req,
                       {}, lambda line: None)
    shell.names = ["conveyor-build-x", "conveyor-build-x-2"]
    shell.session = _KilledSession()  # type: ignore[assignment]
    shell.close()
    assert calls.read_text().split() == ["rm", "--force", "conveyor-build-x", "conveyor-build-x-2"]
