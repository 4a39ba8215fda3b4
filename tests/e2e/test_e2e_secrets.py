"""Secrets through the real daemon and CLI: set from stdin, listed without values, stored
encrypted, and masked in action logs and API answers."""

from __future__ import annotations

import base64
import textwrap
from urllib.parse import quote, quote_plus

import pytest
from e2e_support import action, git, pipeline_repo, wait_until
from stack_support import stack_missing

VALUE = "s3cr3t-Value-42"


def test_secret_set_ls_rm_and_masking(tmp_path, daemon):
    daemon("secret", "set", "db/password", input=VALUE + "\n")
    listed = daemon.json("secret", "ls")
    assert [r["name"] for r in listed] == ["db/password"]
    assert VALUE not in str(listed)
    assert VALUE.encode() not in (daemon.home / "secrets.db").read_bytes()
    assert (daemon.home / "secrets.key").stat().st_mode & 0o777 == 0o600

    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent(f"""\
        name: leaky
        allowHostCommands: true
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {{name: Source, provider: Git, outputArtifacts: [src]}}
            - name: Leak
              actions:
                - name: Echo
                  provider: Command
                  command: [sh, -c, "echo the password is {VALUE}; echo V={VALUE} >> $CONVEYOR_OUTPUT_ENV"]
                  inputArtifacts: [src]
        """))
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] == "Succeeded" and e, 60)
    logs = daemon("logs", ex["id"]).stdout
    assert "the password is ***" in logs and VALUE not in logs
    assert action(done, "Leak", "Echo")["variables"] == {"V": "***"}
    assert VALUE not in daemon("status", ex["id"], "--json").stdout
    assert VALUE not in (daemon.home / "daemon.log").read_text()

    daemon("secret", "rm", "db/password")
    assert daemon.json("secret", "ls") == []
    missing = daemon("secret", "rm", "db/password", check=False)
    assert missing.returncode == 2 and "db/password" in missing.stderr


def test_secret_value_never_comes_from_an_argument(daemon):
    done = daemon("secret", "set", "x", VALUE, check=False)
    assert done.returncode == 2
    empty = daemon("secret", "set", "x", input="", check=False)
    assert empty.returncode == 2 and "no value on standard input" in empty.stderr


TOKEN = "tok3n Value/42+x"  # a space, a slash and a plus: its URL-encodings differ from it
MASKING_BUILDSPEC = textwrap.dedent("""\
    version: 0.2
    env:
      secrets-manager:
        PW: ci/token
    phases:
      build:
        commands:
          - head -c 65530 /dev/zero | tr '\\0' x; printf '%s' "$PW"; head -c 65520 /dev/zero | tr '\\0' y; echo "$PW"
          - echo "basic $(printf 'ci-bot:%s' "$PW" | base64 -w0) and $(printf 'ab:%s' "$PW" | base64 -w0)"
          - echo "alone $(printf '%s' "$PW" | base64 -w0)"
          - echo "hex $(printf '%s' "$PW" | od -An -tx1 | tr -d ' \\n')"
          - echo "HEX $(printf '%s' "$PW" | od -An -tx1 | tr -d ' \\n' | tr a-f A-F)"
          - python3 -c 'import os, urllib.parse as u; v=os.environ["PW"]; print("url", u.quote(v, ""), u.quote_plus(v))'
          - echo end of build
    """)


@pytest.mark.podman
def test_a_store_secret_is_masked_in_build_output_across_chunks_and_encoded(tmp_path, daemon, build_image):
    """The value comes from the secret store into a real build container (env.secrets-manager),
    which prints it across both 64 KiB boundaries of one long line and in its encoded forms."""
    daemon("secret", "set", "ci/token", input=TOKEN)
    repo = pipeline_repo(tmp_path / "repo", textwrap.dedent("""\
        name: masked
        pipeline:
          pollIntervalSeconds: 0
          stages:
            - name: Source
              actions:
                - {name: Source, provider: Git, outputArtifacts: [src]}
            - name: Build
              actions:
                - {name: Build, provider: CodeBuild, inputArtifacts: [src]}
        """))
    (repo / "buildspec.yml").write_text(MASKING_BUILDSPEC)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "buildspec", cwd=repo)
    ex = daemon.json("run", "--repo", str(repo))
    done = wait_until(lambda: (e := daemon.execution(ex["id"]))["status"] != "InProgress" and e, 180)
    assert done["status"] == "Succeeded", done.get("reason")
    logs = daemon("logs", ex["id"]).stdout
    assert "end of build" in logs
    raw = TOKEN.encode()
    leaked = [form for form in (TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN), raw.hex(), raw.hex().upper(),
                                base64.b64encode(raw).decode(), base64.b64encode(b"ci-bot:" + raw).decode()[8:-4],
                                base64.b64encode(b"ab:" + raw).decode()[4:-4]) if form in logs]
    assert leaked == []
    flat = logs.replace("\n", "")
    assert "x" * 1000 + "***" + "y" * 1000 in flat and flat.count("y" * 65520 + "***") == 1
    for shown in ("alone ***", "hex ***", "HEX ***", "url *** ***"):
        assert shown in logs
    assert (daemon.home / "secrets.key").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def build_image():
    from conveyor.images import BUILD_IMAGE
    from conveyor.providers.local.containers import detect_engine, image_exists

    if not image_exists(detect_engine(), BUILD_IMAGE):
        stack_missing(f"{BUILD_IMAGE} is missing")
