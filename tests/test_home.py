"""conveyor.home: the data directory is its owner's alone (0700, files 0600), also for an install
made before the rule, and files that must stay private are created so."""

from __future__ import annotations

import os
import stat

from conveyor import home as homes


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_prepare_creates_the_directory_0700(tmp_path):
    root = homes.prepare(tmp_path / "a" / "home")
    assert mode(root) == 0o700


def test_prepare_tightens_an_older_install_once(tmp_path):
    root = tmp_path / "home"
    (root / "runs" / "ab").mkdir(parents=True)
    for path, m in [(root, 0o755), (root / "runs", 0o755), (root / "runs" / "ab", 0o775)]:
        os.chmod(path, m)
    (root / "conveyor.db").write_text("x")
    (root / "runs" / "ab" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "conveyor.db", 0o644)
    os.chmod(root / "runs" / "ab" / "run.sh", 0o755)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (root / "link").symlink_to(outside)

    homes.prepare(root)
    assert mode(root) == 0o700
    assert mode(root / "runs") == 0o700 and mode(root / "runs" / "ab") == 0o700
    assert mode(root / "conveyor.db") == 0o600
    assert mode(root / "runs" / "ab" / "run.sh") == 0o700  # still executable by its owner
    assert mode(outside) == 0o644  # a link is not followed

    os.chmod(root / "conveyor.db", 0o644)  # the directory is 0700 now: no second walk
    homes.prepare(root)
    assert mode(root / "conveyor.db") == 0o644


def test_artifacts_and_hard_links_from_elsewhere_are_left_as_they_are(tmp_path):
    """Artifacts are mounted into containers that may run as another user; a git object hard-linked
    from the user's own repository would change there too."""
    root = tmp_path / "home"
    (root / "artifacts" / "sha256-1").mkdir(parents=True)
    (root / "git").mkdir()
    frozen = root / "artifacts" / "sha256-1" / "conveyor.yml"
    frozen.write_text("x")
    os.chmod(frozen, 0o444)
    original = tmp_path / "repo-object"
    original.write_text("blob")
    os.chmod(original, 0o444)
    os.link(original, root / "git" / "object")
    os.chmod(root, 0o755)
    homes.prepare(root)
    assert mode(root) == 0o700 and mode(root / "git") == 0o700
    assert mode(frozen) == 0o444 and mode(root / "artifacts" / "sha256-1") == 0o755
    assert mode(original) == 0o444


def test_secure_tree_counts_what_it_changed(tmp_path):
    (tmp_path / "d").mkdir(mode=0o700)
    (tmp_path / "d" / "f").write_text("")
    os.chmod(tmp_path / "d" / "f", 0o640)
    os.chmod(tmp_path, 0o700)
    assert homes.secure_tree(tmp_path) == 1
    assert homes.secure_tree(tmp_path) == 0


def test_write_private_is_0600_even_over_an_existing_file(tmp_path):
    path = tmp_path / "daemon.pid"
    path.write_text("old")
    os.chmod(path, 0o644)
    homes.write_private(path, "4242\n")
    assert path.read_text() == "4242\n" and mode(path) == 0o600
    homes.write_private(tmp_path / "new", "x")
    assert mode(tmp_path / "new") == 0o600


def test_private_log_and_token(tmp_path):
    root = tmp_path / "home"
    token = homes.read_or_create_token(root)
    assert mode(root) == 0o700 and mode(homes.token_path(root)) == 0o600
    assert homes.read_or_create_token(root) == token
    fd = homes.open_private_log(homes.log_path(root))
    os.write(fd, b"line\n")
    os.close(fd)
    assert mode(homes.log_path(root)) == 0o600
