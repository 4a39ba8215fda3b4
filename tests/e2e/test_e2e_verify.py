"""`conveyor verify` for real: the example service's pods on podman behind HAProxy, the daemon
deploying and rolling back while the command's load runs, and a service with no task left to
answer. The command's own verdict (exit status, JSON report) is what is checked."""

from __future__ import annotations

import json

import pytest
import test_e2e_bluegreen as bluegreen
from e2e_support import free_port, wait_until
from stack_support import stack_missing
from test_e2e_services import deploy, images, project  # noqa: F401 - `images` is a fixture

from conveyor.images import BASE_IMAGE
from conveyor.providers.local.containers import detect_engine, image_exists


def verify(daemon, *args: str, expect: int, env: str = "staging") -> dict:
    done = daemon("verify", env, "orders", "--rate", "50", "--json", *args, check=False)
    assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def spans(report: dict) -> dict[str, dict]:
    return {v["version"]: v for v in report["versions"]}


def test_verify_during_a_deploy_and_a_rollback_passes_with_both_versions_answering(tmp_path, daemon, images):  # noqa: F811
    root = project(tmp_path, free_port())
    deploy(daemon, root, images["v1"])

    # a rolling deploy v1 -> v2 under GETs and POSTs (writes: never retried by the generator)
    r = verify(daemon, "--during", "deploy", "--image", images["v2"], "--post-fraction", "0.5",
               "--post-path", "/orders", expect=0)
    assert r["passed"] and r["reasons"] == []
    assert r["failed"]["total"] == 0 and r["requests"] == r["ok"] > 0
    assert r["methods"]["POST"] > 0 and r["methods"]["GET"] > 0
    assert r["schedule"]["kept"] is True
    assert r["action"]["kind"] == "deploy" and r["action"]["outcome"] == "Succeeded"
    assert r["action"]["taskDefinition"] == "orders:2"
    assert [p["name"] for p in r["phases"]] == ["before", "during", "after"]
    v = spans(r)
    assert set(v) == {"v1", "v2"}
    assert v["v1"]["firstS"] < v["v2"]["firstS"] and v["v1"]["lastS"] < v["v2"]["lastS"]
    assert r["phases"][0]["versions"] == {"v1": r["phases"][0]["ok"]}   # before: only the old version
    assert set(r["phases"][2]["versions"]) == {"v2"}                    # after: only the new one
    assert daemon.json("service", "describe", "staging", "orders")["taskDefinition"] == "orders:2"

    # a rollback to v1, all POSTs
    r = verify(daemon, "--during", "rollback", "--method", "POST", "--path", "/orders", expect=0)
    assert r["passed"] and r["failed"]["total"] == 0 and r["methods"] == {"GET": 0, "POST": r["requests"]}
    assert r["action"]["kind"] == "rollback" and r["action"]["outcome"] == "Succeeded"
    v = spans(r)
    assert set(v) == {"v1", "v2"} and v["v2"]["firstS"] < v["v1"]["firstS"]
    assert set(r["phases"][2]["versions"]) == {"v1"}

    # and the text report says so
    done = daemon("verify", "staging", "orders", "--rate", "50", "--duration", "2", "--path", "/version")
    assert done.stdout.startswith("✓ PASSED  conveyor verify staging orders"), done.stdout
    assert "failed 0" in done.stdout and "— kept" in done.stdout


def test_verify_against_a_service_with_no_task_fails_and_counts_the_failures(tmp_path, daemon, images):  # noqa: F811
    root = project(tmp_path, free_port())
    deploy(daemon, root, images["v1"])
    daemon("service", "scale", "staging", "orders", "0")
    wait_until(lambda: all(t["last_status"] == "STOPPED"
                           for t in daemon.json("service", "describe", "staging", "orders")["tasks"]),
               60, interval=0.3, what="every task stopped")
    r = verify(daemon, "--duration", "2", "--path", "/version", expect=1)
    assert not r["passed"]
    failed = r["failed"]
    assert failed["total"] == r["requests"] > 0 and r["ok"] == 0
    assert sum(failed["byStatus"].values()) + sum(failed["byError"].values()) == failed["total"]
    assert any(f"{failed['total']} requests failed" == reason for reason in r["reasons"])
    assert r["longestGap"]["ms"] == pytest.approx(r["durationS"] * 1000, abs=1)  # no success: one gap, all of it
    done = daemon("verify", "staging", "orders", "--rate", "50", "--duration", "1", "--path", "/version",
                  check=False)
    assert done.returncode == 1 and done.stdout.startswith("✗ FAILED"), done.stdout


@pytest.fixture(scope="module")
def bg_images():
    engine = detect_engine()
    if engine.binary != "podman" or not image_exists(engine, BASE_IMAGE):
        stack_missing(f"needs podman and {BASE_IMAGE}: run `conveyor setup`")
    return {"v1": bluegreen._build("bg-v1", "APP_VERSION=v1"), "v2": bluegreen._build("bg-v2", "APP_VERSION=v2")}


def test_verify_a_blue_green_canary_and_its_rollback_on_the_production_listener(tmp_path, daemon, bg_images):
    rel = bluegreen.Release(daemon, tmp_path, "config: {type: TimeBasedCanary, canaryPercentage: 20, "
                                              "canaryInterval: 2s}\nterminationWaitMinutes: 1s\n")
    rel.first(bg_images["v1"])
    r = verify(daemon, "--during", "deploy", "--image", bg_images["v2"], "--post-fraction", "0.5",
               "--post-path", "/orders", env="production", expect=0)
    assert r["failed"]["total"] == 0 and r["action"]["outcome"] == "Succeeded"
    assert r["phases"][1]["versions"].keys() == {"v1", "v2"}      # the canary: both answered production
    assert set(r["phases"][2]["versions"]) == {"v2"}
    r = verify(daemon, "--during", "rollback", "--method", "POST", "--path", "/orders", env="production", expect=0)
    assert r["failed"]["total"] == 0 and r["action"]["kind"] == "rollback"
    assert set(r["phases"][0]["versions"]) == {"v2"} and set(r["phases"][2]["versions"]) == {"v1"}
