import json
import tarfile

import pytest
from stack_support import stack_missing

from conveyor.errors import ConveyorError, UserError
from conveyor.stack import checks, images, setup
from conveyor.stack import components as c
from conveyor.stack.checks import Status
from conveyor.stack.containers_conf import merge_settings, missing_settings
from conveyor.stack.doctor import run_doctor

SETTINGS = c.SANDBOX_SETTINGS

# --- containers.conf merge -------------------------------------------------------------------


def test_merge_into_an_empty_file():
    assert merge_settings("", SETTINGS) == (
        "[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\n")


def test_merge_keeps_comments_and_other_keys_and_adds_inside_existing_tables():
    text = ("# site settings\n"
            "[containers]\n"
            "log_size_max = 1000  # bytes\n"
            "\n"
            "[engine]\n"
            "events_logger = \"file\"\n"
            "\n"
            "[engine.runtimes]\n"
            "runc = [\"/usr/sbin/runc\"]\n")
    assert merge_settings(text, SETTINGS) == (
        "# site settings\n"
        "[containers]\n"
        "log_size_max = 1000  # bytes\n"
        "default_ulimits = []\n"
        "\n"
        "[engine]\n"
        "events_logger = \"file\"\n"
        "runtime = \"runc\"\n"
        "\n"
        "[engine.runtimes]\n"
        "runc = [\"/usr/sbin/runc\"]\n")


def test_merge_replaces_a_conflicting_value_even_a_multiline_array():
    text = ("[containers]\n"
            "default_ulimits = [\n"
            "  \"nofile=1280:2560\",  # [sic]\n"
            "]\n"
            "pids_limit = 2048\n"
            "[engine]\n"
            "runtime = \"crun\"\n")
    assert merge_settings(text, SETTINGS) == (
        "[containers]\n"
        "default_ulimits = []\n"
        "pids_limit = 2048\n"
        "[engine]\n"
        "runtime = \"runc\"\n")


def test_merge_of_what_is_already_there_changes_nothing():
    text = "[engine]\nruntime = 'runc'\n[containers]\ndefault_ulimits = [ ]\n"
    assert missing_settings(text, SETTINGS) == {}
    assert merge_settings(text, SETTINGS) is text


def test_merge_adds_only_the_missing_half():
    text = "[engine]\nruntime = \"runc\"\n"
    assert missing_settings(text, SETTINGS) == {"containers": {"default_ulimits": "[]"}}
    assert merge_settings(text, SETTINGS) == (
        "[engine]\nruntime = \"runc\"\n\n[containers]\ndefault_ulimits = []\n")


def test_merge_refuses_a_broken_file_with_the_path_and_fix():
    with pytest.raises(UserError) as err:
        merge_settings("[engine\nruntime=", SETTINGS, "/etc/containers/containers.conf")
    assert str(err.value).startswith("/etc/containers/containers.conf is not valid TOML:")
    assert err.value.hint == "fix or move the file, then run `conveyor setup` again"


# --- which packages are missing --------------------------------------------------------------

PKGS = (c.Package("podman", "podman", ""), c.Package("git", "git", ""),
        c.Package("haproxy", "haproxy", ""), c.Package("busybox-static", None, ""))


def test_missing_packages_uses_dpkg_then_path():
    installed = {"podman": "4.3.1+ds1-8"}
    on_path = {"git": "/usr/local/bin/git", "busybox": "/bin/busybox"}
    assert c.missing_packages(PKGS, installed, on_path.get) == ["haproxy", "busybox-static"]
    assert c.missing_packages(PKGS, {p.name: "1" for p in PKGS}, on_path.get) == []


def test_parse_dpkg_status_ignores_removed_packages():
    out = ("podman\tinstall ok installed\t4.3.1+ds1-8+deb12u1+b3\n"
           "haproxy\tdeinstall ok config-files\t2.6.12-1\n"
           "garbage line\n")
    assert c.parse_dpkg_status(out) == {"podman": "4.3.1+ds1-8+deb12u1+b3"}


def test_install_fix_and_versions():
    assert c.install_fix(["haproxy", "skopeo"]) == "apt-get install -y haproxy skopeo"
    assert c.short_version("1:1.35.0-4+deb12u1+b1") == "1.35.0"


@pytest.mark.parametrize("error, needed", [
    ("Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted", True),
    ("Error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2", True),
    ("Error: runc: ... error setting rlimit type 7: operation not permitted", True),
    ("Error: localhost/x: image not known", False),
])
def test_which_probe_failures_the_settings_fix(error, needed):
    assert c.needs_sandbox_settings(error) is needed


# --- doctor ----------------------------------------------------------------------------------

def fake_checks(broken=False):
    def boom():
        raise ConveyorError("podman: command not found", hint="apt-get install -y podman")
    table = [("packages", lambda: [Status("haproxy", True, "2.6.12")])]
    if broken:
        table += [("engine", boom),
                  ("image", lambda: [Status(c.BASE_IMAGE, False, "not built", "conveyor setup")])]
    return table


def test_doctor_json_shape():
    out = []
    assert run_doctor(out.append, as_json=True, checks=fake_checks(broken=True)) == 1
    assert json.loads(out[0]) == [
        {"name": "haproxy", "ok": True, "detail": "2.6.12", "fix": None},
        {"name": "engine", "ok": False, "detail": "podman: command not found",
         "fix": "apt-get install -y podman"},
        {"name": c.BASE_IMAGE, "ok": False, "detail": "not built", "fix": "conveyor setup"},
    ]


def test_doctor_text_lines_and_exit_code():
    out = []
    assert run_doctor(out.append, checks=fake_checks()) == 0
    assert out == ["✓ haproxy: 2.6.12"]
    out.clear()
    assert run_doctor(out.append, checks=fake_checks(broken=True)) == 1
    assert out[1:] == [
        "✗ engine: podman: command not found — fix: apt-get install -y podman",
        f"✗ {c.BASE_IMAGE}: not built — fix: conveyor setup",
    ]


# --- the busybox root filesystem -------------------------------------------------------------

def test_busybox_rootfs_tar(tmp_path):
    fake = tmp_path / "busybox"
    fake.write_bytes(b"\x7fELF fake")
    tar_path = tmp_path / "root.tar"
    count = images.write_busybox_rootfs(str(tar_path), ["bin/sh", "usr/bin/[", "bin/busybox",
                                                        "usr/local/bin/x", ""], str(fake))
    assert count == 3
    with tarfile.open(tar_path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("bin/busybox").read() == b"\x7fELF fake"
    assert members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
    assert members["usr/local"].isdir() and members["usr/local/bin"].isdir()
    assert members["tmp"].mode == 0o1777
    assert {m.mtime for m in members.values()} == {0}


def test_image_build_commands():
    assert images.busybox_import_changes("busybox-static 1.35.0") == [
        'CMD ["/bin/sh"]', 'LABEL io.conveyor.origin="busybox-static 1.35.0"']
    assert str(images.mmdebstrap_command("/var/tmp/b.tar")) == (
        "mmdebstrap --variant=apt --include=python3,python-is-python3,ca-certificates "
        "--format=tar bookworm /var/tmp/b.tar")


# --- on this machine (after `conveyor setup`) ------------------------------------------------

def _need_setup():
    out = []
    if run_doctor(out.append) != 0:
        stack_missing("the local stack is not set up; run `conveyor setup`: "
                    + "; ".join(line for line in out if line.startswith("✗")))


@pytest.mark.podman
def test_doctor_is_happy_after_setup():
    out = []
    code = run_doctor(out.append)
    assert code == 0, "\n".join(out)
    assert any(line.startswith(f"✓ {c.BASE_IMAGE}: ") for line in out)


@pytest.mark.podman
def test_second_setup_changes_nothing():
    _need_setup()
    out = []
    assert setup.run_setup(out.append) == 0, "\n".join(out)
    assert all(line.startswith("✓") for line in out), out


@pytest.mark.podman
def test_sandbox_settings_are_written_only_when_a_plain_run_fails(tmp_path, monkeypatch):
    _need_setup()
    conf = tmp_path / "containers.conf"
    conf.write_text("# kept\n[engine]\nevents_logger = \"file\"\n")
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))  # podman then reads only this file
    plain = checks.probe_status(checks.engine())
    out = []
    setup.ensure_run_works(out.append, checks.engine(), dry_run=False)
    text = conf.read_text()
    assert text.startswith("# kept\n[engine]\nevents_logger = \"file\"\n")
    assert (not missing_settings(text, SETTINGS)) is (not plain.ok)
    assert out[-1].startswith("✓ podman run works")
