"""Each host's payloads and proofs, as pure functions (conveyor.server.hook_payloads)."""

from __future__ import annotations

from webhook_examples import (
    ZERO,
    bitbucket_pull_request,
    bitbucket_push,
    body,
    github_ping,
    github_pull_request,
    github_push,
    gitlab_merge_request,
    gitlab_push,
    hub_signature,
)

from conveyor.server.hook_payloads import (
    HOSTS,
    Ignored,
    Ping,
    PullRequest,
    Push,
    Repo,
    match_repositories,
    sign_generic,
)

SECRET = "It's a Secret to Everybody"


def events(host: str, payload: dict, **headers: str):
    return HOSTS[host].events({k.replace("_", "-"): v for k, v in headers.items()}, payload)


def test_github_push_tag_ping_and_pull_requests():
    [push] = events("github", github_push(), x_github_event="push")
    urls = ("https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git",
            "git://github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Hello-World")
    assert push == Push(Repo(urls, "Codertocat/Hello-World"),
                        "refs/heads/main", "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    [tag] = events("github", github_push(ref="refs/tags/simple-tag", before=ZERO), x_github_event="push")
    assert (tag.ref, tag.before) == ("refs/tags/simple-tag", ZERO)
    assert events("github", github_ping(), x_github_event="ping") == [Ping()]
    [pr] = events("github", github_pull_request("synchronize"), x_github_event="pull_request")
    assert isinstance(pr, PullRequest)
    assert (pr.number, pr.event, pr.source_branch, pr.target_branch, pr.head, pr.head_ref) == (
        2, "UPDATED", "changes", "main", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "refs/pull/2/head")
    assert [e.event for e in events("github", github_pull_request("reopened"), x_github_event="pull_request")] == [
        "OPEN"]
    assert events("github", github_pull_request("labeled"), x_github_event="pull_request") == [
        Ignored("pull_request action 'labeled'")]
    assert events("github", {}, x_github_event="issues") == [Ignored("event 'issues'")]


def test_gitlab_push_tag_push_and_merge_requests():
    [push] = events("gitlab", gitlab_push())
    assert (push.ref, push.after, push.repo.full_name) == (
        "refs/heads/master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "mike/diaspora")
    assert "http://example.com/mike/diaspora.git" in push.repo.urls
    [tag] = events("gitlab", gitlab_push(ref="refs/tags/v1.0.0", before=ZERO))
    assert tag.ref == "refs/tags/v1.0.0"
    [mr] = events("gitlab", gitlab_merge_request())
    assert (mr.number, mr.event, mr.source_branch, mr.target_branch, mr.base, mr.head_ref) == (
        1, "OPEN", "ms-viewport", "master", "refs/heads/master", "refs/merge-requests/1/head")
    assert events("gitlab", gitlab_merge_request("update")) == [Ignored("merge request action 'update'")]  # no oldrev
    assert [e.event for e in events("gitlab", gitlab_merge_request("update", oldrev="a" * 40))] == ["UPDATED"]
    assert [e.event for e in events("gitlab", gitlab_merge_request("merge"))] == ["CLOSED"]
    assert events("gitlab", gitlab_merge_request("approved")) == [Ignored("merge request action 'approved'")]


def test_bitbucket_push_with_several_changes_and_pull_requests():
    a, b = "a" * 40, "b" * 40
    found = events("bitbucket", bitbucket_push([("branch", "master", a, b), ("tag", "v1", None, b),
                                                ("branch", "old", a, None)]), x_event_key="repo:push")
    assert found == [Push(Repo(("https://bitbucket.org/team_name/repo_name",), "team_name/repo_name"),
                          "refs/heads/master", a, b),
                     Push(Repo(("https://bitbucket.org/team_name/repo_name",), "team_name/repo_name"),
                          "refs/tags/v1", ZERO, b),
                     Ignored("refs/heads/old deleted")]
    [pr] = events("bitbucket", bitbucket_pull_request(), x_event_key="pullrequest:created")
    assert (pr.number, pr.event, pr.head, pr.base, pr.target_branch) == (1, "OPEN", "d3022fc0ca3d", "ce5965ddd289",
                                                                         "master")
    assert [e.event for e in events("bitbucket", bitbucket_pull_request(),
                                    x_event_key="pullrequest:fulfilled")] == ["CLOSED"]


def test_github_and_bitbucket_signatures_are_the_hmac_of_the_raw_body():
    data = body(github_push())
    good = hub_signature(SECRET, data)
    github, bitbucket = HOSTS["github"].verify, HOSTS["bitbucket"].verify
    assert github({"x-hub-signature-256": good}, data, SECRET, 0)
    assert not github({"x-hub-signature-256": good}, data + b" ", SECRET, 0)  # tampered body
    assert not github({"x-hub-signature-256": good}, data, "another secret", 0)
    assert not github({"x-hub-signature-256": good.replace("sha256=", "sha1=")}, data, SECRET, 0)
    assert not github({}, data, SECRET, 0)
    assert bitbucket({"x-hub-signature": good}, data, SECRET, 0)
    assert not bitbucket({"x-hub-signature-256": good}, data, SECRET, 0)  # Bitbucket's header is X-Hub-Signature


def test_the_documented_github_example_signature():
    """GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!"."""
    assert hub_signature(SECRET, b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    assert HOSTS["github"].verify({"x-hub-signature-256": hub_signature(SECRET, b"Hello, World!")},
                                  b"Hello, World!", SECRET, 0)


def test_gitlab_token_and_generic_timestamped_signature():
    gitlab, generic = HOSTS["gitlab"].verify, HOSTS["generic"].verify
    assert gitlab({"x-gitlab-token": SECRET}, b"{}", SECRET, 0)
    assert not gitlab({"x-gitlab-token": SECRET + "x"}, b"{}", SECRET, 0)
    assert not gitlab({}, b"{}", SECRET, 0)
    data = b'{"repository": "/srv/app.git"}'
    headers = {"x-conveyor-timestamp": "1700000000", "x-conveyor-signature-256": sign_generic(SECRET, 1700000000, data)}
    assert generic(headers, data, SECRET, 1700000000)
    # a timestamp other than the one signed
    assert not generic({**headers, "x-conveyor-timestamp": "1700000001"}, data, SECRET, 1700000000)


def test_a_delivery_id_per_host():
    assert HOSTS["github"].delivery({"x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}) == \
        "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert HOSTS["gitlab"].delivery({"x-gitlab-event-uuid": "u", "idempotency-key": "k"}) == "k"
    assert HOSTS["gitlab"].delivery({"x-gitlab-event-uuid": "u"}) == "u"
    assert HOSTS["bitbucket"].delivery({"x-request-uuid": "r"}) == "r"
    assert HOSTS["generic"].delivery({}) is None


def test_a_payload_is_matched_to_registered_repositories_by_url_then_by_owner_and_name():
    registered = ["https://github.com/Codertocat/Hello-World", "/srv/git/acme/app.git", "/srv/git/other/app.git",
                  "git@example.com:mike/diaspora.git"]
    urls = ("https://github.com/Codertocat/Hello-World.git", "git@github.com:Codertocat/Hello-World.git")
    assert match_repositories(registered, Repo(urls, "Codertocat/Hello-World")) == [registered[0]]
    assert match_repositories(registered, Repo(("https://github.com/acme/app.git",), "acme/app")) == [registered[1]]
    assert match_repositories(registered, Repo(("http://example.com/mike/diaspora.git",), "mike/diaspora")) == [
        registered[3]]
    assert match_repositories(registered, Repo((), "nobody/app")) == []
    assert match_repositories(["/a/x/app", "/b/x/app"], Repo((), "x/app")) == []  # ambiguous: none
    assert match_repositories(["/srv/git/acme/app.git"], Repo(("/srv/git/acme/app",), None)) == [
        "/srv/git/acme/app.git"]
