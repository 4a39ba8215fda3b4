"""What each git host sends to a webhook, and how it proves it sent it. Pure functions over the
raw headers and body, no I/O, so each host's documented example can be checked on its own:

    host = HOSTS["github"]
    host.verify(headers, body, secret, now)     # True only for a good signature (constant time)
    host.delivery(headers)                      # the id a redelivery repeats, for deduplication
    host.events(headers, json_payload)          # [Push | PullRequest | Ping | Ignored]

Signatures (checked on the raw body, before it is parsed):

- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`; event in
  `X-GitHub-Event` (push, pull_request, ping); delivery id `X-GitHub-Delivery`.
- GitLab: `X-Gitlab-Token: <secret>` (a shared token, no signature); event in `X-Gitlab-Event`
  (Push Hook, Tag Push Hook, Merge Request Hook); delivery id `X-Gitlab-Event-UUID` (or the
  `Idempotency-Key` GitLab 17.4+ keeps across retries, preferred).
- Bitbucket Cloud: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`; event in
  `X-Event-Key` (repo:push, pullrequest:created|updated|fulfilled|rejected); `X-Request-UUID`.
- generic (any script or CI): `X-Conveyor-Timestamp: <unix seconds>` and
  `X-Conveyor-Signature-256: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`, refused
  outside a 5-minute window; `X-Conveyor-Delivery` (required); body {repository, ref, before, after}.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Callable, Mapping

ZERO = "0" * 40
REPLAY_WINDOW_SECONDS = 300
#: CodePipeline's pull-request event types by what each host calls them.
GITHUB_PR_ACTIONS = {"opened": "OPEN", "reopened": "OPEN", "synchronize": "UPDATED", "closed": "CLOSED"}
GITLAB_MR_ACTIONS = {"open": "OPEN", "reopen": "OPEN", "update": "UPDATED", "close": "CLOSED", "merge": "CLOSED"}
BITBUCKET_PR_EVENTS = {"pullrequest:created": "OPEN", "pullrequest:updated": "UPDATED",
                       "pullrequest:fulfilled": "CLOSED", "pullrequest:rejected": "CLOSED"}

Headers = Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class Repo:
    """The repository an event is about, as the payload names it: its clone URLs, and owner/name."""

    urls: tuple[str, ...]
    full_name: str | None


@dataclass(frozen=True)
class Push:
    repo: Repo
    ref: str
    before: str
    after: str


@dataclass(frozen=True)
class PullRequest:
    repo: Repo
    number: int
    event: str  # OPEN | UPDATED | CLOSED
    source_branch: str
    target_branch: str
    head: str
    base: str | None = None
    head_ref: str | None = None  # where the host keeps the head in the target repository
    merged: bool = False


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Ignored:
    why: str


Event = Push | PullRequest | Ping | Ignored


@dataclass(frozen=True)
class Host:
    name: str
    verify: Callable[[Headers, bytes, str, float], bool]
    delivery: Callable[[Headers], str | None]
    events: Callable[[Headers, Any], list[Event]]
    #: the header that carries the proof: absent = "missing-signature" rather than "bad-signature"
    proof_header: str


# -- signatures

def hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _signed(header: str | None, secret: str, data: bytes) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac_hex(secret, data)
    return hmac.compare_digest(header.strip().encode("latin-1", "replace"), expected.encode())


def verify_github(headers: Headers, body: bytes, secret: str, now: float) -> bool:
    return _signed(headers.get("x-hub-signature-256"), secret, body)


def verify_gitlab(headers: Headers, body: bytes, secret: str, now: float) -> bool:
    token = headers.get("x-gitlab-token")
    return token is not None and hmac.compare_digest(token.encode("latin-1", "replace"), secret.encode())


def verify_bitbucket(headers: Headers, body: bytes, secret: str, now: float) -> bool:
    return _signed(headers.get("x-hub-signature"), secret, body)


def timestamp_fresh(headers: Headers, now: float) -> bool:
    raw = headers.get("x-conveyor-timestamp", "")
    return raw.isascii() and raw.isdigit() and len(raw) <= 12 and abs(now - int(raw)) <= REPLAY_WINDOW_SECONDS


def verify_generic(headers: Headers, body: bytes, secret: str, now: float) -> bool:
    """The timestamp is signed with the body, so an old request cannot be replayed with a new one."""
    stamp = headers.get("x-conveyor-timestamp", "")
    return _signed(headers.get("x-conveyor-signature-256"), secret, stamp.encode("latin-1", "replace") + b"." + body)


def sign_generic(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Conveyor-Signature-256 value a sender computes (tests and scripts)."""
    return "sha256=" + hmac_hex(secret, str(timestamp).encode() + b"." + body)


# -- payloads (already verified; still untrusted in shape: every field is checked)

def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _repo(urls: list[Any], full_name: Any) -> Repo:
    return Repo(tuple(u for u in (_str(x) for x in urls) if u), _str(full_name))


def github_events(headers: Headers, payload: Any) -> list[Event]:
    kind = headers.get("x-github-event", "")
    body = _dict(payload)
    r = _dict(body.get("repository"))
    repo = _repo([r.get("clone_url"), r.get("ssh_url"), r.get("git_url"), r.get("html_url")], r.get("full_name"))
    if kind == "ping":
        return [Ping()]
    if kind == "push":
        ref, before, after = _str(body.get("ref")), _str(body.get("before")), _str(body.get("after"))
        if not ref or not after:
            return [Ignored("a push without ref or after")]
        return [Push(repo, ref, before or ZERO, after)]
    if kind == "pull_request":
        event = GITHUB_PR_ACTIONS.get(str(body.get("action")))
        pr = _dict(body.get("pull_request"))
        number = body.get("number", pr.get("number"))
        head, base = _dict(pr.get("head")), _dict(pr.get("base"))
        if event is None:
            return [Ignored(f"pull_request action {str(body.get('action'))[:40]!r}")]
        if not isinstance(number, int) or not _str(head.get("sha")) or not _str(base.get("ref")):
            return [Ignored("a pull_request without number, head or base")]
        return [PullRequest(repo, number, event, _str(head.get("ref")) or "", str(base["ref"]), str(head["sha"]),
                            _str(base.get("sha")), f"refs/pull/{number}/head", pr.get("merged") is True)]
    return [Ignored(f"event {kind[:40]!r}")]


def gitlab_events(headers: Headers, payload: Any) -> list[Event]:
    body = _dict(payload)
    kind = str(body.get("object_kind") or "")
    p, legacy = _dict(body.get("project")), _dict(body.get("repository"))
    repo = _repo([p.get("git_http_url"), p.get("git_ssh_url"), p.get("http_url"), p.get("ssh_url"), p.get("web_url"),
                  legacy.get("git_http_url"), legacy.get("git_ssh_url"), legacy.get("homepage")],
                 p.get("path_with_namespace"))
    if kind in ("push", "tag_push"):
        ref, after = _str(body.get("ref")), _str(body.get("after"))
        if not ref or not after:
            return [Ignored(f"a {kind} without ref or after")]
        return [Push(repo, ref, _str(body.get("before")) or ZERO, after)]
    if kind == "merge_request":
        attrs = _dict(body.get("object_attributes"))
        action = str(attrs.get("action") or "")
        event = GITLAB_MR_ACTIONS.get(action)
        if action == "update" and not _str(attrs.get("oldrev")):
            event = None  # a title or label edit: no new commits
        iid, head = attrs.get("iid"), _str(_dict(attrs.get("last_commit")).get("id"))
        target = _str(attrs.get("target_branch"))
        if event is None:
            return [Ignored(f"merge request action {action[:40]!r}")]
        if not isinstance(iid, int) or not head or not target:
            return [Ignored("a merge request without iid, last commit or target branch")]
        return [PullRequest(repo, iid, event, _str(attrs.get("source_branch")) or "", target, head,
                            f"refs/heads/{target}", f"refs/merge-requests/{iid}/head", action == "merge")]
    return [Ignored(f"event {str(headers.get('x-gitlab-event', kind))[:40]!r}")]


def _bitbucket_ref(side: Any) -> tuple[str | None, str | None]:
    side = _dict(side)
    kind, name = side.get("type"), _str(side.get("name"))
    prefix = {"branch": "refs/heads/", "named_branch": "refs/heads/", "tag": "refs/tags/",
              "annotated_tag": "refs/tags/"}.get(str(kind))
    return (prefix + name if prefix and name else None), _str(_dict(side.get("target")).get("hash"))


def bitbucket_events(headers: Headers, payload: Any) -> list[Event]:
    kind = headers.get("x-event-key", "")
    body = _dict(payload)
    r = _dict(body.get("repository"))
    links = _dict(r.get("links"))
    clones = [c.get("href") for c in links.get("clone") or [] if isinstance(c, dict)]
    repo = _repo([*clones, _dict(links.get("html")).get("href")], r.get("full_name"))
    if kind == "repo:push":
        out: list[Event] = []
        for change in _dict(body.get("push")).get("changes") or []:
            change = _dict(change)
            new_ref, after = _bitbucket_ref(change.get("new"))
            old_ref, before = _bitbucket_ref(change.get("old"))
            if new_ref and after:
                out.append(Push(repo, new_ref, before or ZERO, after))
            elif old_ref:
                out.append(Ignored(f"{old_ref} deleted"))
        return out or [Ignored("a push without changes")]
    if kind in BITBUCKET_PR_EVENTS:
        pr = _dict(body.get("pullrequest"))
        src, dst = _dict(pr.get("source")), _dict(pr.get("destination"))
        number, head = pr.get("id"), _str(_dict(src.get("commit")).get("hash"))
        target = _str(_dict(dst.get("branch")).get("name"))
        if not isinstance(number, int) or not head or not target:
            return [Ignored("a pull request without id, source commit or destination branch")]
        return [PullRequest(repo, number, BITBUCKET_PR_EVENTS[kind], _str(_dict(src.get("branch")).get("name")) or "",
                            target, head, _str(_dict(dst.get("commit")).get("hash")), None,
                            kind == "pullrequest:fulfilled")]
    return [Ignored(f"event {kind[:40]!r}")]


def generic_events(headers: Headers, payload: Any) -> list[Event]:
    body = _dict(payload)
    repository, ref, after = _str(body.get("repository")), _str(body.get("ref")), _str(body.get("after"))
    if not repository or not ref or not after:
        return [Ignored("expected {repository, ref, before, after}")]
    return [Push(Repo((repository,), None), ref, _str(body.get("before")) or ZERO, after)]


HOSTS: dict[str, Host] = {
    "github": Host("github", verify_github, lambda h: h.get("x-github-delivery"), github_events,
                   "x-hub-signature-256"),
    "gitlab": Host("gitlab", verify_gitlab, lambda h: h.get("idempotency-key") or h.get("x-gitlab-event-uuid"),
                   gitlab_events, "x-gitlab-token"),
    "bitbucket": Host("bitbucket", verify_bitbucket, lambda h: h.get("x-request-uuid"), bitbucket_events,
                      "x-hub-signature"),
    "generic": Host("generic", verify_generic, lambda h: h.get("x-conveyor-delivery"), generic_events,
                    "x-conveyor-signature-256"),
}


# -- which registered repository a payload is about

def _key(location: str) -> str:
    """A repository location compared loosely: no trailing slash or .git, no user in a URL, lower case."""
    text = location.strip().rstrip("/").removesuffix(".git").lower()
    scheme, sep, rest = text.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        text = f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"
    return text


def match_repositories(registered: list[str], repo: Repo) -> list[str]:
    """The registered repositories (paths or URLs) a payload's repository is: one of its clone URLs
    (compared without .git, trailing slash or user), else the one whose path or URL ends with
    its owner/name (`/srv/git/acme/app.git` for acme/app). Several by the ending: none (ambiguous)."""
    wanted = {_key(u) for u in repo.urls}
    exact = [r for r in registered if _key(r) in wanted]
    if exact or not repo.full_name:
        return exact
    tail = repo.full_name.strip("/").lower()
    ending = [r for r in registered if _key(r).endswith("/" + tail) or _key(r).endswith(":" + tail)
              or _key(r) == tail]
    return ending if len(ending) == 1 else []
