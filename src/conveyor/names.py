"""Names and values that end up in a shell, an env-file or a git argv: what each may hold, and a
message naming the rule when it does not. Each check returns the problem (a phrase that fits after
"environment variable 'X' ") or None, so config checkers can place it at file:line:col and
runtime code can raise it.

    check_shell_env_name("A;touch /tmp/x;B")
    # "is not a valid name: use letters, digits and _, not starting with a digit (the build …"
    check_git_ref("--upload-pack=x")     # "starts with '-' …"
    check_commit("3f2c")                 # None

Sources:
  * CodeBuild exports buildspec `env.variables`, `parameter-store`, `secrets-manager` and the
    project/StartBuild environment variables into the build's shell, and `exported-variables`
    are read back from it (buildspec reference, "env"); the CodeBuild API itself only requires a
    name of length >= 1 (EnvironmentVariable.name). A POSIX shell variable name is
    `[A-Za-z_][A-Za-z0-9_]*` (POSIX.1-2017 XBD 3.235 "Name"), so that is the rule.
  * CodePipeline action environment variables (EnvironmentVariable, CodePipeline API reference):
    name pattern `[A-Za-z0-9_]+`, length 1-128; value length 1-2000.
  * ECS container `environment` / `secrets` names (KeyValuePair, Secret in the ECS API reference)
    carry no pattern; what podman/Docker can pass is a name without `=` or NUL, and podman's
    --env-file reads one NAME=VALUE per line, skips lines starting with `#` and refuses names
    with whitespace — so those are refused too.
  * git refs: `git check-ref-format` rules (git-check-ref-format(1)); a commit is 4-40 (SHA-1)
    or 64 (SHA-256) hex digits. Nothing may start with `-` (it would be read as an option).
"""

from __future__ import annotations

import re

SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PIPELINE_ENV_NAME = re.compile(r"[A-Za-z0-9_]+")  # CodePipeline EnvironmentVariable.name
PIPELINE_ENV_NAME_MAX = 128
PIPELINE_ENV_VALUE_MAX = 2000
COMMIT = re.compile(r"[0-9a-fA-F]{4,40}|[0-9a-fA-F]{64}")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

SHELL_RULE = "use letters, digits and _, not starting with a digit"


def check_shell_env_name(name: str) -> str | None:
    """A variable the build shell will hold (buildspec env, overrides, exported-variables).

    >>> check_shell_env_name("IMAGE_TAG") is None
    True
    >>> check_shell_env_name("9LIVES").startswith("is not a valid name: use letters, digits and _")
    True
    """
    if not isinstance(name, str) or not SHELL_NAME.fullmatch(name):
        return f"is not a valid name: {SHELL_RULE} (CodeBuild exports it into the build shell)"
    return None


def check_pipeline_env_name(name: str) -> str | None:
    """A CodePipeline action environment variable name (`[A-Za-z0-9_]+`, 1-128)."""
    if not isinstance(name, str) or not PIPELINE_ENV_NAME.fullmatch(name):
        return "is not a valid name: CodePipeline allows letters, digits and _ ([A-Za-z0-9_]+)"
    if len(name) > PIPELINE_ENV_NAME_MAX:
        return f"is {len(name)} characters long; CodePipeline allows at most {PIPELINE_ENV_NAME_MAX}"
    return None


def check_container_env_name(name: str) -> str | None:
    """A name for a task's container environment (ECS `environment`/`secrets`), as podman takes it.

    >>> check_container_env_name("A\\nB=1")
    'holds a newline, which would start another variable in the env-file'
    """
    if not isinstance(name, str) or not name:
        return "is empty"
    if "\0" in name:
        return "holds a NUL byte"
    if "\n" in name or "\r" in name:
        return "holds a newline, which would start another variable in the env-file"
    if "=" in name:
        return "holds '=', which ends a variable name"
    if any(c.isspace() for c in name):
        return "holds whitespace, which podman refuses in a variable name"
    if name.startswith("#"):
        return "starts with '#', which podman's env-file reads as a comment"
    return None


def check_container_env_value(value: str) -> str | None:
    """A value podman's --env-file can carry: one line, no NUL."""
    if "\0" in value:
        return "has a value holding a NUL byte, which no process environment can carry"
    if "\n" in value or "\r" in value:
        return "has a value with a newline, which cannot be passed to the container"
    return None


def check_commit(commit: str) -> str | None:
    """A commit id given to git: 4-40 or 64 hex digits.

    >>> check_commit("--output=/tmp/x")
    "'--output=/tmp/x' is not a commit id: expected 4-40 (or 64) hex digits"
    """
    if isinstance(commit, str) and COMMIT.fullmatch(commit):
        return None
    return f"{commit!r} is not a commit id: expected 4-40 (or 64) hex digits"


def check_git_ref(ref: str, *, branch: bool = True) -> str | None:
    """A branch (or full ref) name by git-check-ref-format's rules, and never an option.

    >>> check_git_ref("release/1.2") is None
    True
    >>> check_git_ref("--upload-pack=touch /tmp/x")
    "'--upload-pack=touch /tmp/x' is not a valid git ref: it starts with '-'"
    """
    def bad(why: str) -> str:
        return f"{ref!r} is not a valid git ref: {why}"

    if not isinstance(ref, str) or not ref:
        return bad("it is empty")
    if ref.startswith("-"):
        return bad("it starts with '-'")
    if ref == "@":
        return bad("'@' alone is not a ref")
    found = _REF_FORBIDDEN.search(ref)
    if found:
        return bad(f"it holds {found.group()!r} (control characters, space, ~ ^ : ? * [ \\ are not allowed)")
    if ".." in ref or "@{" in ref or "//" in ref:
        return bad("it holds '..', '@{' or '//'")
    if ref.startswith("/") or ref.endswith("/") or ref.endswith("."):
        return bad("it starts or ends with '/', or ends with '.'")
    for part in ref.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return bad("a component starts with '.' or ends with '.lock'")
    if branch and ref == "HEAD":
        return bad("HEAD is not a branch name")
    return None
