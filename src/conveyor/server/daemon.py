"""The daemon process: `python -m conveyor.server.daemon` (started in the background by
`conveyor up`). Runs the scheduler, the poller and the HTTP API (conveyor.server.asgi, served by
uvicorn in a thread: conveyor.server.serve) until SIGTERM/SIGINT.

On SIGTERM it stops taking requests, cancels running actions (they are re-run at the next start,
exactly as after a crash) and exits. A kill -9 loses nothing: all state is in SQLite.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from conveyor import home as homes
from conveyor.backend.interface import Backend
from conveyor.build.cache import DEFAULT_MAX_BYTES, bound_caches
from conveyor.engine.service import Service
from conveyor.errors import UserError
from conveyor.events.stream import EventLog, Relay
from conveyor.events.types import Event
from conveyor.hostcheck import allowed_hosts
from conveyor.providers.local.backend import LocalBackend
from conveyor.registry import uris
from conveyor.registry.aliases import EcrAlias, aliases_in_hosts
from conveyor.registry.housekeeping import Housekeeping, LifecycleSchedule, Settings, settings_from_env
from conveyor.registry.local import LocalRegistry, endpoint_path, store_path, write_endpoint
from conveyor.release.service import ReleaseService
from conveyor.release.store import ReleaseStore
from conveyor.secrets.masking import MaskingFilter, default_masker
from conveyor.secrets.stream import mask_stderr
from conveyor.server.api import Api
from conveyor.server.asgi import create_app
from conveyor.server.dashboard import Dashboard
from conveyor.server.hooks import Webhooks
from conveyor.server.notifications import daemon_notifier
from conveyor.server.serve import ApiServer
from conveyor.stack.components import hosts_path

log = logging.getLogger("conveyor.daemon")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conveyor-daemon")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--host", default=homes.DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=homes.DEFAULT_PORT)
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name the API answers for in the Host header (repeatable)")
    parser.add_argument("--no-poll", action="store_true")
    parser.add_argument("--webhooks", action="store_true", help="serve /hooks/* on the API's listener")
    parser.add_argument("--webhooks-listen", metavar="HOST:PORT", help="serve /hooks/* on a listener of their own")
    args = parser.parse_args(argv)
    root = (args.home or homes.home()).resolve()
    mask_stderr()  # before logging and uvicorn hold on to stderr: tracebacks are masked too
    os.umask(homes.DAEMON_UMASK)  # also when started without `conveyor up`
    homes.prepare(root)
    logging.basicConfig(level=os.environ.get("CONVEYOR_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    token = homes.read_or_create_token(root)
    service = Service(root)
    registry = start_registry(root)
    local = LocalBackend(root, secrets=service.secrets, mask=default_masker().mask, registry=registry)
    store = ReleaseStore(root / "releases.db")
    releases = ReleaseService({"local": local.backend, **aws_backends(store)}, store)
    service.registry = local.backend.registry
    service.scheduler.releases = releases
    service.scheduler.registry_for = lambda definition: releases.registry_for(definition.raw.get("registry"))
    events = EventLog(root / "events.db")
    relay = Relay(events, event_sources(root), mask=masked_event)
    service.scheduler.listeners.append(lambda view, transition: relay.wake())  # sooner than its next tick
    local.services.store.outbox.on_events = local.deploys.store.outbox.on_events = relay.wake  # deployments' events too
    if registry is not None:
        registry.store.outbox.on_events = relay.wake  # pushes and deletes
    notifier = daemon_notifier(root, service.store, events, service.secrets)
    api = Api(service, releases, token, loops=local.loops(), events=events, notifier=notifier)
    hooks = Webhooks(service, root, args.webhooks, args.webhooks_listen, args.allow_host)
    api.webhooks = hooks.receiver
    lifecycle = start_lifecycle(root, registry)
    api.lifecycle = lifecycle.housekeeping.run if lifecycle is not None else None
    dashboard = Dashboard(root / "dashboard.db", api)
    app = create_app(api, allowed_hosts(args.host, args.allow_host), any_address=args.host in ("0.0.0.0", "::", ""),
                     hooks=hooks.on_api, dashboard=dashboard)
    server = ApiServer(app, args.host, args.port)
    host, port = server.address
    dashboard.base_url = notifier.deliverer.dashboard = f"http://{own_host(host)}:{port}"
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    notifier.start()  # sends on its own threads, never waited on by the engine; first: it sees every event
    relay.start()  # before anything records: what the recovery writes is relayed at once
    local.start()  # before the scheduler: recovered deploy actions find the backend's loops running
    service.start(polling=not args.no_poll)
    homes.pid_path(root).write_text(f"{os.getpid()}\n")
    homes.endpoint_path(root).write_text(json.dumps({"pid": os.getpid(), "host": host, "port": port,
                                                     **hooks.endpoint((host, port))}))
    server.start()
    log.info("conveyor daemon listening on http://%s:%s (data %s)", host, port, root)
    hooks.start()
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        dashboard.shutdown()  # its open streams end, so the server's graceful stop does not wait on them
        server.stop()
        dashboard.close()
        hooks.stop()
        notifier.stop()  # first (it reads the engine's store); what it had not sent goes at the next start
        service.shutdown()
        local.shutdown()
        relay.stop()  # after the stores' last writes: one last pump takes them
        events.close()
        releases.store.close()
        if lifecycle is not None:
            lifecycle.stop()
        if registry is not None:
            registry.stop()
            endpoint_path(root).unlink(missing_ok=True)
        for path in (homes.pid_path(root), homes.endpoint_path(root)):
            try:
                if path.exists() and str(os.getpid()) in path.read_text():
                    path.unlink()
            except OSError:
                pass
        log.info("conveyor daemon stopped")
    return 0


def own_host(bound: str) -> str:
    """The host part of this daemon's own URL (login links, notifications): loopback when it is
    bound to every address, an IPv6 literal in brackets."""
    if bound in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bound == "::":
        return "[::1]"
    return f"[{bound}]" if ":" in bound else bound


def event_sources(root: Path) -> dict[str, Path]:
    """The stores whose outboxes feed the event stream, by the source name in event ids."""
    return {"pipeline": root / "conveyor.db", "ecs": root / "services.db", "codedeploy": root / "codedeploy.db",
            "ecr": store_path(root)}


def masked_event(event: Event) -> Event:
    """An event with every stored secret value masked (an action's error may quote one)."""
    masker = default_masker()
    return dataclasses.replace(event, summary=masker.mask(event.summary), detail=masker.mask_json(dict(event.detail)))


def aws_backends(store: ReleaseStore) -> dict[str, Backend]:
    """The AWS backend when boto3 is installed (the `aws` extra); none otherwise, so an aws
    environment is refused with the install hint and no AWS call is ever made for a local one."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        log.info("boto3 is not installed: no aws backend (pip install 'conveyor[aws]')")
        return {}
    from conveyor.providers.aws import AwsBackend
    from conveyor.providers.aws.codedeploy_journal import StoredJournal

    aws = AwsBackend(store.environment_settings, names=lambda: store.environments("aws"),
                     journal=StoredJournal(store))
    return {"aws": aws.backend}


def start_registry(root: Path):
    """The local registry (ECR semantics), supervised for as long as the daemon runs. Without
    the distribution binary (`conveyor setup` installs it) the daemon runs without one."""
    if shutil.which("docker-registry") is None:
        log.warning("docker-registry is not installed: no local registry (fix: conveyor setup)")
        return None
    port = int(os.environ.get("CONVEYOR_REGISTRY_PORT", uris.DEFAULT_PORT))
    registry = LocalRegistry(root, port=port, aliases=configured_aliases())
    try:
        registry.start()
    except Exception as exc:  # the port is taken, say: the pipelines still run
        log.error("the local registry did not start: %s (set CONVEYOR_REGISTRY_PORT to another port)", exc)
        registry.stop()
        return None
    default_masker().add(registry.token)
    write_endpoint(registry)
    log.info("local registry on %s (%s)", registry.address, registry.repository_uri("NAME"))
    return registry


def start_lifecycle(root: Path, registry: LocalRegistry | None) -> LifecycleSchedule | None:
    """Lifecycle policies applied on a schedule (registry.housekeeping): once now, then every
    CONVEYOR_LIFECYCLE_INTERVAL seconds; a bad setting is logged and the defaults used."""
    if registry is None:
        return None
    try:
        settings = settings_from_env(os.environ)
    except UserError as exc:
        log.error("%s; using the default lifecycle settings", exc)
        settings = Settings()
    cache_max = settings.cache_max if settings.cache_max is not None else DEFAULT_MAX_BYTES
    housekeeping = Housekeeping(registry, root, settings,
                                caches=lambda dry_run: bound_caches(root / "cache", cache_max, dry_run=dry_run))
    schedule = LifecycleSchedule(housekeeping, settings.interval)
    schedule.start()
    return schedule


def configured_aliases() -> list[EcrAlias]:
    """The ECR aliases `conveyor setup --ecr-alias` wrote into /etc/hosts: the names that
    resolve to this machine, so the ones the registry must answer for (read once, at start)."""
    path = hosts_path()
    try:
        return aliases_in_hosts(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot read %s (%s): no ECR aliases", path, exc.strerror)
        return []


if __name__ == "__main__":
    sys.exit(main())
