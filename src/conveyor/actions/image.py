"""The `Image` action: build a container image from the primary input artifact with the host's
engine, push it to the daemon's local registry and hand on where it went, by digest.

    - name: Image
      provider: Image
      inputArtifacts: [src]
      outputArtifacts: [img]          # optional: imagedefinitions.json + imageDetail.json
      namespace: Img                  # #{Img.ImageDigest}, #{Img.ImageURI}, ...
      repository: orders
      dockerfile: Containerfile       # relative to the input artifact (Dockerfile also found)
      context: .                      # relative to the input artifact
      buildArgs: {VERSION: "#{SourceVariables.CommitId}"}
      target: runtime
      tags: [stable]                  # extra tags; the first 7 characters of the commit always
      containerName: api              # the name in imagedefinitions.json (default: repository)

Layout of one attempt (run_dir):
    source/        a writable copy of the primary input (the build context lives in it)
    auth.json      the registry credentials (0600), given to the engine with --authfile
    digest         the digest the last push reported

Builds reuse the engine's layer cache (podman build --layers is the default), so an unchanged
step is not rebuilt. Every tag is pushed to 127.0.0.1:PORT (the registry's address) under the
ECR-style name `<account>.dkr.ecr.<region>.localhost:PORT/<repository>:<tag>`. The output
variables are the ECR source action's (aws-semantics §2.7): ImageURI (by tag), ImageDigest,
ImageTag, RepositoryName, RegistryId. imagedefinitions.json (§3.2) and imageDetail.json (§3.4)
name the image by digest, so a deployment pins exactly what was built.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from pathlib import Path

from conveyor.actions.base import (
    ActionContext,
    ActionFailed,
    ActionResult,
    EngineUser,
    writable_copy,
)
from conveyor.paths import PathEscape, path_problem, resolve_inside
from conveyor.providers.local.process import CANCELLED, TIMED_OUT, Command, stream

#: How many characters of the commit id make the default tag.
SHORT_SHA = 7
#: The registry's refusal to move an immutable tag (conveyor.registry.mutability).
IMMUTABLE_RE = re.compile(r"The image tag '[^']*' already exists.*?cannot be overwritten because "
                          r"the (?:repository|tag) is immutable\.")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
#: A tag as registries accept it (OCI distribution spec).
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
NO_REGISTRY = "the local registry is not running: start the daemon's registry: conveyor setup; conveyor up"


class ImageAction(EngineUser):

    def run(self, ctx: ActionContext) -> ActionResult:
        from conveyor.registry.local import read_endpoint
        from conveyor.registry.service import LOGIN_USER, read_or_create_token

        conf = ctx.configuration
        deadline = time.monotonic() + ctx.timeout
        endpoint = read_endpoint(ctx.home) if ctx.home is not None else None
        if ctx.home is None or not endpoint:
            raise ActionFailed(NO_REGISTRY)
        repository = str(conf["repository"])
        tags = self._tags(ctx)
        source = self._source(ctx)
        context = _inside(source, str(conf.get("context") or "."), "context")
        if not context.is_dir():
            raise ActionFailed(f"context '{conf.get('context')}' is not a directory in the input artifact")
        dockerfile = self._dockerfile(source, str(conf.get("dockerfile") or "Containerfile"))

        host, address = endpoint["host"], endpoint["address"]
        refs = [f"{host}/{repository}:{tag}" for tag in tags]
        build = self.engine.build(str(context), file=str(dockerfile), tags=refs,
                                  build_args={str(k): str(v) for k, v in (conf.get("buildArgs") or {}).items()},
                                  target=conf.get("target") or None)
        self._stream(ctx, build, deadline, "build")

        token = read_or_create_token(ctx.home)
        auth = base64.b64encode(f"{LOGIN_USER}:{token}".encode()).decode()
        digest = None
        for tag, ref in zip(tags, refs, strict=True):
            pushed = self._push(ctx, ref, f"{address}/{repository}:{tag}", address, auth, deadline)
            if digest is None:
                digest = pushed
            elif pushed != digest:
                ctx.log(f"warning: tag {tag} was pushed as {pushed}, not {digest}")
        assert digest is not None

        by_digest = f"{host}/{repository}@{digest}"
        variables = {"ImageURI": refs[0], "ImageDigest": digest, "ImageTag": tags[0],
                     "RepositoryName": repository, "RegistryId": str(endpoint.get("account", ""))}
        outputs = {}
        if ctx.action.output_artifacts:
            out = ctx.new_output()
            name = conf.get("containerName") or repository
            (out / "imagedefinitions.json").write_text(json.dumps([{"name": name, "imageUri": by_digest}]))
            (out / "imageDetail.json").write_text(json.dumps({
                "ImageDigest": digest, "Version": "1.0",
                "ImagePushedAt": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
                "RegistryId": variables["RegistryId"], "RepositoryName": repository,
                "ImageURI": by_digest, "ImageTags": tags}, indent=2))
            outputs[ctx.action.output_artifacts[0]] = out
        ctx.log(f"pushed {by_digest} as {', '.join(tags)}")
        return ActionResult(outputs=outputs, variables=variables, summary=f"{repository}:{tags[0]} {digest[:19]}")

    def _tags(self, ctx: ActionContext) -> list[str]:
        commit = (ctx.revision or {}).get("commit")
        extra = [str(t) for t in (ctx.configuration.get("tags") or []) if str(t)]
        tags = ([commit[:SHORT_SHA]] if commit else []) + extra
        if not tags:
            raise ActionFailed("no tag for the image: the pipeline has no Git source commit to tag it with; "
                               "give `tags`")
        bad = [t for t in tags if not TAG_RE.match(t)]
        if bad:
            raise ActionFailed(f"invalid image tag(s) {bad}: letters, digits, '_', '.', '-' (not first), "
                               "at most 128 characters")
        return list(dict.fromkeys(tags))

    def _source(self, ctx: ActionContext) -> Path:
        primary = ctx.primary_input
        if primary is None:
            raise ActionFailed("the Image action needs an input artifact holding the build context")
        return writable_copy(primary, ctx.run_dir / "source")

    def _dockerfile(self, source: Path, name: str) -> Path:
        path = _inside(source, name, "dockerfile")
        if path.is_file():
            return path
        if name == "Containerfile" and (source / "Dockerfile").is_file():
            return _inside(source, "Dockerfile", "dockerfile")
        also = " (nor a Dockerfile)" if name == "Containerfile" else ""
        raise ActionFailed(f"dockerfile '{name}' not found in the input artifact{also}")

    def _push(self, ctx: ActionContext, ref: str, dest: str, address: str, auth: str, deadline: float) -> str:
        """Push `ref` to `dest` (on the registry's 127.0.0.1 address); return the manifest digest."""
        digest_file = ctx.run_dir / "digest"
        digest_file.unlink(missing_ok=True)
        config = {"auths": {address: {"auth": auth}}}
        if self.engine.is_podman:
            authfile = _write_private(ctx.run_dir / "auth.json", json.dumps(config))
            cmd = Command([self.engine.binary, "push", "--tls-verify=false", "--authfile", str(authfile),
                           "--digestfile", str(digest_file), ref, f"docker://{dest}"])
        else:  # docker: credentials through DOCKER_CONFIG, the digest from its output
            config_dir = ctx.run_dir / "docker-config"
            config_dir.mkdir(mode=0o700, exist_ok=True)
            _write_private(config_dir / "config.json", json.dumps(config))
            self._stream(ctx, self.engine.tag(ref, dest), deadline, "tag")
            cmd = Command([self.engine.binary, "push", dest], env={"DOCKER_CONFIG": str(config_dir)})
        try:
            lines = self._stream(ctx, cmd, deadline, "push")
        finally:  # the credentials do not stay in the kept run_dir
            (ctx.run_dir / "auth.json").unlink(missing_ok=True)
            shutil.rmtree(ctx.run_dir / "docker-config", ignore_errors=True)
        text = digest_file.read_text().strip() if digest_file.exists() else ""
        found = DIGEST_RE.search(text) or next((m for m in map(DIGEST_RE.search, reversed(lines)) if m), None)
        if not found:
            raise ActionFailed(f"pushed {dest} but the engine did not report its digest")
        return found.group(0)

    def _stream(self, ctx: ActionContext, cmd: Command, deadline: float, what: str) -> list[str]:
        lines: list[str] = []

        def on_line(line: str) -> None:
            lines.append(line)
            ctx.log(line)

        ctx.log(f"$ {cmd}")
        code = stream(cmd, on_line, cancel=ctx.cancel, timeout=max(deadline - time.monotonic(), 0.1))
        if code == TIMED_OUT:
            raise ActionFailed(f"timed out after {ctx.timeout / 60:g} minutes")
        if code == CANCELLED:
            raise ActionFailed("cancelled")
        if code != 0:
            text = "\n".join(lines)
            immutable = IMMUTABLE_RE.search(text)
            if immutable:
                raise ActionFailed(immutable.group(0))
            if what == "push" and ("connection refused" in text or "no such host" in text):
                raise ActionFailed(f"could not reach the local registry ({NO_REGISTRY})")
            last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
            reason = f"exited with code {code}" if code > 0 else f"was killed by signal {-code}"
            raise ActionFailed(f"{self.engine.name} {what} {reason}" + (f": {last}" if last else ""))
        return lines

    def cleanup(self, run_dir: Path) -> None:
        """Nothing outlives an attempt but what the engine itself finished (images, pushes)."""


def _inside(root: Path, rel: str, what: str) -> Path:
    """`root/rel` resolved; a symlink that leads out (a context linked to `/`) is refused too."""
    if path_problem(rel):
        raise ActionFailed(f"{what} '{rel}' must be a relative path inside the input artifact")
    try:
        return resolve_inside(root, rel, what)
    except PathEscape as exc:
        raise ActionFailed(str(exc)) from None


def _write_private(path: Path, text: str) -> Path:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
