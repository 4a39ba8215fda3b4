"""runtime-versions selection (conveyor.build.runtimes) over fixture catalogs: every resolution
rule CodeBuild documents (key, `<major>.x`, `latest`, a variable), the local additions (catalog
aliases, the exact full version), and CodeBuild's messages, all problems at once."""

from __future__ import annotations

import pytest
from runtime_fixtures import standard_catalog

from conveyor.build.runtime_catalog import Catalog, CatalogError, Runtime, RuntimeVersion
from conveyor.build.runtimes import (
    DOCKER_HINT,
    SKIP_WARNING,
    Chosen,
    catalog_problems,
    expand,
    install_commands,
    ordered,
    path_command,
    resolve,
    select,
)

RUNTIMES = "golang, java, nodejs, php, python, ruby"


def key(runtime: str, value: str, catalog: Catalog | None = None) -> str | None:
    found = resolve((catalog or standard_catalog()).runtimes[runtime], value)
    return found.key if found else None


@pytest.mark.parametrize("runtime, value, expected", [
    # the key itself
    ("nodejs", "18", "18"), ("nodejs", "20", "20"), ("nodejs", "22", "22"), ("python", "3.11", "3.11"),
    ("java", "corretto17", "corretto17"), ("golang", "1.19", "1.19"),
    ("golang", "1.22", "1.22"), ("ruby", "3.1", "3.1"), ("php", "8.2", "8.2"),
    # <major>.x: that major's newest minor
    ("nodejs", "18.x", "18"), ("nodejs", "20.x", "20"), ("python", "3.x", "3.11"), ("golang", "1.x", "1.22"),
    ("java", "corretto17.x", "corretto17"), ("ruby", "3.x", "3.1"), ("php", "8.x", "8.2"),
    # latest: the newest version
    ("nodejs", "latest", "22"), ("java", "latest", "corretto17"), ("python", "latest", "3.11"),
    ("golang", "latest", "1.22"),
    # a catalog alias (Debian's OpenJDK 17 serves the corretto17 slot), also with .x
    ("java", "openjdk17", "corretto17"), ("java", "openjdk17.x", "corretto17"),
    # the exact full version the image has
    ("nodejs", "20.19.5", "20"),
])
def test_a_version_resolves_as_codebuild_resolves_it(runtime, value, expected):
    assert key(runtime, value) == expected


@pytest.mark.parametrize("runtime, value", [
    ("python", "3"),          # a bare major where the keys have a minor: not a CodeBuild name
    ("nodejs", "16"), ("nodejs", "16.x"), ("nodejs", "18.0"), ("nodejs", "18.20.0"),  # not in the image
    ("nodejs", "1.x"),        # "1.x" is not "18"'s major
    ("java", "openjdk11"), ("java", "corretto11"), ("java", "openjdk8"), ("java", "17"),
    ("golang", "1.13"), ("python", "3.1"), ("nodejs", ".x"), ("nodejs", ""), ("nodejs", "LATEST"),
])
def test_a_version_the_image_does_not_have_is_refused(runtime, value):
    assert key(runtime, value) is None


def test_versions_are_ordered_by_their_numbers_not_as_strings():
    python = Runtime("python", (RuntimeVersion("3.11", "3.11.9"), RuntimeVersion("3.9", "3.9.19"),
                                RuntimeVersion("3.10", "3.10.14")), "3.11")
    catalog = Catalog({"python": python})
    assert [v.key for v in ordered(python)] == ["3.9", "3.10", "3.11"]
    assert key("python", "latest", catalog) == "3.11" and key("python", "3.x", catalog) == "3.11"
    assert select({"python": "3.8"}, catalog).problems == (
        "Unknown runtime version named '3.8' of python. This build image has the following versions: 3.9, 3.10, 3.11",)


def test_an_unknown_version_is_refused_with_codebuilds_message_listing_the_versions():
    selection = select({"nodejs": "16"}, standard_catalog())
    assert not selection.ok and selection.chosen == ()
    assert selection.message == ("Unknown runtime version named '16' of nodejs. This build image has the following "
                                 "versions: 18, 20, 22")


def test_an_unknown_runtime_is_refused_with_codebuilds_message_listing_the_runtimes_sorted():
    selection = select({"dotnet": "6.0"}, standard_catalog())
    assert selection.message == ("Unknown runtime named 'dotnet'. This build image has the following runtimes: "
                                 f"{RUNTIMES}")


def test_docker_is_an_unknown_runtime_with_a_hint_that_the_cli_is_always_there():
    selection = select({"docker": "18"}, standard_catalog())
    assert selection.message == (f"Unknown runtime named 'docker'. This build image has the following runtimes: "
                                 f"{RUNTIMES} {DOCKER_HINT}")
    assert "always in the build image" in DOCKER_HINT and "privilegedMode" in DOCKER_HINT


def test_several_runtimes_are_selected_together_in_buildspec_order():
    selection = select({"python": "3.x", "nodejs": "20", "java": "openjdk17"}, standard_catalog())
    assert selection.ok and selection.message == ""
    assert selection.listed == (("python", "3.x"), ("nodejs", "20"), ("java", "openjdk17"))
    assert [(c.runtime, c.requested, c.version.key) for c in selection.chosen] == [
        ("python", "3.x", "3.11"), ("nodejs", "20", "20"), ("java", "openjdk17", "corretto17")]


def test_every_problem_is_reported_at_once_and_nothing_is_chosen_for_them():
    selection = select({"java": "corretto11", "nodejs": "20", "dotnet": "6", "python": "3.7"}, standard_catalog())
    assert selection.problems == (
        "Unknown runtime version named 'corretto11' of java. This build image has the following versions: corretto17",
        f"Unknown runtime named 'dotnet'. This build image has the following runtimes: {RUNTIMES}",
        "Unknown runtime version named '3.7' of python. This build image has the following versions: 3.11")
    assert selection.message == "; ".join(selection.problems)
    assert [c.runtime for c in selection.chosen] == ["nodejs"]  # the runner applies nothing when any is refused
    assert [name for name, _ in selection.listed] == ["java", "nodejs", "dotnet", "python"]


@pytest.mark.parametrize("written", ["$NODE_VERSION", "${NODE_VERSION}"])
def test_a_version_may_come_from_a_variable_of_the_build(written):
    selection = select({"nodejs": written}, standard_catalog(), {"NODE_VERSION": "20.x"})
    assert selection.listed == (("nodejs", "20.x"),)
    assert [(c.requested, c.value, c.version.key) for c in selection.chosen] == [(written, "20.x", "20")]


def test_an_unset_variable_is_refused_and_named():
    selection = select({"java": "$JAVA_RUNTIME"}, standard_catalog(), {})
    assert selection.message == ("Unknown runtime version named '' of java. This build image has the following "
                                 "versions: corretto17 (JAVA_RUNTIME is not set in the build environment)")


def test_expand_replaces_known_names_and_reports_unset_ones():
    assert expand("corretto${V}", {"V": "17"}) == ("corretto17", [])
    assert expand("$A-$B", {"A": "x"}) == ("x-", ["B"])
    assert expand("18", {}) == ("18", [])


def test_install_commands_echo_like_codebuild_then_set_the_home_quoted():
    catalog = standard_catalog()
    java = Chosen("java", "corretto17", "corretto17", catalog.runtimes["java"].versions[0])
    assert install_commands(java) == ['echo "Installing Java version 17 ..."',
                                      "export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64"]
    node = Chosen("nodejs", "20", "20", catalog.runtimes["nodejs"].versions[1])
    assert install_commands(node) == ['echo "Installing Node.js version 20 ..."']
    odd = Chosen("x", "1", "1", RuntimeVersion("1", "1.0", env={"X_HOME": "$(id)"}))
    assert install_commands(odd)[1:] == ["export X_HOME='$(id)'"]


def test_path_is_set_once_with_every_selected_directory_first_in_buildspec_order():
    catalog = standard_catalog()
    selection = select({"nodejs": "20", "python": "3.11", "java": "latest"}, catalog)
    assert path_command(selection.chosen) == ("export PATH=/opt/conveyor/runtimes/nodejs/20/bin:/usr/bin:"
                                              "/usr/lib/jvm/java-17-openjdk-amd64/bin:\"$PATH\"")
    both = select({"python": "3.11", "ruby": "3.1"}, catalog)  # both in /usr/bin: listed once
    assert path_command(both.chosen) == 'export PATH=/usr/bin:"$PATH"'
    odd = Chosen("x", "1", "1", RuntimeVersion("1", "1.0", path=("/opt/a b", "/opt/c;rm -rf /")))
    assert path_command([odd]) == "export PATH='/opt/a b:/opt/c;rm -rf /':\"$PATH\""
    assert path_command([]) is None


def test_a_catalog_variable_no_shell_can_hold_is_a_catalog_error():
    bad = RuntimeVersion("1", "1.0", env={"A;touch /tmp/x;B": "v"})
    [problem] = catalog_problems(Catalog({"x": Runtime("x", (bad,), "1")}))
    assert problem.startswith("x 1: variable 'A;touch /tmp/x;B' is not a valid name")
    with pytest.raises(CatalogError, match="A;touch"):
        install_commands(Chosen("x", "1", "1", bad))
    assert catalog_problems(standard_catalog()) == []


def test_the_skip_warning_is_codebuilds():
    assert SKIP_WARNING == ("[WARN] Skipping install of runtimes. Runtime version selection is not supported by this "
                            "build image.")
