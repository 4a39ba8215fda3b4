"""Local stand-ins for the runtime images a service's Dockerfile starts FROM.

On AWS a Node service's Dockerfile says `FROM node:20-slim` and a Java one `FROM
eclipse-temurin:17-jre`; here no outside registry is reachable, so `conveyor setup` makes
equivalents the way it makes BASE_IMAGE for python:3.12-slim: BASE_IMAGE (Debian with glibc and
libstdc++) plus the runtime taken from the standard build image — Node 20 as the npm registry
ships it, and a JRE cut from Debian's OpenJDK 17 by jlink. Without them a service image would
have to start FROM the 2.6 GB build image, and every push would move it.

Each image carries the RECIPE_LABEL: a digest of its Containerfile and of the build image's own
recipe, so a new build image (a newer Node, say) rebuilds them and nothing else does.

    >>> [image.ref for image in SERVICE_IMAGES]
    ['localhost/conveyor/node:20-slim', 'localhost/conveyor/java:17-jre']
    >>> NODE.recipe("abc") == NODE.recipe("abc"), NODE.recipe("abc") == NODE.recipe("abd")
    (True, False)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from conveyor.images import BASE_IMAGE, BUILD_IMAGE, JRE_IMAGE, NODE_IMAGE
from conveyor.stack.components import RUNTIMES_DIR

#: The modules of the JRE: Java SE plus the JDK's HTTP server, EC crypto, sun.misc.Unsafe
#: users and zip filesystems — what a typical service jar needs, about 55 MB.
JRE_MODULES = ("java.se", "jdk.httpserver", "jdk.crypto.ec", "jdk.unsupported", "jdk.zipfs")
NODE_MAJOR = "20"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ServiceImage:
    ref: str
    stands_in_for: str  # the upstream image a Dockerfile would name
    containerfile: str
    about: str  # what it holds, for setup's ✓ line

    def recipe(self, build_recipe: str) -> str:
        text = "\0".join((self.containerfile, build_recipe))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def origin(self) -> str:
        return f"{self.about}, standing in for {self.stands_in_for}"


NODE = ServiceImage(
    NODE_IMAGE, "node:20-slim",
    f"FROM {BUILD_IMAGE} AS node\n"
    f"FROM {BASE_IMAGE}\n"
    f"COPY --from=node {RUNTIMES_DIR}/nodejs/{NODE_MAJOR}/lib/ /usr/local/lib/\n"
    f"COPY --from=node {RUNTIMES_DIR}/nodejs/{NODE_MAJOR}/bin/ /usr/local/bin/\n"
    'CMD ["node"]\n',
    f"{BASE_IMAGE} + Node {NODE_MAJOR} and npm from {BUILD_IMAGE}")

JAVA = ServiceImage(
    JRE_IMAGE, "eclipse-temurin:17-jre",
    f"FROM {BUILD_IMAGE} AS jdk\n"
    f"RUN jlink --add-modules {','.join(JRE_MODULES)} --strip-debug --no-man-pages "
    "--no-header-files --compress=2 --output /opt/java\n"
    f"FROM {BASE_IMAGE}\n"
    "COPY --from=jdk /opt/java /opt/java\n"
    f"ENV JAVA_HOME=/opt/java PATH=/opt/java/bin:{_PATH}\n"
    'CMD ["java", "-version"]\n',
    f"{BASE_IMAGE} + a jlink JRE of OpenJDK 17 from {BUILD_IMAGE}")

SERVICE_IMAGES = (NODE, JAVA)
