"""Secrets through the real daemon and CLI: set from stdin, listed without values, stored
encrypted, and masked in action logs and API answers."""

from __future__ import annotations

import textwrap

from e2e_support import action, pipeline_repo, wait_until

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
