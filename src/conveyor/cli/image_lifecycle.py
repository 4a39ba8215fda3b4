"""`conveyor image lifecycle [REPO] [--dry-run] [--json]`: apply the repositories' lifecycle
policies now (the daemon also does it on a schedule), or show what would expire and why, what is
protected and why, and what the registry, the engine's images and the build caches would free."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.cli import render
from conveyor.cli.client import Client
from conveyor.cli.render import echo


def run(args) -> int:
    client = Client.connect()
    result = client.post("/api/v1/images/lifecycle", {"repository": args.repository, "dryRun": bool(args.dry_run)})
    if args.json:
        render.as_json(result)
    else:
        for line in report_lines(result):
            echo(line)
    return 0


def size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _image(d: Mapping[str, Any]) -> str:
    tags = ",".join(d.get("imageTags") or []) or "<untagged>"
    return f"{d['imageDigest'][:19]} ({tags}, pushed {d.get('imagePushedAt')})"


def report_lines(result: Mapping[str, Any]) -> list[str]:
    """The human report (pure, for tests)."""
    dry = bool(result.get("dryRun"))
    lines: list[str] = []
    for error in result.get("errors") or []:
        lines.append(f"error: {error}")
    for repo in result.get("repositories") or []:
        name = repo["repositoryName"]
        if not repo.get("hasLifecyclePolicy"):
            lines.append(f"{name}: no lifecycle policy; {repo.get('kept', 0)} image(s) kept")
            continue
        verb = "would expire" if dry else "expired"
        count = len(repo["expire"]) if dry else len(repo.get("deleted") or [])
        lines.append(f"{name}: {count} image(s) {verb}, {len(repo['protected'])} protected, {repo.get('kept', 0)} kept")
        for d in repo["expire"]:
            about = f' "{d["ruleDescription"]}"' if d.get("ruleDescription") else ""
            lines.append(f"  {'expire' if dry else 'expired'} {_image(d)}: rule {d['appliedRulePriority']}{about}: "
                         f"{d['explanation']}")
        for d in repo["protected"]:
            lines.append(f"  kept {_image(d)} (rule {d['appliedRulePriority']} would expire it): "
                         + "; ".join(d.get("protectedBecause") or []))
        for d in repo.get("archiveNotSupported") or []:
            lines.append(f"  not archived {_image(d)}: rule {d['appliedRulePriority']} transitions to archive, "
                         f"which the local registry does not have")
        for error in repo.get("errors") or []:
            lines.append(f"  error: {error}")
    gc = result.get("garbageCollection") or {}
    if gc.get("ran"):
        lines.append(f"registry blobs: {size(gc['bytesBefore'])} → {size(gc['bytesAfter'])} "
                     f"({size(gc['bytesFreed'])} freed)")
    else:
        why = gc.get("error") or gc.get("skipped") or ""
        lines.append(f"registry blobs: {size(gc.get('bytesBefore'))}; not collected ({why})")
    leftovers = result.get("leftoverContainers") or {}
    if leftovers.get("error"):
        lines.append(f"leftover build containers: {leftovers['error']}")
    elif leftovers.get("remove") or leftovers.get("kept"):
        remove = leftovers.get("remove") or []
        lines.append(f"leftover build containers (`docker run --rm` of a killed build): {len(remove)} "
                     f"{'would be' if dry else 'were'} removed, {len(leftovers.get('kept') or [])} kept")
        for row in remove:
            lines.append(f"  {'remove' if dry else 'removed'} {row['id']} {row['name']} ({row['image']}): {row['why']}")
    hosts = result.get("hostImages") or {}
    if "error" in hosts or "skipped" in hosts:
        lines.append(f"engine images: {hosts.get('error') or hosts.get('skipped')}")
    else:
        remove = hosts.get("remove") or []
        lines.append(f"engine images: {len(remove)} of Conveyor's {'would be' if dry else 'were'} removed "
                     f"({size(hosts.get('bytesRemovable'))}), {len(hosts.get('kept') or [])} kept"
                     + (f"; {hosts['danglingNotOurs']} dangling image(s) not known to be Conveyor's left alone "
                        f"({size(hosts.get('danglingNotOursBytes'))}; `podman image prune` removes them)"
                        if hosts.get("danglingNotOurs") else ""))
        for row in remove:
            lines.append(f"  {'remove' if dry else 'removed'} {row['id']} {','.join(row['names'])}: {row['why']}")
    cache = result.get("buildCache") or {}
    if cache:
        lines.append(f"build caches: {size(cache.get('bytesBefore'))} in {cache.get('copies', 0)} cop"
                     f"{'y' if cache.get('copies') == 1 else 'ies'}, bound {size(cache.get('maxBytes'))}"
                     + (f"; {len(cache['removed'])} least recently used {'would be ' if dry else ''}removed "
                        f"→ {size(cache.get('bytesAfter'))}" if cache.get("removed") else ""))
    return lines
