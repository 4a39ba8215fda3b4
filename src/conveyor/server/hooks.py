"""Inbound webhooks: `POST /hooks/github`, `/hooks/gitlab`, `/hooks/bitbucket` and `/hooks/generic`.
Off by default; `conveyor up --webhooks` serves them on the API's listener, `--webhooks-listen
HOST:PORT` on a listener of their own (the same Host allow-list, loopback by default).

They take no API token (a git host cannot send it). Each request instead proves it comes from
whoever holds the webhook secret (conveyor.server.hook_payloads), in an order that keeps a
forged request cheap and never lets one reach a parser:

1. a secret is configured for the host (`webhooks/<host>`, or `webhooks/<host>/<owner>/<repo>`
   which then alone may sign that repository's events): otherwise 401, and the log says once
   how to set one;
2. the body is read within the API's limits (length announced, size, deadline: 411/413/408);
3. the signature or token is checked on the raw bytes in constant time (and, for the generic
   hook, the signed timestamp within 5 minutes): otherwise 401 with the same generic body for
   every reason, the reason counted per host (`GET /api/v1/webhooks`);
4. only then is the JSON parsed (depth and size limited), the delivery id claimed (a duplicate
   answers 200 {"duplicate": true} and starts nothing), and each push or pull request matched to
   the registered repositories and handed to the service, as a local push is: the same trigger
   filters, the protected branch's definition, and the commit fetched from the registered
   repository (a payload naming a commit that repository lacks starts nothing).

Answers: 202 {"started": [...]} for a push or pull request, 200 for a ping, an event ignored or
a duplicate. Deliveries the daemon missed (it was down, the host gave up) are caught up by the
poller, which compares every branch and tag with what it saw last.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.hostcheck import AllowedHosts
from conveyor.secrets.masking import masked_response
from conveyor.secrets.store import SET_HINT
from conveyor.server.hook_payloads import (
    HOSTS,
    Event,
    Host,
    Ignored,
    Ping,
    PullRequest,
    Push,
    Repo,
    match_repositories,
    timestamp_fresh,
)
from conveyor.server.hook_store import Deliveries
from conveyor.server.limits import DEFAULT_LIMITS, Limits, Refused, declared_length, json_body

log = logging.getLogger("conveyor.webhooks")

PREFIX = "/hooks/"
SECRET_PREFIX = "webhooks/"
UNAUTHORIZED = {"error": {"type": "Unauthorized", "message": "this webhook is not signed with a secret this "
                                                             "daemon holds", "hint": None}}


class HookReceiver:
    """The /hooks/* endpoints as an ASGI application, over the engine's Service."""

    def __init__(self, service: Any, home: str | Path, limits: Limits = DEFAULT_LIMITS,
                 clock: Callable[[], float] = time.time):
        self.service = service
        self.limits = limits
        self.clock = clock
        self.deliveries = Deliveries(Path(home) / "webhooks.db", clock)
        self.refused: Counter[tuple[str, str]] = Counter()
        self.accepted: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    # -- the ASGI side
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        host = HOSTS.get(raw_path.removeprefix(PREFIX)) if raw_path.startswith(PREFIX) else None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}
        has_body = "content-length" in headers or "transfer-encoding" in headers
        if host is None:
            return _json(404, {"error": {"type": "NotFound", "message": f"no webhook at {raw_path[:100]}",
                                         "hint": f"POST to {', '.join(PREFIX + h for h in HOSTS)}"}}, has_body)
        if request.method != "POST":
            return _json(405, {"error": {"type": "MethodNotAllowed", "message": "webhooks are POSTed",
                                         "hint": None}}, has_body, allow="POST")
        secrets = await anyio.to_thread.run_sync(self._secrets, host.name)
        if not secrets:
            self._warn_no_secret(host.name)
            return self._refuse(host.name, "no-secret", has_body)
        try:
            length = declared_length(headers, "POST", self.limits)
            data = await _read_body(request, length, self.limits) if length else b""
        except Refused as exc:
            self._count(host.name, "body-refused")
            return _json(exc.status, {"error": {"type": exc.kind, "message": exc.message, "hint": None}}, True)
        except ClientDisconnect:
            return _json(400, {"error": {"type": "BadRequest", "message": "the client went away", "hint": None}},
                         True)
        now = self.clock()
        if host.proof_header not in headers:
            return self._refuse(host.name, "missing-signature")
        signer = next((name for name, value in secrets if host.verify(headers, data, value, now)), None)
        if signer is None:
            return self._refuse(host.name, "bad-signature")
        if host.name == "generic" and not timestamp_fresh(headers, now):
            return self._refuse(host.name, "stale-timestamp")
        delivery = host.delivery(headers)
        if host.name == "generic" and not delivery:
            return self._refuse(host.name, "missing-delivery")
        try:
            events = host.events(headers, self._payload(host, headers, data))
        except Refused as exc:
            self._count(host.name, "malformed")
            return _json(exc.status, {"error": {"type": exc.kind, "message": exc.message, "hint": None}})
        scoped = {name for name, _ in secrets if name != SECRET_PREFIX + host.name}
        if not all(_signer_may_sign(host.name, signer, scoped, ev) for ev in events):
            return self._refuse(host.name, "wrong-repository")
        if delivery and not self.deliveries.claim(host.name, delivery[:200]):
            with self._lock:
                self.duplicates[host.name] += 1
            return _json(200, {"duplicate": True, "delivery": delivery[:200]})
        try:
            status, answer = await anyio.to_thread.run_sync(self._dispatch, host.name, events)
        except ConveyorError as exc:
            if delivery:
                self.deliveries.release(host.name, delivery[:200])
            return _json(422, {"error": {"type": "Failed", "message": str(exc), "hint": exc.hint}})
        except Exception:
            if delivery:
                self.deliveries.release(host.name, delivery[:200])
            log.exception("handling a %s webhook", host.name)
            return _json(500, {"error": {"type": "InternalError", "message": "handling the webhook failed "
                                                                             "(see the daemon log)", "hint": None}})
        if delivery:
            self.deliveries.finish(host.name, delivery[:200], f"{status} started {len(answer.get('started', []))}")
        with self._lock:
            self.accepted[host.name] += 1
        return _json(status, answer)

    # -- steps
    def _secrets(self, host: str) -> list[tuple[str, str]]:
        """(name, value) of the host's secrets: the per-repository ones first, then webhooks/<host>."""
        own = SECRET_PREFIX + host
        names = sorted((s.name for s in self.service.secrets.list()
                        if s.name == own or s.name.startswith(own + "/")), key=lambda n: (n == own, n))
        out = []
        for name in names:
            try:
                out.append((name, self.service.secrets.get(name)))
            except ConveyorError as exc:  # unreadable (another key): as if absent, said in the log
                log.warning("webhook secret %s cannot be read: %s", name, exc)
        return out

    def _payload(self, host: Host, headers: dict[str, str], data: bytes) -> Any:
        """The verified body as JSON; GitHub may send it form-encoded (payload=...)."""
        if host.name == "github" and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            try:
                fields = parse_qs(data.decode("utf-8"), max_num_fields=5, strict_parsing=True)
            except (UnicodeDecodeError, ValueError) as exc:
                raise Refused(400, f"malformed form body: {exc}") from None
            data = (fields.get("payload") or [""])[0].encode()
        return json_body(data, self.limits)

    def _dispatch(self, host: str, events: list[Event]) -> tuple[int, dict]:
        if any(isinstance(ev, Ping) for ev in events):
            return 200, {"ping": True, "host": host}
        registered = sorted({p["repository"] for p in self.service.store.pipelines()})
        started: list[dict] = []
        ignored = [ev.why for ev in events if isinstance(ev, Ignored)]
        unmatched: list[str] = []
        handled = False
        for ev in events:
            if not isinstance(ev, (Push, PullRequest)):
                continue
            repositories = match_repositories(registered, ev.repo)
            if not repositories:
                unmatched.append(ev.repo.full_name or (ev.repo.urls[0] if ev.repo.urls else "?"))
                continue
            handled = True
            for repository in repositories:
                if isinstance(ev, Push):
                    started += self.service.on_push(repository, ev.ref, ev.before, ev.after, source="Webhook")
                else:
                    started += self.service.on_pull_request(
                        repository, number=ev.number, event=ev.event, source_branch=ev.source_branch,
                        target_branch=ev.target_branch, head=ev.head, base=ev.base, head_ref=ev.head_ref)
        if unmatched:
            log.info("%s webhook for %s: no registered pipeline's repository matches", host, ", ".join(unmatched))
        answer: dict[str, Any] = {"host": host, "started": [
            {"id": ex.get("id"), "pipeline": ex.get("pipeline"), "status": ex.get("status")} for ex in started]}
        if ignored:
            answer["ignored"] = ignored
        if unmatched:
            answer["unmatched"] = unmatched
        return (202 if handled else 200), answer

    def _refuse(self, host: str, reason: str, close: bool = False) -> Response:
        self._count(host, reason)
        log.info("%s webhook refused: %s", host, reason)
        return _json(401, UNAUTHORIZED, close)

    def _count(self, host: str, reason: str) -> None:
        with self._lock:
            self.refused[(host, reason)] += 1

    def _warn_no_secret(self, host: str) -> None:
        with self._lock:
            if host in self._warned:
                return
            self._warned.add(host)
        log.warning("a %s webhook arrived but no secret is configured, so every one is refused: %s "
                    "(and give the same value to %s)", host, SET_HINT.format(name=SECRET_PREFIX + host),
                    "the generic sender" if host == "generic" else f"the {host} webhook's settings")

    def stats(self) -> dict:
        """Per host: whether a secret is set, deliveries accepted, duplicates, refusals by reason."""
        names = {s.name for s in self.service.secrets.list()}
        with self._lock:
            return {"enabled": True, "hosts": {host: {
                "secret": any(n == SECRET_PREFIX + host or n.startswith(SECRET_PREFIX + host + "/") for n in names),
                "accepted": self.accepted[host], "duplicates": self.duplicates[host],
                "refused": {reason: n for (h, reason), n in sorted(self.refused.items()) if h == host}}
                for host in HOSTS}}

    def close(self) -> None:
        self.deliveries.close()


def _repo_id(repo: Repo) -> str | None:
    """owner/name of a payload's repository (from a URL's last two segments when not given)."""
    if repo.full_name:
        return repo.full_name.strip("/").lower()
    for url in repo.urls:
        parts = url.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
        if len(parts) >= 2 and parts[-1] and parts[-2]:
            return f"{parts[-2]}/{parts[-1]}".lower()
    return None


def _signer_may_sign(host: str, signer: str, scoped: set[str], ev: Event) -> bool:
    """A per-repository secret signs that repository's events only; the host's secret signs any
    repository that has no secret of its own."""
    if not isinstance(ev, (Push, PullRequest)):
        return True
    repo = _repo_id(ev.repo)
    prefix = SECRET_PREFIX + host + "/"
    if signer.startswith(prefix):
        return repo is not None and repo == signer.removeprefix(prefix).lower()
    return repo is None or prefix + repo not in {s.lower() for s in scoped}


def create_hooks_app(receiver: HookReceiver, allowed: AllowedHosts, limits: Limits = DEFAULT_LIMITS,
                     any_address: bool = False) -> Any:
    """The webhooks alone, for a listener of their own (`--webhooks-listen`): the API's Host and
    header checks in front, and nothing but /hooks/* behind."""
    from conveyor.server.asgi import HostCheck

    return HostCheck(receiver, allowed, limits.header_bytes, any_address)


async def _read_body(request: Request, length: int, limits: Limits) -> bytes:
    from conveyor.server.asgi import _read_body as read

    return await read(request, length, limits)


def _json(status: int, payload: Any, close: bool = False, allow: str | None = None) -> Response:
    headers = {"Connection": "close"} if close else {}
    if allow:
        headers["Allow"] = allow
    return Response(json.dumps(masked_response(payload)).encode(), status_code=status, headers=headers,
                    media_type="application/json")


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[v6]:PORT` for an IPv6 address) of `--webhooks-listen`."""
    from conveyor.errors import UserError

    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UserError(f"--webhooks-listen {text!r} is not HOST:PORT",
                        hint="e.g. --webhooks-listen 127.0.0.1:7879 (behind a TLS proxy) or 0.0.0.0:7879 "
                             "with --allow-remote")
    return host, int(port)


class Webhooks:
    """How the daemon serves the webhooks: not at all (the default), on the API's listener
    (`--webhooks`), or on a listener of their own (`--webhooks-listen HOST:PORT`, bound here so
    a taken port fails the start). `receiver` also answers GET /api/v1/webhooks."""

    def __init__(self, service: Any, home: Path, on_api: bool, listen: str | None, allow_hosts: list[str]):
        self.receiver = HookReceiver(service, home) if on_api or listen else None
        self.on_api = self.receiver if on_api and not listen else None
        self.server = webhook_server(self.receiver, listen, allow_hosts) if self.receiver and listen else None

    def endpoint(self, api_address: tuple[str, int]) -> dict:
        """The daemon.json entry saying where they are served, if anywhere."""
        at = self.server.address if self.server else api_address if self.on_api else None
        return {"webhooks": {"host": at[0], "port": at[1]}} if at else {}

    def start(self) -> None:
        if self.server:
            self.server.start()
        if self.receiver:
            log.info("webhooks on /hooks/{%s}%s", ",".join(HOSTS),
                     " at http://%s:%s" % self.server.address if self.server else " of the API's listener")

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        if self.receiver:
            self.receiver.close()


def webhook_server(receiver: HookReceiver, listen: str, allow_hosts: list[str], limits: Limits = DEFAULT_LIMITS):
    """The webhooks' own listener (conveyor.server.serve.ApiServer), bound now: a taken port
    fails the daemon's start."""
    from conveyor.hostcheck import allowed_hosts
    from conveyor.server.serve import ApiServer

    host, port = parse_listen(listen)
    app = create_hooks_app(receiver, allowed_hosts(host, allow_hosts), limits, any_address=host in ("0.0.0.0", "::"))
    return ApiServer(app, host, port, limits)
