"""What the registry tests on real podman share: the stack they need, and podman with a private
auth file that removes every name and image it made."""

from __future__ import annotations

import shutil

from stack_support import stack_missing

from conveyor.errors import ConveyorError
from conveyor.images import BUSYBOX_IMAGE
from conveyor.providers.local import containers
from conveyor.providers.local.containers import ContainerEngine
from conveyor.providers.local.process import Command, run


def need_stack():
    if shutil.which("docker-registry") is None:
        stack_missing("docker-registry is not installed; run `conveyor setup`")
    try:
        present = containers.image_exists(ContainerEngine("podman"), BUSYBOX_IMAGE)
    except ConveyorError as exc:
        stack_missing(f"podman unusable ({exc}); run `conveyor setup`")
    if not present:
        stack_missing(f"{BUSYBOX_IMAGE} is absent; run `conveyor setup` to build it")


class Podman:
    """podman with a private auth file; remembers every name it adds, to remove them."""

    def __init__(self, tmp_path, env=None):
        self.authfile = str(tmp_path / "auth.json")
        self.env = env or {}
        self.names: list[str] = []
        self.built: list[str] = []

    def __call__(self, *args: str, input: bytes | None = None):
        return run(Command(["podman", *args], env=self.env, input=input, timeout=180), check=False)

    def login(self, host: str, password: str, tls_flag: bool = True):
        flag = ["--tls-verify=false"] if tls_flag else []
        return self("login", "--authfile", self.authfile, *flag, "--username", "AWS",
                    "--password-stdin", host, input=password.encode())

    def push(self, source: str, target: str, tls_flag: bool = True, digestfile=None):
        if self("tag", source, target).ok:
            self.names.append(target)
        flag = ["--tls-verify=false"] if tls_flag else []
        extra = ["--digestfile", str(digestfile)] if digestfile else []
        return self("push", "--authfile", self.authfile, *flag, *extra, target)

    def build_changed(self, tmp_path, name: str) -> str:
        """A tiny image that differs from busybox by one file (COPY: no container runs)."""
        ctx = tmp_path / "ctx"
        ctx.mkdir(exist_ok=True)
        (ctx / "changed.txt").write_text(f"{name}\n")
        (ctx / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nCOPY changed.txt /changed.txt\n")
        ref = f"localhost/conveyor-test/registry-{name}:latest"
        assert self("build", "--quiet", "--tag", ref, str(ctx)).ok
        self.built.append(ref)
        return ref

    def cleanup(self):
        for name in self.names:  # untag only: busybox itself stays
            self("untag", name, name)
        for ref in self.built:
            self("rmi", "--force", ref)
