"""The commitStatus target: the execution's state on the commit it built, on GitHub or GitLab.

    CommitStatusTarget(spec, credentials).send(message)   # "github: pending on abc1234 (HTTP 201)"

Only pipeline-execution-* events set a status; any other event is "not applicable" and counts as
delivered (a rule may route everything to every target). The commit is the event's
`detail.revision.commit`; an execution without one (not from git) is not applicable either.

    event                          GitHub state   GitLab state
    pipeline-execution-started     pending        running
    pipeline-execution-resumed     pending        running
    pipeline-execution-succeeded   success        success
    pipeline-execution-failed      failure        failed
    pipeline-execution-canceled    error          canceled
    pipeline-execution-superseded  error          canceled

GitHub (REST "Create a commit status"): POST {api}/repos/{owner}/{repo}/statuses/{sha} with
{state, description (at most 140 characters), context, target_url when the dashboard link is
known}; headers `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
`X-GitHub-Api-Version: 2022-11-28`; 201 Created. A later status with the same context replaces
the earlier one in the UI. GitHub answers a rate limit with 403 or 429: both are retried.

GitLab ("Set the pipeline status of a commit"): POST {api}/projects/{id}/statuses/{sha} (id: the
number or the URL-encoded path) with {state, name, description, target_url, ref (the branch)};
header `PRIVATE-TOKEN: <token>`.

The context/name is the target's `context`, by default `conveyor/<pipeline>`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping
from urllib.parse import quote

from conveyor.notify.target import DeliveryError, Message
from conveyor.notify.targets.credentials import Credentials
from conveyor.notify.targets.http import HttpResult, post, short

GITHUB_STATES = {"pipeline-execution-started": "pending", "pipeline-execution-resumed": "pending",
                 "pipeline-execution-succeeded": "success", "pipeline-execution-failed": "failure",
                 "pipeline-execution-canceled": "error", "pipeline-execution-superseded": "error"}
GITLAB_STATES = {"pipeline-execution-started": "running", "pipeline-execution-resumed": "running",
                 "pipeline-execution-succeeded": "success", "pipeline-execution-failed": "failed",
                 "pipeline-execution-canceled": "canceled", "pipeline-execution-superseded": "canceled"}
DESCRIPTION_LIMIT = 140          # GitHub's limit; GitLab takes more, one limit keeps them alike
COMMIT = re.compile(r"[0-9a-f]{7,64}")
GITHUB_API_VERSION = "2022-11-28"


def github_request(spec: Mapping[str, Any], sha: str, token: str) -> tuple[str, dict[str, str]]:
    owner, repo = spec["repository"].split("/", 1)
    url = f"{spec['api']}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}/statuses/{sha}"
    return url, {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": GITHUB_API_VERSION, "Content-Type": "application/json"}


def gitlab_request(spec: Mapping[str, Any], sha: str, token: str) -> tuple[str, dict[str, str]]:
    url = f"{spec['api']}/projects/{quote(str(spec['repository']), safe='')}/statuses/{sha}"
    return url, {"PRIVATE-TOKEN": token, "Content-Type": "application/json"}


def description(message: Message) -> str:
    text = " ".join((message.event.summary or message.event.type).split())
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def api_message(result: HttpResult) -> str:
    """The API's own error message ({"message": "Bad credentials"}), nothing else of the body."""
    try:
        data = json.loads(result.text)
    except ValueError:
        return ""
    said = data.get("message") if isinstance(data, dict) else None
    return short(said, 120) if isinstance(said, str) else ""


def rate_limited(result: HttpResult) -> bool:
    return result.status == 403 and (result.headers.get("x-ratelimit-remaining") == "0"
                                     or "rate limit" in result.text.lower())


class CommitStatusTarget:
    kind = "commitStatus"

    def __init__(self, spec: Mapping[str, Any], credentials: Credentials):
        self.spec = spec
        self.credentials = credentials

    def send(self, message: Message) -> str:
        event, provider = message.event, self.spec["provider"]
        states = GITHUB_STATES if provider == "github" else GITLAB_STATES
        if event.type not in states:
            return f"not applicable: {event.type} sets no commit status"
        revision = event.detail.get("revision")
        sha = str(revision.get("commit") or "") if isinstance(revision, Mapping) else ""
        if not COMMIT.fullmatch(sha.lower()):
            return "not applicable: the execution has no git commit"
        state = states[event.type]
        context = self.spec.get("context") or f"conveyor/{event.subject.pipeline}"
        body: dict[str, Any] = {"state": state, "description": description(message)}
        dashboard = message.links.get("dashboard", "")
        if dashboard.startswith(("https://", "http://")):
            body["target_url"] = dashboard
        token = self.credentials.get(self.spec["token"], f"the {provider} token")
        if provider == "github":
            body["context"] = context
            url, headers = github_request(self.spec, sha, token)
        else:
            body["name"] = context
            if isinstance(revision, Mapping) and revision.get("branch"):
                body["ref"] = str(revision["branch"])
            url, headers = gitlab_request(self.spec, sha, token)
        try:
            result = post(url, json.dumps(body).encode(), headers, timeout=float(self.spec["timeoutSeconds"]),
                          explain=api_message, retry_if=rate_limited)
        except DeliveryError as exc:
            raise self.credentials.error(DeliveryError(f"{provider} status {state} on {sha[:7]}: {exc}",
                                                       retry=exc.retry)) from None
        return self.credentials.mask(f"{provider}: {state} on {sha[:7]} as {context} (HTTP {result.status})")
