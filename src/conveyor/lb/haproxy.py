"""One environment's load balancer: an HAProxy whose targets and weights change only through
its runtime API (a deploy never reloads it), with its intent kept in state.json.

    lb = LoadBalancer(Path("~/.conveyor/lb/prod"), "prod")
    lb.apply([Listener(8080, "web-blue")], [TargetGroup("web-blue"), TargetGroup("web-green")])
    lb.register("web-green", "task-2", "127.0.0.1", 43121)    # initial until its checks pass
    lb.targets("web-green")[0].state                          # 'initial' → 'healthy'
    lb.set_weights(8080, {"web-blue": 90, "web-green": 10})   # canary, no reload
    lb.deregister("web-blue", "task-1")                       # draining: no new requests
    while not lb.drained("web-blue", "task-1"): time.sleep(0.1)
    lb.remove("web-blue", "task-1")                           # then stop the task

Differences from ALB, on purpose or by HAProxy's nature:
- A new target becomes healthy after `healthy_threshold` passed checks (ALB: one), the first
  one interval after registration; until then it gets no request at all.
- drained() is also true once the target has no request in flight and at least
  min(MIN_DRAIN, delay) has passed: ALB always waits the full deregistration delay.
- No fail-open: when every target of a group is unhealthy HAProxy answers 503 (ALB routes to
  all of them). A target group without targets answers 503, as on ALB.
- After HAProxy itself died and ensure_running() restarted it, targets start healthy until
  their first check (HAProxy's start-up rule); a refused connection is retried elsewhere.
- A target group no listener forwards to reports its targets `unused` (as ALB does), though
  HAProxy keeps checking them.
- After a reload, a client's idle keep-alive connection held by the old worker gets one more
  request routed by the old worker's view of the targets (then `Connection: close`); runtime
  changes made after the reload reach only the new worker. Reloads happen only when listeners
  or target groups change, never on a deploy.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from conveyor.lb import config as cfg
from conveyor.lb import health
from conveyor.lb import state as store
from conveyor.lb.errors import (
    InvalidLoadBalancer,
    LoadBalancerError,
    UnknownTargetGroup,
)
from conveyor.lb.instance import HAProxyInstance
from conveyor.lb.model import (
    DEFAULT_TARGET_WEIGHT,
    Listener,
    TargetGroup,
    TargetHealth,
    validate_forward_weights,
    validate_target,
    validate_target_weight,
    validate_topology,
)
from conveyor.lb.runtime import RuntimeCommandFailed, RuntimeUnavailable
from conveyor.lb.state import LBState, TargetRecord

log = logging.getLogger("conveyor.lb")

STATE_FILE = "state.json"
LOCK_FILE = ".lock"
#: drained() may end a drain early once nothing is in flight, but never sooner than this.
MIN_DRAIN = 0.5
#: How long remove() waits for the sessions it shut down to close before `del server` works.
REMOVE_TIMEOUT = 3.0
#: Answers meaning "that server (or group) is not there": fine for idempotent calls.
MISSING = ("No such server", "No such backend", "Can't find backend")


class LoadBalancer:
    def __init__(self, directory: Path, name: str, *, clock: Callable[[], float] = time.time):
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.name = name
        self.haproxy = HAProxyInstance(self.directory)
        self.api = self.haproxy.api
        self.clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None

    # --- the process ---------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """HAProxy's master pid, or None when it is not running."""
        return self.haproxy.pid()

    def running(self) -> bool:
        return self.haproxy.running()

    def apply(self, listeners: list[Listener], target_groups: list[TargetGroup]) -> None:
        """Make the listeners and target groups these: start HAProxy if it is not running,
        reload it seamlessly if they changed, do nothing otherwise. Registered targets of the
        remaining groups keep their health, weight and drain state; those of removed groups
        are dropped. A listener's forward weights are kept while its default target group and
        the weighted groups stay."""
        listeners, target_groups = list(listeners), list(target_groups)
        validate_topology(listeners, target_groups)
        with self._locked():
            old = self._load()
            new = _with_topology(old, listeners, target_groups)
            if self.haproxy.running():
                if old.listeners == listeners and old.target_groups == target_groups:
                    return
                live = {(r["be_name"], r["srv_name"]) for r in self.api.servers_state()}
                self.haproxy.reload(*self._render(new, only=live))
            else:
                self.haproxy.start(*self._render(new))
            self._sync_targets(new)
            self._save(new)

    def ensure_running(self) -> bool:
        """Restart a dead HAProxy from state.json (listeners, groups, targets with weights and
        drain states). True if it had to."""
        with self._locked():
            if self.haproxy.running():
                return False
            current = self._load()
            if not current.listeners and not current.target_groups:
                return False
            log.warning("HAProxy of load balancer %s is not running; restarting it", self.name)
            self.haproxy.start(*self._render(current))
            self._sync_targets(current)
            return True

    def stop(self) -> None:
        """Stop HAProxy (state.json stays: ensure_running() or apply() bring it back)."""
        with self._locked():
            self.haproxy.stop()

    # --- targets -------------------------------------------------------------------------

    def register(self, target_group: str, target_id: str, host: str, port: int,
                 weight: int = DEFAULT_TARGET_WEIGHT) -> None:
        """Add a target: it gets traffic once its health checks pass. Idempotent; registering
        a draining target again makes it ready again."""
        validate_target(target_id, host, port, weight)
        with self._locked():
            current = self._load()
            self._group(current, target_group)
            group = current.targets.setdefault(target_group, {})
            old = group.get(target_id)
            if old and (old.host, old.port) != (host, port):
                raise InvalidLoadBalancer(
                    f"target '{target_id}' is registered in '{target_group}' at {old.address}, "
                    f"not {host}:{port}", hint="remove() it first")
            group[target_id] = TargetRecord(target_id, host, port, weight,
                                            old.registered_at if old else self.clock(),
                                            healthy_at=old.healthy_at if old else None)
            self._save(current)
            if self.haproxy.running():
                rows = [r for r in self.api.servers_state(target_group)
                        if r.get("srv_name") == target_id]
                self._converge(current, target_group, group[target_id],
                               rows[0] if rows else None)

    def deregister(self, target_group: str, target_id: str) -> None:
        """Start draining a target: no new requests, in-flight ones finish. Returns at once;
        poll drained(). A target that is not registered is fine."""
        with self._locked():
            current = self._load()
            record = current.targets.get(target_group, {}).get(target_id)
            if record is None:
                return
            if record.deregistered_at is None:
                record.deregistered_at = self.clock()
                self._save(current)
            self._command(f"set server {target_group}/{target_id} state drain")

    def drained(self, target_group: str, target_id: str) -> bool:
        """True once the caller may stop a deregistered target: its deregistration delay has
        passed, or nothing is in flight on it any more and at least min(MIN_DRAIN, delay) has
        passed (ALB always waits the full delay). False for a registered, non-draining target;
        True for one that is not registered."""
        current = self._load()
        record = current.targets.get(target_group, {}).get(target_id)
        if record is None:
            return True
        if record.deregistered_at is None:
            return False
        tg = current.target_group(target_group)
        delay = tg.deregistration_delay if tg else 0.0
        elapsed = self.clock() - record.deregistered_at
        if elapsed >= delay:
            return True
        if elapsed < min(MIN_DRAIN, delay):
            return False
        try:
            rows = [r for r in self.api.stat(target_group) if r.get("svname") == target_id]
        except RuntimeUnavailable:
            return True  # no HAProxy, nothing in flight through it
        in_flight = sum(int(r.get("scur") or 0) + int(r.get("qcur") or 0) for r in rows)
        # An old worker (from a reload) may still carry requests we cannot see: wait for it.
        return in_flight == 0 and not self.haproxy.old_workers()

    def remove(self, target_group: str, target_id: str) -> None:
        """Take a target out for good: maintenance, cut its sessions, delete it. Idempotent."""
        with self._locked():
            if self.haproxy.running():
                server = f"{target_group}/{target_id}"
                if self._command(f"set server {server} state maint"):
                    self._command(f"shutdown sessions server {server}")
                    self._delete(server)
            current = self._load()
            if current.targets.get(target_group, {}).pop(target_id, None) is not None:
                self._save(current)

    def set_weight(self, target_group: str, target_id: str, weight: int) -> None:
        """A target's share within its group (0–256, HAProxy's range; 0 = no new requests)."""
        validate_target_weight(target_id, weight)
        with self._locked():
            current = self._load()
            self._group(current, target_group)
            record = current.targets.get(target_group, {}).get(target_id)
            if record is None:
                raise InvalidLoadBalancer(f"target '{target_id}' is not registered in "
                                          f"'{target_group}'", hint="register() it first")
            record.weight = weight
            self._save(current)
            self._command(f"set server {target_group}/{target_id} weight {weight}")

    def set_weights(self, listener_port: int, weights: dict[str, int]) -> None:
        """Forward a listener's requests to up to 5 target groups, each getting w_i / Σw of
        them (ALB ForwardConfig; weights 0–999, not all 0). Atomic, at run time, no reload."""
        weights = dict(weights)
        with self._locked():
            current = self._load()
            if current.listener(listener_port) is None:
                raise InvalidLoadBalancer(f"no listener on port {listener_port}",
                                          hint="declare it with apply()")
            validate_forward_weights(listener_port, weights,
                                     {tg.name for tg in current.target_groups})
            current.weights[listener_port] = weights
            self._save(current)
            name = cfg.map_file(listener_port)
            self.haproxy.write_map(name, cfg.render_map(weights))  # for a reload or restart
            if self.haproxy.running():
                self._replace_map(name, cfg.map_entries(weights))

    # --- observing -----------------------------------------------------------------------

    def weights(self, listener_port: int) -> dict[str, int]:
        """The listener's forward weights: target group → weight (its default group alone, at
        weight 1, until set_weights)."""
        current = self._load()
        listener = current.listener(listener_port)
        if listener is None:
            raise InvalidLoadBalancer(f"no listener on port {listener_port}")
        return dict(current.weights.get(listener_port) or {listener.target_group: 1})

    def targets(self, target_group: str) -> list[TargetHealth]:
        """Every target of a group with its ALB health state, weight and in-flight requests,
        as HAProxy reports them."""
        current = self._load()
        tg = self._group(current, target_group)
        records = current.targets.get(target_group, {})
        try:
            rows = self.api.servers_state(target_group)
            stats = {r.get("svname"): r for r in self.api.stat(target_group)}
        except RuntimeUnavailable:
            return [health.unavailable(r) for r in records.values()]
        attached = target_group in current.attached()
        now = self.clock()
        up = [name for name, rec in records.items() if rec.healthy_at is None and any(
            r.get("srv_name") == name and int(r.get("srv_op_state") or 0) == health.OP_RUNNING for r in rows)]
        if up:
            self._mark_healthy(target_group, up, now)
            for name in up:
                records[name].healthy_at = now
        return [health.target_health(tg, row, stats.get(row.get("srv_name")),
                                     records.get(row.get("srv_name", "")),
                                     attached=attached, now=now) for row in rows]

    def _mark_healthy(self, target_group: str, target_ids: list[str], now: float) -> None:
        """Remember that these targets passed their initial checks (a write only on the first
        UP of a target, not on every look)."""
        with self._locked():
            current = self._load()
            for target_id in target_ids:
                record = current.targets.get(target_group, {}).get(target_id)
                if record is not None and record.healthy_at is None:
                    record.healthy_at = now
            self._save(current)

    def stats(self) -> list[dict]:
        """`show stat` rows (frontends, backends, servers) as dicts; [] when not running."""
        try:
            return self.api.stat()
        except RuntimeUnavailable:
            return []

    # --- internals -----------------------------------------------------------------------

    def _render(self, current: LBState, only: set[tuple[str, str]] | None = None
                ) -> tuple[str, dict[str, str]]:
        """The configuration and map files for `current`. On a reload (`only` = the servers
        HAProxy has) targets it does not have yet are left to _sync_targets, which adds them
        the careful way; on a start, draining targets start at weight 0 (no new requests)."""
        servers = [cfg.ServerLine(tg, r.target_id, r.host, r.port, r.weight,
                                  draining=r.deregistered_at is not None and only is None)
                   for tg, r in current.records()
                   if only is None or (tg, r.target_id) in only]
        text = cfg.render_config(current.listeners, current.target_groups, servers,
                                 name=self.name, threads=os.cpu_count() or 1)
        maps = {cfg.map_file(lst.port): cfg.render_map(current.weights.get(lst.port))
                for lst in current.listeners}
        return text, maps

    def _sync_targets(self, current: LBState) -> None:
        rows = {(r.get("be_name"), r.get("srv_name")): r for r in self.api.servers_state()}
        for tg, record in current.records():
            self._converge(current, tg, record, rows.get((tg, record.target_id)))

    def _converge(self, current: LBState, target_group: str, record: TargetRecord,
                  row: dict[str, str] | None) -> None:
        """Bring one server (its `show servers state` row) in line with its record, whatever
        step a crash interrupted."""
        server = f"{target_group}/{record.target_id}"
        if row is None:
            self._add(current, target_group, record)
            return
        admin = int(row.get("srv_admin_state") or 0)
        if record.deregistered_at is not None:
            if not admin & health.ADMIN_DRAIN:
                self.api.call(f"set server {server} state drain")
        elif admin & health.ADMIN_MAINT:
            self._enable(server, record.weight)
            return
        elif admin & health.ADMIN_DRAIN:
            self.api.call(f"set server {server} state ready")
        if int(row.get("srv_uweight") or 0) != record.weight:
            self.api.call(f"set server {server} weight {record.weight}")

    def _add(self, current: LBState, target_group: str, record: TargetRecord) -> None:
        tg = self._group(current, target_group)
        server = f"{target_group}/{record.target_id}"
        args = " ".join(cfg.server_args(tg.health_check, 0))
        self.api.call(f"add server {server} {record.address} {args}")
        if record.deregistered_at is not None:
            self.api.call(f"set server {server} state drain")
            self.api.call(f"set server {server} weight {record.weight}")
            return
        self._enable(server, record.weight)

    def _enable(self, server: str, weight: int) -> None:
        """Out of maintenance without a moment of traffic before a passed check: leaving
        maintenance makes an HAProxy 2.6 server UP at once (health is reset to `rise`, and a
        `health down` while in maintenance is forgotten), so it leaves at weight 0, is forced
        DOWN, and only then gets its weight."""
        self.api.call(f"set server {server} weight 0")
        self.api.call(f"enable health {server}")
        self.api.call(f"enable server {server}")
        self.api.call(f"set server {server} health down")
        if weight:
            self.api.call(f"set server {server} weight {weight}")

    def _delete(self, server: str) -> None:
        deadline = time.monotonic() + REMOVE_TIMEOUT
        while True:
            answer = self.api.send(f"del server {server}").strip()
            if answer.startswith("Server deleted") or answer.startswith(MISSING):
                return
            if time.monotonic() >= deadline:
                raise LoadBalancerError(f"could not delete {server}: {answer}",
                                        hint="its connections did not close; retry remove()")
            time.sleep(0.02)

    def _replace_map(self, name: str, entries: list[tuple[str, str]]) -> None:
        """Swap a map's contents atomically: prepare a version, fill it, commit it."""
        answer = self.api.call(f"prepare map {name}")
        try:
            version = int(answer.split("New version created:")[1].split()[0])
        except (IndexError, ValueError) as exc:
            raise LoadBalancerError(f"unexpected answer to `prepare map {name}`: "
                                    f"{answer.strip()}") from exc
        for key, value in entries:
            self.api.call(f"add map @{version} {name} {key} {value}")
        self.api.call(f"commit map @{version} {name}")

    def _command(self, command: str) -> bool:
        """A runtime command on one server; False if the server (or HAProxy) is not there."""
        try:
            self.api.call(command)
        except RuntimeCommandFailed as exc:
            if exc.answer.startswith(MISSING):
                return False
            raise
        except RuntimeUnavailable:
            return False
        return True

    def _group(self, current: LBState, name: str) -> TargetGroup:
        tg = current.target_group(name)
        if tg is None:
            raise UnknownTargetGroup(name, sorted(t.name for t in current.target_groups))
        return tg

    def _load(self) -> LBState:
        return store.load(self.directory / STATE_FILE)

    def _save(self, current: LBState) -> None:
        store.save(self.directory / STATE_FILE, current)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: threads of this process, and other processes (a CLI next to
        the daemon) through an flock on the directory's lock file."""
        with self._lock:
            if self._depth == 0:
                self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    os.close(self._lock_fd)  # releases the flock
                    self._lock_fd = None


def _with_topology(old: LBState, listeners: list[Listener],
                   target_groups: list[TargetGroup]) -> LBState:
    names = {tg.name for tg in target_groups}
    weights = {}
    for listener in listeners:
        kept = old.weights.get(listener.port)
        before = old.listener(listener.port)
        if kept and before and before.target_group == listener.target_group and set(kept) <= names:
            weights[listener.port] = kept
    targets = {tg: group for tg, group in old.targets.items() if tg in names}
    return LBState(listeners, target_groups, weights, targets)
