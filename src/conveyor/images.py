"""The names of the images Conveyor builds locally (`conveyor setup`), for the code that runs them:
builds, the demo, tests. How they are built is conveyor.stack's business.

    >>> BASE_IMAGE, BUILD_IMAGE
    ('localhost/conveyor/python:3-slim', 'localhost/conveyor/build:latest')
"""

#: The Python base image services and builds start FROM when no registry is reachable.
BASE_IMAGE = "localhost/conveyor/python:3-slim"
#: A tiny FROM-scratch image (busybox-static): probes and tests that need a shell.
BUSYBOX_IMAGE = "localhost/conveyor/busybox:latest"
#: Where BASE_IMAGE comes from when pulls work.
UPSTREAM_PYTHON_IMAGE = "docker.io/library/python:3.12-slim"
#: The default image CodeBuild actions run in: the standard build image (stack/standard_image.py,
#: docs/build-images.md), modelled on CodeBuild's standard image — Node 18/20/22, OpenJDK 17,
#: Go, Ruby, PHP, Python with their package managers, a C toolchain, the real AWS CLI behind the
#: `aws` shim (stack/aws_shim.py), and a `docker` client that drives the host's engine through a
#: mounted API socket. Its label `io.conveyor.runtimes` is the runtime catalog
#: (build/runtime_catalog.py) that `runtime-versions` selects from.
BUILD_IMAGE = "localhost/conveyor/build:latest"
#: Local stand-ins for the slim runtime images services start FROM (node:20-slim, a Java 17
#: JRE), built by `conveyor setup` from BASE_IMAGE plus the runtime taken from BUILD_IMAGE, so a
#: service image is a few hundred MB rather than the whole build image (stack/service_images.py).
NODE_IMAGE = "localhost/conveyor/node:20-slim"
JRE_IMAGE = "localhost/conveyor/java:17-jre"
