"""Webhook payloads in the shape of each git host's documented examples (GitHub's
Codertocat/Hello-World, GitLab's mike/diaspora and gitlabhq/gitlab-test, Bitbucket Cloud's
repo:push and pullrequest:created), trimmed to the fields a receiver reads plus a few it must
ignore. `repo_url` and the commit ids are filled in by tests that push a real repository."""

from __future__ import annotations

import hashlib
import hmac
import json

ZERO = "0" * 40


def github_push(ref: str = "refs/heads/main", before: str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                after: str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                full_name: str = "Codertocat/Hello-World",
                clone_url: str = "https://github.com/Codertocat/Hello-World.git") -> dict:
    owner, name = full_name.split("/")
    return {
        "ref": ref, "before": before, "after": after, "created": before == ZERO, "deleted": after == ZERO,
        "forced": False, "base_ref": None, "compare": f"https://github.com/{full_name}/compare/{before[:12]}...",
        "commits": [], "head_commit": None,
        "repository": {"id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": name,
                       "full_name": full_name, "private": False,
                       "owner": {"name": owner, "login": owner, "id": 21031067},
                       "html_url": f"https://github.com/{full_name}", "clone_url": clone_url,
                       "git_url": f"git://github.com/{full_name}.git", "ssh_url": f"git@github.com:{full_name}.git",
                       "svn_url": f"https://github.com/{full_name}", "default_branch": "main"},
        "pusher": {"name": owner, "email": "21031067+Codertocat@users.noreply.github.com"},
        "sender": {"login": owner, "id": 21031067, "type": "User"},
    }


def github_ping() -> dict:
    return {"zen": "Non-blocking is better than blocking.", "hook_id": 30,
            "hook": {"type": "Repository", "id": 30, "name": "web", "active": True, "events": ["push"],
                     "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://example.com/hooks"}},
            "repository": github_push()["repository"], "sender": {"login": "Codertocat"}}


def github_pull_request(action: str = "opened", number: int = 2, head: str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                        base: str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", head_ref: str = "changes",
                        base_ref: str = "main", full_name: str = "Codertocat/Hello-World",
                        clone_url: str = "https://github.com/Codertocat/Hello-World.git") -> dict:
    repo = github_push(full_name=full_name, clone_url=clone_url)["repository"]
    return {"action": action, "number": number,
            "pull_request": {"url": f"https://api.github.com/repos/{full_name}/pulls/{number}", "id": 279147437,
                             "number": number, "state": "open" if action != "closed" else "closed",
                             "title": "Update the README with new information.", "merged": False,
                             "head": {"label": f"Codertocat:{head_ref}", "ref": head_ref, "sha": head, "repo": repo},
                             "base": {"label": f"Codertocat:{base_ref}", "ref": base_ref, "sha": base, "repo": repo}},
            "repository": repo, "sender": {"login": "Codertocat"}}


def gitlab_push(ref: str = "refs/heads/master", before: str = "95790bf891e76fee5e1747ab589903a6a1f80f22",
                after: str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", path: str = "mike/diaspora",
                http_url: str = "http://example.com/mike/diaspora.git") -> dict:
    tag = ref.startswith("refs/tags/")
    return {"object_kind": "tag_push" if tag else "push", "event_name": "tag_push" if tag else "push",
            "before": before, "after": after, "ref": ref, "ref_protected": True, "checkout_sha": after,
            "user_id": 4, "user_name": "John Smith", "user_username": "jsmith", "project_id": 15,
            "project": {"id": 15, "name": "Diaspora", "web_url": f"http://example.com/{path}",
                        "git_ssh_url": f"git@example.com:{path}.git", "git_http_url": http_url,
                        "namespace": path.split("/")[0], "path_with_namespace": path, "default_branch": "master"},
            "repository": {"name": "Diaspora", "url": f"git@example.com:{path}.git", "homepage":
                           f"http://example.com/{path}", "git_http_url": http_url,
                           "git_ssh_url": f"git@example.com:{path}.git"},
            "commits": [], "total_commits_count": 0}


def gitlab_merge_request(action: str = "open", iid: int = 1, head: str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                         source: str = "ms-viewport", target: str = "master", path: str = "gitlabhq/gitlab-test",
                         http_url: str = "http://example.com/gitlabhq/gitlab-test.git",
                         oldrev: str | None = None) -> dict:
    attrs = {"id": 99, "iid": iid, "target_branch": target, "source_branch": source, "source_project_id": 14,
             "target_project_id": 14, "title": "MS-Viewport", "state": "opened", "merge_status": "unchecked",
             "last_commit": {"id": head, "message": "fixed readme", "title": "Update file README.md"},
             "action": action}
    if oldrev:
        attrs["oldrev"] = oldrev
    return {"object_kind": "merge_request", "event_type": "merge_request", "user": {"username": "root"},
            "project": {"id": 1, "name": "Gitlab Test", "web_url": f"http://example.com/{path}",
                        "git_ssh_url": f"git@example.com:{path}.git", "git_http_url": http_url,
                        "path_with_namespace": path, "default_branch": "master"},
            "object_attributes": attrs, "labels": [], "changes": {}}


def bitbucket_repository(full_name: str = "team_name/repo_name") -> dict:
    return {"type": "repository", "full_name": full_name, "name": full_name.split("/")[1],
            "uuid": "{2b1a9a4e-0000-0000-0000-000000000000}", "is_private": True,
            "links": {"html": {"href": f"https://bitbucket.org/{full_name}"},
                      "self": {"href": f"https://api.bitbucket.org/2.0/repositories/{full_name}"}}}


def bitbucket_push(changes: list[tuple[str, str, str | None, str | None]],
                   full_name: str = "team_name/repo_name") -> dict:
    """changes: (type, name, old hash or None, new hash or None); a None new hash deletes the ref."""
    def side(kind: str, name: str, sha: str | None) -> dict | None:
        return None if sha is None else {"type": kind, "name": name, "target": {"type": "commit", "hash": sha}}

    return {"actor": {"display_name": "Emma"}, "repository": bitbucket_repository(full_name),
            "push": {"changes": [{"new": side(k, n, new), "old": side(k, n, old), "created": old is None,
                                  "closed": new is None, "forced": False, "truncated": False, "commits": []}
                                 for k, n, old, new in changes]}}


def bitbucket_pull_request(number: int = 1, head: str = "d3022fc0ca3d", base: str = "ce5965ddd289",
                           source: str = "feature", target: str = "master",
                           full_name: str = "team_name/repo_name") -> dict:
    repo = bitbucket_repository(full_name)
    return {"actor": {"display_name": "Emma"}, "repository": repo,
            "pullrequest": {"id": number, "title": "Title of pull request", "state": "OPEN",
                            "source": {"branch": {"name": source}, "commit": {"hash": head}, "repository": repo},
                            "destination": {"branch": {"name": target}, "commit": {"hash": base},
                                            "repository": repo}}}


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def hub_signature(secret: str, data: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
