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
#: The default image CodeBuild actions run in: a Debian root filesystem with what buildspecs
#: call, a `docker` client (it drives the host's engine through a mounted API socket) and the
#: `aws` shim (stack/aws_shim.py). Debian's Essential packages (coreutils, tar, gzip, grep, sed,
#: findutils, diffutils, …) come with every root filesystem; these are added to them.
BUILD_IMAGE = "localhost/conveyor/build:latest"
