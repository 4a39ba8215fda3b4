"""Validation of one notification target in conveyor.yml (an entry of a rule's `targets:`), checked
here so that conveyor.notify.targets can build a sender from it without checking again.

    targets:
      - webhook: {url: "https://hooks.example.com/conveyor", secret: hooks/conveyor}
      - webhook: {url: "https://events.example.com/", secret: hooks/cde, format: cdevents}
      - slack: {url: slack/deploys}              # the incoming-webhook URL is a secret's name
      - email: {to: [team@example.com], from: conveyor@example.com, host: smtp.example.com,
                username: conveyor, password: smtp/conveyor}
      - command: [/usr/local/bin/page-oncall, --team, web]
      - commitStatus: {provider: github, repository: acme/orders, token: github/status}

    target = check_target(chk, ("notifications", 0, "targets", 2), value)   # TargetDef | None

A target is a mapping with one key, its kind. What is a credential is never written in the file:
the webhook's HMAC key, the Slack webhook URL (anyone holding it can post to the channel), the SMTP
password and the git host token are names in the secret store (`conveyor secret set NAME`),
optionally `name:json-key` to read one key of a JSON secret. A value that looks like the
credential itself (a URL where a secret name belongs) is refused with a hint.

Secure by default: email uses STARTTLS with the server certificate verified; plain SMTP needs both
`starttls: false` and `insecure: true` (a local test relay). A webhook over plain http to a host
other than this machine gets a warning (the body is signed, not encrypted).

`TargetDef.spec` is the checked mapping with the defaults filled in (keys as in the file), so
the sender never needs to know a default: e.g. command's list form becomes `{argv, timeoutSeconds}`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from conveyor.documents.checker import Checker, type_name
from conveyor.documents.located import KeyPath
from conveyor.secrets.store import NAME_RE

KINDS = ("webhook", "slack", "email", "command", "commitStatus")
WEBHOOK_FORMATS = ("conveyor", "cdevents")
PROVIDERS = ("github", "gitlab")
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
DEFAULT_TIMEOUT = {"webhook": 10, "slack": 10, "email": 30, "command": 30, "commitStatus": 10}
MAX_TIMEOUT_SECONDS = 300              # a delivery holds a notifier worker at most this long
SMTP_SUBMISSION_PORT = 587             # RFC 6409 message submission, STARTTLS
MAX_EMAIL_RECIPIENTS = 50
MAX_HEADERS = 20
MAX_CONTEXT = 255                      # GitHub commit status context / GitLab status name
# Headers a webhook target sets itself (or that HTTP owns): a user header may not replace them.
RESERVED_HEADERS = ("host", "content-type", "content-length", "transfer-encoding", "connection", "user-agent")
RESERVED_HEADER_PREFIX = "x-conveyor-"
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")       # RFC 9110 token
EMAIL_ADDRESS = re.compile(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
# Credentials pasted where a secret's name belongs: Slack, GitHub and GitLab token formats, a header value.
LOOKS_LIKE_A_TOKEN = re.compile(r"(?i:bearer\s)|(xox[abprs]-|ghp_|gho_|ghs_|github_pat_|glpat-)[A-Za-z0-9_-]{16,}")
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}")
GITLAB_PROJECT = re.compile(r"[0-9]{1,18}|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*){1,20}")


@dataclass(frozen=True)
class TargetDef:
    """A checked target: its kind and its settings with defaults filled in."""

    kind: str
    spec: Mapping[str, Any]

    def secret_names(self) -> list[str]:
        """The secret references this target reads when it sends (to check they exist up front)."""
        keys = {"webhook": ("secret",), "slack": ("url",), "email": ("password",), "commitStatus": ("token",)}
        return [self.spec[k] for k in keys.get(self.kind, ()) if self.spec.get(k)]

    def describe(self) -> str:
        """One line for `conveyor notify ls`; names secrets, never their values."""
        s = self.spec
        if self.kind == "webhook":
            return f"webhook {s['url']} ({s['format']})"
        if self.kind == "slack":
            return f"slack (URL in secret {s['url']})"
        if self.kind == "email":
            return f"email to {', '.join(s['to'])} via {s['host']}:{s['port']}"
        if self.kind == "command":
            return "command " + " ".join(s["argv"])
        return f"commitStatus {s['provider']} {s['repository']}"


def check_target(chk: Checker, path: KeyPath, value: Any) -> TargetDef | None:
    """The target at `path` (its value `value`), or None after reporting every problem in it."""
    if not isinstance(value, dict) or len(value) != 1:
        got = type_name(value) if not isinstance(value, dict) else f"a mapping with {len(value)} keys"
        chk.error(path, f"expected a target: a mapping with one key, its kind ({', '.join(KINDS)}), got {got}")
        return None
    (kind, body), = value.items()
    if not chk.one_of(path + (kind,), kind, KINDS, "target kind"):
        return None
    before = len(chk.errors)
    tp = path + (kind,)
    spec = _CHECKS[kind](chk, tp, body)
    if spec is None or len(chk.errors) > before:
        return None
    return TargetDef(kind, spec)


def _webhook(chk: Checker, tp: KeyPath, body: Any) -> dict[str, Any] | None:
    if not chk.is_type(tp, body, dict, "a mapping with url and secret"):
        return None
    chk.keys(tp, ("url", "secret", "format", "timeoutSeconds", "headers"))
    url = _url(chk, tp, "url", required=True)
    secret = _secret(chk, tp, "secret", required=True, what="the HMAC key the body is signed with")
    fmt = chk.get(tp, "format", str, default="conveyor")
    if fmt is not None:
        chk.one_of(tp + ("format",), fmt, WEBHOOK_FORMATS, "format")
    headers = _headers(chk, tp)
    if url is not None and urlsplit(url).scheme == "http" and not _is_loopback(urlsplit(url).hostname or ""):
        chk.warning(tp + ("url",), "plain http to another machine: the body is signed but anyone on the way can "
                                   "read it; use https")
    return {"url": url, "secret": secret, "format": fmt, "headers": headers,
            "timeoutSeconds": _timeout(chk, tp, "webhook")}


def _slack(chk: Checker, tp: KeyPath, body: Any) -> dict[str, Any] | None:
    if not chk.is_type(tp, body, dict, "a mapping with url (the name of the secret holding the webhook URL)"):
        return None
    chk.keys(tp, ("url", "channel", "username", "timeoutSeconds"))
    url = _secret(chk, tp, "url", required=True, what="the Slack incoming-webhook URL (a credential)")
    channel = _text(chk, tp, "channel", 80)
    username = _text(chk, tp, "username", 80)
    return {"url": url, "channel": channel, "username": username, "timeoutSeconds": _timeout(chk, tp, "slack")}


def _email(chk: Checker, tp: KeyPath, body: Any) -> dict[str, Any] | None:
    if not chk.is_type(tp, body, dict, "a mapping with to, from and host"):
        return None
    chk.keys(tp, ("to", "from", "host", "port", "starttls", "insecure", "caFile", "username", "password",
                  "timeoutSeconds"))
    to = chk.get(tp, "to", (list, str), required=True, what="a list of email addresses")
    recipients: list[str] = []
    if isinstance(to, str):
        if _address(chk, tp + ("to",), to):
            recipients.append(to)
    for i, address in enumerate(to if isinstance(to, list) else []):
        if _address(chk, tp + ("to", i), address):
            recipients.append(address)
    if to is not None and not to:
        chk.error(tp + ("to",), "give at least one recipient")
    if len(recipients) > MAX_EMAIL_RECIPIENTS:
        chk.error(tp + ("to",), f"at most {MAX_EMAIL_RECIPIENTS} recipients, got {len(recipients)}")
    sender = chk.get(tp, "from", str, required=True, what="an email address")
    if sender is not None:
        _address(chk, tp + ("from",), sender)
    host = chk.get(tp, "host", str, required=True, what="the SMTP server's host name")
    if host is not None and not HOST_NAME.fullmatch(host):
        chk.error(tp + ("host",), f"invalid host name '{host}'")
    port = chk.get(tp, "port", int, default=SMTP_SUBMISSION_PORT)
    if port is not None and not 1 <= port <= 65535:
        chk.error(tp + ("port",), f"port must be between 1 and 65535, got {port}")
    starttls = chk.get(tp, "starttls", bool, default=True)
    insecure = chk.get(tp, "insecure", bool, default=False)
    if starttls is False and not insecure:
        chk.error(tp + ("starttls",), "starttls: false sends the password and the message in clear text; add "
                                      "`insecure: true` as well if this is a local test relay")
    ca_file = chk.get(tp, "caFile", str)
    if ca_file is not None and starttls is False:
        chk.error(tp + ("caFile",), "caFile is used only with starttls: true")
    elif ca_file is not None and not ca_file.startswith("/"):
        chk.error(tp + ("caFile",), f"caFile must be an absolute path (the daemon reads it), got '{ca_file}'")
    username = chk.get(tp, "username", str)
    password = _secret(chk, tp, "password", required=False, what="the SMTP password")
    if username is not None and password is None and "password" not in chk.at(tp):
        chk.error(tp, "username needs password: the name of the secret holding the SMTP password")
    if password is not None and username is None:
        chk.error(tp, "password needs username")
    if password is not None and starttls is False:
        chk.error(tp + ("password",), "refusing to log in without STARTTLS: the password would cross the network "
                                      "in clear text")
    return {"to": recipients, "from": sender, "host": host, "port": port, "starttls": starttls,
            "insecure": insecure, "caFile": ca_file, "username": username, "password": password,
            "timeoutSeconds": _timeout(chk, tp, "email")}


def _command(chk: Checker, tp: KeyPath, body: Any) -> dict[str, Any] | None:
    if isinstance(body, list):
        argv_path, timeout = tp, float(DEFAULT_TIMEOUT["command"])
        argv = body
    elif isinstance(body, dict):
        chk.keys(tp, ("argv", "timeoutSeconds"))
        argv = chk.get(tp, "argv", list, required=True, what="a list of strings: the program and its arguments")
        argv_path, timeout = tp + ("argv",), _timeout(chk, tp, "command")
        if argv is None:
            return None
    else:
        chk.is_type(tp, body, (list, dict), "a list of strings (the program and its arguments) or a mapping with argv")
        return None
    if not argv:
        chk.error(argv_path, "give the program to run: an empty argv")
        return None
    ok = True
    for i, arg in enumerate(argv):
        if not chk.is_type(argv_path + (i,), arg, str):
            ok = False
        elif "\x00" in arg:
            chk.error(argv_path + (i,), "an argument cannot contain a NUL character")
            ok = False
    if ok and not argv[0]:
        chk.error(argv_path + (0,), "the program name is empty")
    return {"argv": list(argv), "timeoutSeconds": timeout}


def _commit_status(chk: Checker, tp: KeyPath, body: Any) -> dict[str, Any] | None:
    if not chk.is_type(tp, body, dict, "a mapping with provider, repository and token"):
        return None
    chk.keys(tp, ("provider", "api", "repository", "token", "context", "timeoutSeconds"))
    provider = chk.get(tp, "provider", str, required=True, what="github or gitlab")
    if provider is not None and not chk.one_of(tp + ("provider",), provider, PROVIDERS, "provider"):
        provider = None
    api = _url(chk, tp, "api", required=False, https_only=True)
    if api is None and provider is not None:
        api = DEFAULT_API[provider]
    repository = chk.get(tp, "repository", (str, int), required=True,
                         what="OWNER/NAME (GitHub) or a project id or path (GitLab)")
    if repository is not None and provider is not None:
        repository = str(repository)
        pattern = GITHUB_REPOSITORY if provider == "github" else GITLAB_PROJECT
        if not pattern.fullmatch(repository):
            want = "OWNER/NAME" if provider == "github" else "a numeric project id or a path GROUP/PROJECT"
            chk.error(tp + ("repository",), f"invalid {provider} repository '{repository}': expected {want}")
    token = _secret(chk, tp, "token", required=True, what="the API token")
    context = _text(chk, tp, "context", MAX_CONTEXT)
    return {"provider": provider, "api": (api or "").rstrip("/"), "repository": repository, "token": token,
            "context": context, "timeoutSeconds": _timeout(chk, tp, "commitStatus")}


_CHECKS = {"webhook": _webhook, "slack": _slack, "email": _email, "command": _command, "commitStatus": _commit_status}


# -- shared pieces

def _secret(chk: Checker, tp: KeyPath, key: str, *, required: bool, what: str) -> str | None:
    """A secret reference `name` or `name:json-key`; never the credential itself."""
    value = chk.get(tp, key, str, required=required, what=f"the name of a secret holding {what}")
    if value is None:
        return None
    kp = tp + (key,)
    if "://" in value or LOOKS_LIKE_A_TOKEN.match(value):
        chk.error(kp, f"{key} names a secret in the secret store, not the value itself (it is a credential); "
                      f"store it with `conveyor secret set NAME` and write NAME here")
        return None
    name, _, json_key = value.partition(":")
    if not NAME_RE.fullmatch(name) or (value.count(":") and (not json_key or ":" in json_key)):
        chk.error(kp, f"invalid secret reference '{value}': expected NAME or NAME:json-key, NAME of 1 to 512 of "
                      "A-Z a-z 0-9 / _ + = . @ -")
        return None
    return value


def _url(chk: Checker, tp: KeyPath, key: str, *, required: bool, https_only: bool = False) -> str | None:
    value = chk.get(tp, key, str, required=required, what="a URL")
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        chk.error(tp + (key,), f"invalid URL '{value}': {exc}")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        chk.error(tp + (key,), f"expected an http or https URL with a host, got '{value}'")
        return None
    if https_only and parts.scheme == "http" and not _is_loopback(parts.hostname):
        chk.error(tp + (key,), f"expected an https URL (the request carries a token), got '{value}'; plain http "
                               "is accepted only to this machine (127.0.0.1, localhost)")
        return None
    if parts.username or parts.password:
        chk.error(tp + (key,), "a URL with credentials in it: put credentials in the secret store, not the file")
        return None
    if any(c.isspace() or ord(c) < 32 for c in value):
        chk.error(tp + (key,), "a URL cannot contain spaces or control characters")
        return None
    return value


def _headers(chk: Checker, tp: KeyPath) -> dict[str, str]:
    headers = chk.get(tp, "headers", dict, default={})
    out: dict[str, str] = {}
    if len(headers) > MAX_HEADERS:
        chk.error(tp + ("headers",), f"at most {MAX_HEADERS} headers, got {len(headers)}")
    for name, value in headers.items():
        hp = tp + ("headers", name)
        if not HEADER_NAME.fullmatch(str(name)):
            chk.error(hp, f"invalid header name '{name}'")
            continue
        if name.lower() in RESERVED_HEADERS or name.lower().startswith(RESERVED_HEADER_PREFIX):
            chk.error(hp, f"header '{name}' is set by Conveyor itself")
            continue
        if not chk.is_type(hp, value, str):
            continue
        if any(ord(c) < 32 and c != "\t" for c in value) or "\x7f" in value:
            chk.error(hp, "a header value cannot contain control characters (CR, LF…)")
            continue
        out[name] = value
    return out


def _text(chk: Checker, tp: KeyPath, key: str, limit: int) -> str | None:
    value = chk.get(tp, key, str)
    if value is not None and not (1 <= len(value) <= limit and value.isprintable()):
        chk.error(tp + (key,), f"expected 1 to {limit} printable characters")
        return None
    return value


def _timeout(chk: Checker, tp: KeyPath, kind: str) -> float:
    value: float = chk.get(tp, "timeoutSeconds", (int, float), default=DEFAULT_TIMEOUT[kind])
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        chk.error(tp + ("timeoutSeconds",), f"timeoutSeconds must be more than 0 and at most {MAX_TIMEOUT_SECONDS}, "
                                            f"got {value}")
        return DEFAULT_TIMEOUT[kind]
    return value


def _address(chk: Checker, path: KeyPath, value: Any) -> bool:
    if not chk.is_type(path, value, str, "an email address"):
        return False
    if not EMAIL_ADDRESS.fullmatch(value):
        chk.error(path, f"invalid email address '{value}': expected local@domain")
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
