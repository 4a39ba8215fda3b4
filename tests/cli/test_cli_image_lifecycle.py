"""What `conveyor image lifecycle --dry-run` prints: each expiry with its rule and the evaluator's
explanation, each protected image with why, and the disk use of registry, engine and caches."""

from __future__ import annotations

from types import SimpleNamespace

from conveyor.cli import image_lifecycle
from conveyor.cli.main import build_parser

RESULT = {
    "dryRun": True, "errors": [],
    "repositories": [
        {"repositoryName": "orders-service", "hasLifecyclePolicy": True, "kept": 3, "deleted": [], "errors": [],
         "archiveNotSupported": [],
         "expire": [{"imageDigest": "sha256:" + "1" * 64, "imageTags": ["a1b2c3d"],
                     "imagePushedAt": "2026-12-01T10:00:00Z", "appliedRulePriority": 1,
                     "ruleDescription": "keep two",
                     "explanation": 'expired by rule 1 "keep two" (any, imageCountMoreThan 2): 4th newest of 4 '
                                    "selected, beyond the 2 kept"}],
         "protected": [{"imageDigest": "sha256:" + "2" * 64, "imageTags": ["f00ba12"],
                        "imagePushedAt": "2026-12-01T11:00:00Z", "appliedRulePriority": 1, "ruleDescription": "",
                        "explanation": "…", "protectedBecause": [
                            "in use by staging/orders-service task definition orders-service:7"]}]},
        {"repositoryName": "scratch", "hasLifecyclePolicy": False, "kept": 2, "expire": [], "protected": []},
    ],
    "garbageCollection": {"ran": False, "bytesBefore": 5 * 1024 ** 2, "bytesAfter": 5 * 1024 ** 2,
                          "skipped": "dry run"},
    "leftoverContainers": {"remove": [{"id": "0f1e2d3c4b5a", "name": "nervous_tesla", "image": "h/orders-service:test",
                                       "state": "exited", "why": "its build ended without removing it"}],
                           "kept": [{}]},
    "hostImages": {"remove": [{"id": "67498dbc4b76", "names": ["h/orders-service:a42a999"], "size": 1,
                               "why": "older than the 3 newest of orders-service"}],
                   "kept": [{}, {}, {}], "danglingNotOurs": 2, "danglingNotOursBytes": 3 * 1024 ** 2,
                   "bytesRemovable": 214 * 1024 ** 2},
    "buildCache": {"maxBytes": 2 * 1024 ** 3, "bytesBefore": 3 * 1024 ** 3, "bytesAfter": 1024 ** 3, "copies": 3,
                   "removed": [{"path": "p/a.tar", "bytes": 2 * 1024 ** 3, "lastUsed": 0}]},
}


def test_dry_run_report_lines():
    assert image_lifecycle.report_lines(RESULT) == [
        "orders-service: 1 image(s) would expire, 1 protected, 3 kept",
        "  expire sha256:111111111111 (a1b2c3d, pushed 2026-12-01T10:00:00Z): rule 1 \"keep two\": "
        "expired by rule 1 \"keep two\" (any, imageCountMoreThan 2): 4th newest of 4 selected, beyond the 2 kept",
        "  kept sha256:222222222222 (f00ba12, pushed 2026-12-01T11:00:00Z) (rule 1 would expire it): "
        "in use by staging/orders-service task definition orders-service:7",
        "scratch: no lifecycle policy; 2 image(s) kept",
        "registry blobs: 5.0 MiB; not collected (dry run)",
        "leftover build containers (`docker run --rm` of a killed build): 1 would be removed, 1 kept",
        "  remove 0f1e2d3c4b5a nervous_tesla (h/orders-service:test): its build ended without removing it",
        "engine images: 1 of Conveyor's would be removed (214.0 MiB), 3 kept; 2 dangling image(s) not known to be "
        "Conveyor's left alone (3.0 MiB; `podman image prune` removes them)",
        "  remove 67498dbc4b76 h/orders-service:a42a999: older than the 3 newest of orders-service",
        "build caches: 3.0 GiB in 3 copies, bound 2.0 GiB; 1 least recently used would be removed → 1.0 GiB",
    ]


def test_applied_report_counts_deletes_and_freed_bytes():
    result = {**RESULT, "dryRun": False,
              "repositories": [{**RESULT["repositories"][0], "deleted": ["sha256:" + "1" * 64]}],
              "garbageCollection": {"ran": True, "bytesBefore": 2048, "bytesAfter": 1024, "bytesFreed": 1024}}
    lines = image_lifecycle.report_lines(result)
    assert lines[0] == "orders-service: 1 image(s) expired, 1 protected, 3 kept"
    assert lines[1].startswith("  expired sha256:111111111111")
    assert "registry blobs: 2.0 KiB → 1.0 KiB (1.0 KiB freed)" in lines


def test_parser_accepts_the_command():
    args = build_parser().parse_args(["image", "lifecycle", "orders", "--dry-run", "--json"])
    assert (args.image_command, args.repository, args.dry_run, args.json) == ("lifecycle", "orders", True, True)


def test_run_posts_the_request(monkeypatch, capsys):
    posted = []

    class FakeClient:
        def post(self, path, body):
            posted.append((path, body))
            return RESULT

    monkeypatch.setattr(image_lifecycle.Client, "connect", staticmethod(lambda: FakeClient()))
    assert image_lifecycle.run(SimpleNamespace(repository=None, dry_run=True, json=False)) == 0
    assert posted == [("/api/v1/images/lifecycle", {"repository": None, "dryRun": True})]
    assert "would expire" in capsys.readouterr().out
