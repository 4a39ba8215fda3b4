"""`conveyor setup --ecr-alias` / `--remove-ecr-alias` on a hosts file and drop-in under tmp
(CONVEYOR_HOSTS_FILE, CONVEYOR_REGISTRIES_DROPIN), and what doctor says about an alias."""

from __future__ import annotations

import argparse
import http.server
import threading

import pytest

from conveyor.errors import UserError
from conveyor.registry import uris
from conveyor.registry.aliases import parse_alias
from conveyor.stack import checks, setup
from conveyor.stack import components as c
from conveyor.stack.doctor import collect

LOCAL = "000000000000.dkr.ecr.us-east-1.localhost"
HOST = "111122223333.dkr.ecr.eu-west-3.amazonaws.com"
HOSTS = f"127.0.0.1 localhost\n127.0.0.1\t{LOCAL}\t# conveyor local registry\n10.1.2.3 build-cache\n"
ALIAS_LINE = f"127.0.0.2\t{HOST}\t# conveyor local registry: ecr alias\n"
ALIASED = (f"127.0.0.1 localhost\n127.0.0.1\t{LOCAL}\t# conveyor local registry\n{ALIAS_LINE}"
           f"10.1.2.3 build-cache\n")


@pytest.fixture
def paths(tmp_path, monkeypatch):
    hosts, dropin = tmp_path / "hosts", tmp_path / "registries.conf.d" / "50-conveyor.conf"
    hosts.write_text(HOSTS)
    dropin.parent.mkdir()
    dropin.write_text(uris.registries_dropin(5000))
    monkeypatch.setenv(c.HOSTS_FILE_ENV, str(hosts))
    monkeypatch.setenv(c.REGISTRIES_DROPIN_ENV, str(dropin))
    for env in (c.REGISTRY_PORT_ENV, c.ECR_ALIAS_IP_ENV):
        monkeypatch.delenv(env, raising=False)
    return hosts, dropin


def ensure(add=(), remove=(), dry_run=False):
    out = []
    setup.ensure_registry_names(out.append, dry_run, add=[parse_alias(a, c.ecr_alias_ip()) for a in add],
                                remove=remove)
    return out


def test_adding_an_alias_writes_the_hosts_line_and_the_dropin_entry(paths):
    hosts, dropin = paths
    assert ensure(add=[HOST]) == [
        f"✓ registry host: {LOCAL} → 127.0.0.1 ({hosts})",
        (f"→ adding ECR alias {HOST} → 127.0.0.2 to {hosts}: this machine can no longer reach "
         f"that real ECR registry (undo: conveyor setup --remove-ecr-alias {HOST}); restart a "
         f"running daemon so it answers for it"),
        (f"→ replacing {dropin} (127.0.0.1:5000, localhost:5000, {LOCAL}:5000, {HOST} over plain "
         f"HTTP)"),
    ]
    assert hosts.read_text() == ALIASED
    assert dropin.read_text() == uris.registries_dropin(5000, alias_hosts=[HOST])


def test_a_plain_setup_keeps_the_alias_and_changes_nothing(paths):
    hosts, dropin = paths
    ensure(add=[HOST])
    mtimes = hosts.stat().st_mtime_ns, dropin.stat().st_mtime_ns
    for again in (ensure(), ensure(add=["111122223333:eu-west-3"])):
        assert again == [
            f"✓ registry host: {LOCAL} → 127.0.0.1 ({hosts})",
            f"✓ ecr alias: {HOST} → 127.0.0.2 ({hosts})",
            (f"✓ registry drop-in: 127.0.0.1:5000, localhost:5000, {LOCAL}:5000, {HOST} over plain "
             f"HTTP ({dropin})"),
        ]
    assert (hosts.stat().st_mtime_ns, dropin.stat().st_mtime_ns) == mtimes


def test_removing_the_alias_restores_both_files(paths):
    hosts, dropin = paths
    ensure(add=[HOST])
    out = ensure(remove=[HOST])
    assert out[1] == f"→ removing ECR alias {HOST} from {hosts}: it resolves to the real registry again"
    assert out[2].startswith(f"→ replacing {dropin} (")
    assert (hosts.read_text(), dropin.read_text()) == (HOSTS, uris.registries_dropin(5000))
    assert ensure(remove=[HOST])[1] == f"✓ ecr alias: {HOST} is not configured (nothing to remove)"


def test_the_alias_address_comes_from_the_environment(paths, monkeypatch):
    hosts, _ = paths
    monkeypatch.setenv(c.ECR_ALIAS_IP_ENV, "127.0.0.9")
    ensure(add=[HOST])
    assert f"127.0.0.9\t{HOST}\t" in hosts.read_text()
    monkeypatch.setenv(c.ECR_ALIAS_IP_ENV, "127.0.0.1")
    with pytest.raises(UserError) as err:
        c.ecr_alias_ip()
    assert str(err.value) == ("CONVEYOR_ECR_ALIAS_IP '127.0.0.1' is not a loopback address other "
                              "than 127.0.0.1")


def test_a_line_conveyor_did_not_write_is_not_overridden(paths):
    hosts, _ = paths
    hosts.write_text(HOSTS + f"10.0.0.5 {HOST}\n")
    with pytest.raises(setup.SetupFailed) as err:
        ensure(add=[HOST])
    assert str(err.value) == (f"{HOST} is already mapped to 10.0.0.5 in {hosts} by a line Conveyor "
                              f"did not write")
    assert err.value.hint == f"delete that line, then run `conveyor setup --ecr-alias {HOST}` again"


def test_dry_run_writes_nothing(paths):
    hosts, dropin = paths
    out = ensure(add=[HOST], dry_run=True)
    assert out[2] == f"$ (write {hosts}: the ECR alias lines {[ALIAS_LINE.strip()]!r})"
    assert out[4].startswith(f"$ (write {dropin}: ")
    assert (hosts.read_text(), dropin.read_text()) == (HOSTS, uris.registries_dropin(5000))


def test_a_bad_alias_stops_setup_before_it_does_anything():
    out = []
    with pytest.raises(UserError) as err:
        setup.run_setup(out.append, ecr_aliases=["foo.amazonaws.com"])
    assert str(err.value).startswith("ECR alias 'foo.amazonaws.com' is not an ECR registry host")
    assert out == []


def test_the_options_and_their_help():
    parser = argparse.ArgumentParser(prog="conveyor setup")
    setup.add_arguments(parser)
    args = parser.parse_args(["--ecr-alias", HOST, "--ecr-alias", "123456789012:eu-west-1",
                              "--remove-ecr-alias", "444455556666:us-east-2"])
    assert args.ecr_alias == [HOST, "123456789012:eu-west-1"]
    assert args.remove_ecr_alias == ["444455556666:us-east-2"]
    assert parser.parse_args([]).ecr_alias == []
    text = " ".join(parser.format_help().split())
    assert "This machine can no longer reach that real ECR registry." in text
    assert "ACCOUNT.dkr.ecr.REGION.amazonaws.com, or ACCOUNT:REGION" in text


# --- doctor --------------------------------------------------------------------------------

def alias_lines(answer="conveyor"):
    return [s.line() for s in checks.ecr_alias_statuses(probe=lambda address: answer)]


def test_doctor_shows_nothing_without_aliases_and_one_line_per_alias(paths):
    assert "ecr alias" in [name for name, _ in checks.default_checks()]
    assert alias_lines() == []
    ensure(add=[HOST])
    undo = f"this machine cannot reach the real registry; undo: conveyor setup --remove-ecr-alias {HOST}"
    assert alias_lines() == [f"✓ ecr alias: {HOST} → 127.0.0.2:80, the local registry ({undo})"]
    assert alias_lines("nothing") == [
        f"✓ ecr alias: {HOST} → 127.0.0.2:80, nothing answers yet: `conveyor up`, or restart a "
        f"daemon started before the alias ({undo})"]
    assert alias_lines("other") == [
        f"✗ ecr alias: something other than Conveyor's registry answers on 127.0.0.2:80 — fix: "
        f"stop it, or move the alias: CONVEYOR_ECR_ALIAS_IP=127.0.0.3 conveyor setup --ecr-alias {HOST}"]


def test_doctor_finds_a_missing_dropin_entry_and_an_earlier_hosts_line(paths):
    hosts, dropin = paths
    ensure(add=[HOST])
    dropin.write_text(uris.registries_dropin(5000))
    assert alias_lines() == [f"✗ ecr alias: {HOST} is not marked insecure in {dropin} (podman would "
                             f"insist on HTTPS) — fix: conveyor setup"]
    assert [s.line() for s in collect(checks.default_checks()[2:3])] == [
        f"✗ registry drop-in: {dropin} differs from what `conveyor setup` writes for port 5000 and "
        f"the ECR aliases in {hosts} — fix: conveyor setup"]
    ensure()
    hosts.write_text(f"10.0.0.5 {HOST}\n" + hosts.read_text())
    assert alias_lines() == [f"✗ ecr alias: {HOST} resolves to 10.0.0.5, not 127.0.0.2: an earlier "
                             f"line in {hosts} names it — fix: delete the line mapping {HOST} to "
                             f"10.0.0.5 from {hosts}"]


def test_the_probe_tells_nothing_from_something_else():
    """(The registry's own answer is tried in tests/registry/test_registry_alias_listener.py.)"""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert checks.answering(f"127.0.0.1:{server.server_address[1]}") == "other"
    finally:
        server.shutdown()
        server.server_close()
    assert checks.answering(f"127.0.0.1:{server.server_address[1]}", timeout=1) == "nothing"
