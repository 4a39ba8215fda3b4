"""Synthetic probe traffic (deployment.probe): while green is being judged, a thread per
deployment sends requests to the test listener so that green's alarms see traffic before any
production request reaches it.

    probes = Probes(store, task_sets)
    probes.tick()          # a probe for each deployment in a probed phase, none for the others
    probes.stop(d.id)      # the deployment ended
"""

from __future__ import annotations

import threading
import time
import urllib.request

from conveyor.providers.local.codedeploy.revision import ServiceSpecs, group_of, load_balancer_of, spec_of
from conveyor.providers.local.codedeploy.steps import PROBE_PHASES
from conveyor.providers.local.codedeploy.store import DeploymentStore

#: A probe request gives up after this many seconds.
PROBE_TIMEOUT = 2.0


class Probes:
    def __init__(self, store: DeploymentStore, services: ServiceSpecs):
        self._store = store
        self._services = services
        self._running: dict[str, threading.Event] = {}

    def wanted(self) -> dict[str, tuple[str, float]]:
        """Deployment id → (the URL to probe, requests per second)."""
        out = {}
        for d in self._store.active():
            if d.phase not in PROBE_PHASES:
                continue
            try:
                group = group_of(d)
                spec = spec_of(self._services, d)
            except Exception:  # a deployment whose group or service is gone: nothing to probe
                continue
            if not group.probe:
                continue
            lb = load_balancer_of(spec)
            if lb.test_port:
                out[d.id] = (f"http://{lb.bind}:{lb.test_port}{group.probe.path}", group.probe.rate)
        return out

    def tick(self) -> None:
        wanted = self.wanted()
        for dep_id in list(self._running):
            if dep_id not in wanted:
                self.stop(dep_id)
        for dep_id, (url, rate) in wanted.items():
            if dep_id not in self._running:
                stop = threading.Event()
                threading.Thread(target=_probe, args=(url, rate, stop), name=f"probe-{dep_id}", daemon=True).start()
                self._running[dep_id] = stop

    def stop(self, dep_id: str) -> None:
        stop = self._running.pop(dep_id, None)
        if stop is not None:
            stop.set()

    def stop_all(self) -> None:
        for dep_id in list(self._running):
            self.stop(dep_id)


def _probe(url: str, rate: float, stop: threading.Event) -> None:
    interval = 1.0 / max(0.1, rate)
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
                response.read()
        except Exception:  # a failing green shows in its metrics; the probe only makes traffic
            pass
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
