"""What `conveyor setup` writes for the local registry's names — the /etc/hosts line and the
registries.conf drop-in — tried on files under tmp (CONVEYOR_HOSTS_FILE,
CONVEYOR_REGISTRIES_DROPIN), and what doctor says about them."""

import errno
import os
import stat

import pytest

from conveyor.errors import UserError
from conveyor.registry import uris
from conveyor.stack import checks, setup
from conveyor.stack import components as c
from conveyor.stack.doctor import collect

NAME = "000000000000.dkr.ecr.us-east-1.localhost"
LINE = f"127.0.0.1\t{NAME}\t# conveyor local registry"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# comment\n10.1.2.3 build-cache\n"


@pytest.fixture
def paths(tmp_path, monkeypatch):
    hosts, dropin = tmp_path / "hosts", tmp_path / "registries.conf.d" / "50-conveyor.conf"
    hosts.write_text(HOSTS)
    monkeypatch.setenv(c.HOSTS_FILE_ENV, str(hosts))
    monkeypatch.setenv(c.REGISTRIES_DROPIN_ENV, str(dropin))
    monkeypatch.delenv(c.REGISTRY_PORT_ENV, raising=False)
    return hosts, dropin


def ensure(dry_run=False):
    out = []
    setup.ensure_registry_names(out.append, dry_run)
    return out


def test_paths_and_port_default_to_the_system_ones(monkeypatch):
    for env in (c.HOSTS_FILE_ENV, c.REGISTRIES_DROPIN_ENV, c.REGISTRY_PORT_ENV):
        monkeypatch.delenv(env, raising=False)
    assert c.hosts_path() == "/etc/hosts"
    assert c.registries_dropin_path() == (
        "/etc/containers/registries.conf.d/50-conveyor-registry.conf")
    assert c.registry_port() == uris.DEFAULT_PORT == 5000
    monkeypatch.setenv(c.REGISTRY_PORT_ENV, "5123")
    assert c.registry_port() == 5123


@pytest.mark.parametrize("bad", ["http", "0", "70000", "-1"])
def test_a_bad_port_says_which_variable(monkeypatch, bad):
    monkeypatch.setenv(c.REGISTRY_PORT_ENV, bad)
    with pytest.raises(UserError) as err:
        c.registry_port()
    assert str(err.value) == f"CONVEYOR_REGISTRY_PORT={bad!r} is not a TCP port"


def test_first_run_adds_the_line_and_writes_the_dropin(paths):
    hosts, dropin = paths
    assert ensure() == [
        f"→ adding {NAME} → 127.0.0.1 to {hosts}",
        f"→ adding {dropin} (127.0.0.1:5000, localhost:5000, {NAME}:5000 over plain HTTP)",
    ]
    assert hosts.read_text() == HOSTS + LINE + "\n"  # the other lines kept, in order
    assert dropin.read_text() == uris.registries_dropin(5000)
    assert stat.S_IMODE(dropin.stat().st_mode) == 0o644
    assert sorted(os.listdir(dropin.parent)) == [dropin.name]  # no temporary file left


def test_second_run_changes_nothing_and_says_so(paths):
    hosts, dropin = paths
    ensure()
    mtimes = hosts.stat().st_mtime_ns, dropin.stat().st_mtime_ns
    assert ensure() == [
        f"✓ registry host: {NAME} → 127.0.0.1 ({hosts})",
        (f"✓ registry drop-in: 127.0.0.1:5000, localhost:5000, {NAME}:5000 over plain HTTP "
         f"({dropin})"),
    ]
    assert (hosts.stat().st_mtime_ns, dropin.stat().st_mtime_ns) == mtimes
    assert hosts.read_text().count(NAME) == 1


def test_a_line_the_user_wrote_wins_and_nothing_is_added(paths):
    hosts, _ = paths
    mine = HOSTS + f"192.168.1.5  {NAME} other-name  # mine\n"
    hosts.write_text(mine)
    assert ensure()[0] == f"✓ registry host: {NAME} → 192.168.1.5 ({hosts})"
    assert hosts.read_text() == mine


def test_a_commented_out_line_does_not_count(paths):
    hosts, _ = paths
    hosts.write_text(f"# 127.0.0.1 {NAME}\n127.0.0.1 localhost")  # no final newline
    ensure()
    assert hosts.read_text() == f"# 127.0.0.1 {NAME}\n127.0.0.1 localhost\n{LINE}\n"


def test_missing_hosts_file_is_created(paths):
    hosts, _ = paths
    hosts.unlink()
    ensure()
    assert hosts.read_text() == LINE + "\n"


def test_hosts_mode_is_kept_and_a_symlink_followed(paths, tmp_path):
    hosts, _ = paths
    real = tmp_path / "real-hosts"
    real.write_text(HOSTS)
    real.chmod(0o640)
    hosts.unlink()
    hosts.symlink_to(real)
    ensure()
    assert hosts.is_symlink() and real.read_text() == HOSTS + LINE + "\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_a_dropin_for_another_port_or_edited_is_replaced(paths, monkeypatch):
    _, dropin = paths
    ensure()
    monkeypatch.setenv(c.REGISTRY_PORT_ENV, "5123")
    status = checks.registries_dropin_status()
    assert not status.ok
    assert status.line() == (f"✗ registry drop-in: {dropin} differs from what `conveyor setup` "
                             f"writes for port 5123 — fix: conveyor setup")
    out = ensure()
    assert out[1] == (f"→ replacing {dropin} (127.0.0.1:5123, localhost:5123, {NAME}:5123 over "
                      f"plain HTTP)")
    assert dropin.read_text() == uris.registries_dropin(5123)
    assert out[0].startswith("✓ registry host: ")  # the hosts line has no port


def test_dry_run_writes_nothing(paths):
    hosts, dropin = paths
    out = ensure(dry_run=True)
    assert out[0] == f"→ adding {NAME} → 127.0.0.1 to {hosts}"
    assert out[1] == f"$ (append to {hosts}: {LINE!r})"
    assert out[3].startswith(f"$ (write {dropin}: ")
    assert hosts.read_text() == HOSTS and not dropin.exists()


def test_no_permission_names_the_file_and_the_fix(paths, monkeypatch):
    hosts, _ = paths

    def denied(path, text, default_mode=0o644):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    monkeypatch.setattr(setup, "write_atomic", denied)
    with pytest.raises(setup.SetupFailed) as err:
        ensure()
    assert str(err.value) == f"cannot write {hosts}: Permission denied"
    assert err.value.hint == (f"run `sudo conveyor setup`, or add the line yourself: "
                              f"echo '127.0.0.1 {NAME} # conveyor local registry' | "
                              f"sudo tee -a {hosts}")


def test_a_file_that_cannot_be_renamed_over_is_appended_to(tmp_path, monkeypatch):
    """A container's /etc/hosts is a bind mount: rename(2) onto it fails with EBUSY."""
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    inode = hosts.stat().st_ino

    def busy(src, dst):
        raise OSError(errno.EBUSY, "Device or resource busy")
    monkeypatch.setattr(setup.os, "replace", busy)
    setup.write_atomic(str(hosts), uris.hosts_with_entry(HOSTS))
    assert hosts.read_text() == HOSTS + LINE + "\n" and hosts.stat().st_ino == inode
    assert os.listdir(tmp_path) == ["hosts"]


# --- doctor --------------------------------------------------------------------------------


def registry_lines():
    return [s.line() for s in collect(checks.default_checks()[1:3])]


def test_doctor_before_and_after_setup(paths):
    hosts, dropin = paths
    assert [name for name, _ in checks.default_checks()][:3] == [
        "packages", "registry host", "registry drop-in"]
    assert registry_lines() == [
        f"✗ registry host: {NAME} is not in {hosts} — fix: conveyor setup",
        (f"✗ registry drop-in: {dropin} is missing (podman would use TLS for the local "
         f"registry) — fix: conveyor setup"),
    ]
    ensure()
    assert registry_lines() == [
        f"✓ registry host: {NAME} → 127.0.0.1 ({hosts})",
        (f"✓ registry drop-in: 127.0.0.1:5000, localhost:5000, {NAME}:5000 over plain HTTP "
         f"({dropin})"),
    ]


def test_doctor_reports_a_bad_port_with_its_fix(paths, monkeypatch):
    monkeypatch.setenv(c.REGISTRY_PORT_ENV, "x")
    assert registry_lines()[1] == (
        "✗ registry drop-in: CONVEYOR_REGISTRY_PORT='x' is not a TCP port — fix: set "
        "CONVEYOR_REGISTRY_PORT to a number from 1 to 65535, or unset it")
