"""`docker` in Conveyor's local build image: the real docker client (20.10), with what the host's
podman 4.3 behind it does differently from the Docker a buildspec was written for taken over.

Copied by `conveyor setup` into BUILD_IMAGE as this package, /usr/local/lib/conveyor/docker_wrapper/,
with the executable /usr/local/bin/docker a launcher that imports it (standard_image.launcher);
the real client (docker.io's) is /usr/local/libexec/docker-client. Standard library only: it runs
on the image's Debian python3, without Conveyor installed. Its modules import each other
relatively, so the package works as `conveyor.stack.docker_wrapper` (tests) and as the image's
top-level `docker_wrapper`. Every other invocation — other commands, a login it cannot take
over, options before the command it does not know — execs the real client with the arguments
unchanged.

Taken over (docs/docker-in-builds.md has the measurements behind each):

- `docker login` to a local registry (below).
- `docker build` / `image build`: always the classic builder (podman's API serves no BuildKit
  session: "failed to dial gRPC: unable to upgrade to h2c, received 404"), with one line on
  stderr when DOCKER_BUILDKIT asked for BuildKit; BuildKit-only flags dropped, mapped or refused
  in one line (translate_build).
- `docker buildx …`: client 20.10 has no buildx; `buildx build` is translated as above (with
  --push as build-then-push), version/ls/inspect/create/use/rm/stop are answered here (buildx).
- `docker run --rm` (not detached): run without --rm and removed afterwards, because podman 4.3
  answers the client's wait-for-removal with exit status 0 whatever the command returned.
- bind mounts of `run`/`create`: a path in this container is translated to the host's path of
  the mount that holds it, since the engine resolves bind sources on the host (translate_run).
"""
