"""The runtime catalog label: what an image says it provides, read back as it was written."""

import pytest

from conveyor.build.runtime_catalog import (
    RUNTIMES_LABEL,
    Catalog,
    CatalogError,
    Runtime,
    RuntimeVersion,
    catalog_of,
)


def _catalog() -> Catalog:
    node18 = RuntimeVersion("18", "18.19.0", path=("/usr/bin",), source="Debian")
    node20 = RuntimeVersion("20", "20.19.5", path=("/opt/conveyor/runtimes/nodejs/20/bin",))
    java = RuntimeVersion("corretto17", "17.0.15", aliases=("openjdk17",),
                          env={"JAVA_HOME": "/usr/lib/jvm/java-17-openjdk-amd64"})
    return Catalog({"nodejs": Runtime("nodejs", (node18, node20), "18"),
                    "java": Runtime("java", (java,), "corretto17")})


def test_a_catalog_reads_back_as_written():
    catalog = _catalog()
    again = catalog_of({RUNTIMES_LABEL: catalog.to_json()})
    assert again == catalog
    assert again is not None and again.runtimes["java"].version("corretto17").aliases == ("openjdk17",)


def test_an_image_without_the_label_has_no_catalog():
    assert catalog_of({"io.conveyor.origin": "x"}) is None
    assert catalog_of(None) is None


@pytest.mark.parametrize("text, fragment", [
    ("nope", "not JSON"),
    ('{"schema": 2, "runtimes": {}}', "schema 1"),
    ('{"schema": 1, "runtimes": {"go": {"default": "1.20", "versions": []}}}', "default '1.20'"),
    ('{"schema": 1, "runtimes": {"go": {"default": "1", "versions": [{"key": "1"}]}}}', "'key' and 'version'"),
    ('{"schema": 1, "runtimes": {"go": {"default": "1", "versions": '
     '[{"key": "1", "version": "1.19", "path": "/usr/bin"}]}}}', "'path' must be a list"),
])
def test_a_malformed_label_is_refused_with_what_is_wrong(text, fragment):
    with pytest.raises(CatalogError, match=fragment.replace("(", r"\(")):
        Catalog.from_json(text)
