"""Containers a killed build's `docker run --rm` left behind: which ones a lifecycle run removes
(exited ones carrying the docker wrapper's label, once no build can still be removing them) and
which it leaves (running ones, fresh exits, anything without the label). Pure selection first,
then real podman containers through a real lifecycle run, dry and applied."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from stack_support import stack_missing

from conveyor.errors import ConveyorError
from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local import containers
from conveyor.providers.local.containers import ContainerEngine
from conveyor.providers.local.process import Command, run
from conveyor.registry.gc import WriteGate
from conveyor.registry.housekeeping import Housekeeping, Settings, summary
from conveyor.registry.leftover_containers import DEFAULT_MIN_AGE, Leftover, list_labelled, select_leftovers
from conveyor.registry.protection import DeployState
from conveyor.registry.repositories import RepositoryStore
from conveyor.stack.docker_wrapper.runs import REMOVE_LABEL


def leftover(name: str, state: str, exited_at: float = 0.0) -> Leftover:
    return Leftover(f"{name}-id", name, BUSYBOX_IMAGE, state, exited_at)


def test_only_containers_that_exited_long_enough_ago_are_selected():
    now = 10_000.0
    old = leftover("old", "exited", now - DEFAULT_MIN_AGE)
    fresh = leftover("fresh", "exited", now - DEFAULT_MIN_AGE + 1)
    running = leftover("running", "running")
    created = leftover("created", "created")
    selection = select_leftovers([old, fresh, running, created], now=now)
    assert selection.remove == [old]
    assert [(c.name, why) for c, why in selection.kept] == [
        ("fresh", "exited moments ago: its build may be removing it"),
        ("running", "running: a build may still use it"),
        ("created", "created: a build may still use it")]
    assert selection.to_json()["remove"] == [{"id": "old-id", "name": "old", "image": BUSYBOX_IMAGE,
                                              "state": "exited", "why": "its build ended without removing it"}]
    assert select_leftovers([old], now=now, min_age=DEFAULT_MIN_AGE + 1).remove == []


# --- real containers -----------------------------------------------------------------------

def podman(*args: str):
    return run(Command(["podman", *args], timeout=120), check=False)


@pytest.fixture
def made():
    try:
        present = containers.image_exists(ContainerEngine("podman"), BUSYBOX_IMAGE)
    except ConveyorError as exc:
        stack_missing(f"podman unusable ({exc})")
    if not present:
        stack_missing(f"{BUSYBOX_IMAGE} is absent")
    names: list[str] = []

    def container(*, labelled: bool, command: tuple[str, ...]) -> str:
        name = f"conveyor-test-leftover-{uuid.uuid4().hex[:8]}"
        label = ["--label", f"{REMOVE_LABEL}=true"] if labelled else []
        detach = ["--detach"] if command[0] == "sleep" else []
        assert podman("run", *detach, "--name", name, *label, BUSYBOX_IMAGE, *command).ok
        names.append(name)
        return name

    yield container
    for name in names:
        podman("rm", "--force", "--time", "0", name)


def exists(name: str) -> bool:
    return podman("container", "exists", name).returncode == 0


def housekeeping(tmp_path, clock) -> Housekeeping:
    """A lifecycle run whose registry has no repositories and answers on a port no image names."""
    registry = SimpleNamespace(store=RepositoryStore(tmp_path / "registry.db"), proxy=SimpleNamespace(gate=WriteGate()),
                               service=SimpleNamespace(data_dir=tmp_path / "data", config_path=tmp_path / "c.yml",
                                                       binary="/nonexistent/docker-registry"),
                               port=1, address="127.0.0.1:1", account="000000000000", region="us-east-1",
                               served_aliases=())
    (tmp_path / "data").mkdir(exist_ok=True)
    return Housekeeping(registry, tmp_path, Settings(grace=0), clock=clock, engine="podman",
                        deploy_state=DeployState)


@pytest.mark.podman
def test_a_lifecycle_run_removes_exited_leftovers_and_nothing_else(tmp_path, made):
    gone = made(labelled=True, command=("true",))
    busy = made(labelled=True, command=("sleep", "300"))
    theirs = made(labelled=False, command=("true",))

    # the clock is set from the container's own exit time: no race with the wall clock
    [exited_at] = [c.exited_at for c in list_labelled("podman") if c.name == gone]
    now = housekeeping(tmp_path, clock=lambda: exited_at + 1).run(dry_run=True)["leftoverContainers"]
    assert gone not in [r["name"] for r in now["remove"]]        # it exited just now: kept
    assert {gone, busy} <= {r["name"] for r in now["kept"]}
    assert theirs not in [r["name"] for r in now["remove"] + now["kept"]]  # not labelled: not even listed

    later = housekeeping(tmp_path, clock=lambda: exited_at + DEFAULT_MIN_AGE + 1)
    dry = later.run(dry_run=True)
    assert gone in [r["name"] for r in dry["leftoverContainers"]["remove"]]
    assert exists(gone)                                            # a dry run removes nothing
    done = later.run()
    assert gone in [r["name"] for r in done["leftoverContainers"]["remove"]]
    assert done["leftoverContainers"]["removed"] >= 1 and done["leftoverContainers"]["failed"] == []
    assert not exists(gone) and exists(busy) and exists(theirs)
    assert "leftover build container(s) removed" in summary(done)
