"""The bounds on what builds leave behind, with fixed inputs: which engine images are pruned
(only Conveyor's, never used ones, the newest K kept), the write gate garbage collection closes,
and the LOCAL build caches cut least-recently-used first."""

from __future__ import annotations

import os

from conveyor.build.cache import CacheCopy, bound_caches, mark_used, select_evictions
from conveyor.providers.local.process import Completed
from conveyor.registry.gc import GarbageCollector, WriteGate
from conveyor.registry.host_images import HostImage, is_local_name, prune, select_prunes

ECR = "000000000000.dkr.ecr.us-east-1.localhost:5000"


def img(id_, names, created, containers=0, history=(), size=100):
    return HostImage(id_, tuple(names), created, size, containers, tuple(history))


HOSTS = {ECR, "127.0.0.1:5000", "localhost:5000"}


def test_local_names():
    assert is_local_name(f"{ECR}/orders-service:abc", HOSTS)
    assert not is_local_name("000000000000.dkr.ecr.us-east-1.localhost:60043/orders:1", HOSTS)  # another daemon's
    assert is_local_name("127.0.0.1:5000/orders:1", {"127.0.0.1:5000"})
    assert not is_local_name("127.0.0.1:5000/orders:1", ())
    assert not is_local_name("localhost/conveyor/busybox:latest", {"127.0.0.1:5000"})
    assert not is_local_name("docker.io/library/redis:7", ())


def test_prune_keeps_newest_k_per_repository_and_used_ones():
    images = [img(f"id{i}", [f"{ECR}/orders:{i}"], created=i) for i in range(1, 7)]
    images[0] = img("id1", [f"{ECR}/orders:1"], created=1, containers=1)  # a stopped task's container
    images.append(img("id9", [f"{ECR}/users:9"], created=0))
    sel = select_prunes(images, keep=3, hosts=HOSTS)
    assert sorted(i.id for i, _ in sel.remove) == ["id2", "id3"]
    why = dict((i.id, w) for i, w in sel.kept)
    assert why == {"id1": "a container uses it", "id4": "one of the 3 newest of orders",
                   "id5": "one of the 3 newest of orders", "id6": "one of the 3 newest of orders",
                   "id9": "one of the 3 newest of users"}


def test_prune_never_touches_images_not_conveyors():
    images = [img("base", ["localhost/conveyor/busybox:latest"], 1),
              img("pulled", ["docker.io/library/redis:7"], 1),
              img("both", [f"{ECR}/orders:1", "docker.io/me/orders:1"], 1),  # also a user's name
              img("old", [f"{ECR}/orders:0"], 0)]
    sel = select_prunes(images, keep=0, hosts=HOSTS)
    assert [i.id for i, _ in sel.remove] == ["old"]


def test_dangling_only_with_a_local_name_history_and_grace():
    images = [img("moved", [], 10, history=[f"{ECR}/orders:latest"]),
              img("stage", [], 10),  # a build stage without a name: cannot be told from a user's
              img("mine", [], 10, history=["docker.io/me/app:dev"]),
              img("fresh", [], 95, history=[f"{ECR}/orders:latest"])]
    sel = select_prunes(images, keep=3, hosts=HOSTS, now=100, min_age=10)
    assert [i.id for i, _ in sel.remove] == ["moved"]
    assert sorted(i.id for i in sel.foreign_dangling) == ["mine", "stage"]
    assert dict((i.id, w) for i, w in sel.kept) == {"fresh": "created recently"}
    assert sel.to_json()["danglingNotOurs"] == 2


def test_prune_removes_by_name_without_force():
    sel = select_prunes([img("a", [f"{ECR}/o:1", f"{ECR}/o:x"], 1), img("b", [], 1, history=[f"{ECR}/o:2"])],
                        keep=0, hosts=HOSTS)
    calls = []

    def run(cmd):
        calls.append(cmd.argv)
        return Completed(0 if cmd.argv[-1] != "b" else 1, "", "image in use", 0.0)

    out = prune(sel, run=run)
    assert calls == [["podman", "rmi", "b"], ["podman", "rmi", f"{ECR}/o:1", f"{ECR}/o:x"]]
    assert out == {"removed": 1, "bytesRemoved": 100, "failed": ["b"]}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_gate_closes_only_when_idle_and_refuses_writes_while_closed():
    clock = Clock()
    gate = WriteGate(clock)
    assert gate.close_if_idle(30) is None
    assert not gate.enter()  # closed: a write is refused
    gate.open()
    assert gate.enter()
    assert gate.close_if_idle(30) == "1 write(s) in flight"
    gate.leave()
    clock.now += 10
    assert gate.close_if_idle(30) == "a write ended 10 s ago (less than 30 s)"
    assert gate.enter()  # still open
    gate.leave()
    clock.now += 31
    assert gate.close_if_idle(30) is None and gate.closed


def test_collector_skips_when_busy_and_reopens_the_gate_after(tmp_path):
    clock = Clock()
    gate = WriteGate(clock)
    ran = []

    def run(cmd):
        ran.append(cmd.argv)
        assert gate.closed  # writes are held for the whole collection
        return Completed(0, "", "", 0.1)

    (tmp_path / "docker/registry/v2/blobs").mkdir(parents=True)
    gc = GarbageCollector(tmp_path / "config.yml", tmp_path, "docker-registry", run=run)
    gate.enter()
    assert "in flight" in gc.collect(gate, quiet=5).skipped and ran == []
    gate.leave()
    clock.now += 6
    result = gc.collect(gate, quiet=5)
    assert result.ran and ran == [["docker-registry", "garbage-collect", str(tmp_path / "config.yml")]]
    assert not gate.closed


def test_collector_skips_a_registry_never_pushed_to(tmp_path):
    gc = GarbageCollector(tmp_path / "config.yml", tmp_path, run=lambda cmd: 1 / 0)
    assert gc.collect(WriteGate()).skipped == "no blobs stored yet"


def test_cache_eviction_is_least_recently_used_first(tmp_path):
    copies = [CacheCopy(tmp_path / "a", 600, last_used=3), CacheCopy(tmp_path / "b", 600, last_used=1),
              CacheCopy(tmp_path / "c", 600, last_used=2)]
    assert [c.path.name for c in select_evictions(copies, 1000)] == ["b", "c"]
    assert select_evictions(copies, 1800) == []


def test_bound_caches_uses_the_restore_marker_as_last_use(tmp_path):
    for project, key, mtime in (("p1", "old", 100), ("p1", "restored", 50), ("p2", "new", 200)):
        tar = tmp_path / project / f"{key}.tar"
        tar.parent.mkdir(exist_ok=True)
        tar.write_bytes(b"x" * 1000)
        os.utime(tar, (mtime, mtime))
    mark_used(tmp_path / "p1" / "restored.tar")  # restored now: the most recent use
    report = bound_caches(tmp_path, 2000, dry_run=True)
    assert [r["path"] for r in report["removed"]] == ["p1/old.tar"] and (tmp_path / "p1" / "old.tar").exists()
    report = bound_caches(tmp_path, 2000)
    assert (report["bytesBefore"], report["bytesAfter"]) == (3000, 2000)
    assert not (tmp_path / "p1" / "old.tar").exists() and (tmp_path / "p1" / "restored.tar").exists()
