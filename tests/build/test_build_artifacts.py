"""Artifact / report file selection and cache keys (aws-semantics §1.8–§1.10)."""

from __future__ import annotations

import pytest

from conveyor.build.artifacts import (
    ArtifactNameCollision,
    InvalidArtifactGlob,
    NoMatchingArtifactPaths,
    NoMatchingBaseDirectory,
    artifact_match,
    cache_key,
    check_fallback_keys,
    choose_cache,
    directories,
    expand,
    normalize,
    select,
)
from conveyor.globs import glob_match

TREE = [
    "appspec.yml",
    "imagedefinitions.json",
    "README.md",
    ".env",
    "build/app.jar",
    "build/lib/dep.jar",
    "build/lib/.cache",
    "build/reports/junit.xml",
    "my-build-1/out.txt",
    "my-build-2/sub/out2.txt",
    "src/main.py",
    "src/pkg/util.py",
]


def cases(pattern, yes, no):
    return [(pattern, p, True) for p in yes] + [(pattern, p, False) for p in no]


MATCH = [
    *cases("**/*", ["a", ".env", "a/b", "a/b/c.txt"], []),      # ** / matches zero dirs too
    *cases("dir/*", ["dir/a", "dir/.x"], ["dir/a/b", "a", "x/dir/a"]),
    *cases("dir/**/*", ["dir/a", "dir/x/a", "dir/x/y/a"], ["dir", "dirx/a", "a/dir/b"]),
    *cases("**/.*", [".env", "a/.env", "a/b/.git"], ["a.env", "a/b.c"]),
    *cases("**/*.py", ["main.py", "src/main.py", "a/b/c.py"], ["main.pyc", "src/main.py/x"]),
    *cases("a/**/b/**/c", ["a/b/c", "a/x/b/c", "a/b/y/c", "a/x/b/y/c"], ["a/c", "b/c"]),
    *cases("file.txt", ["file.txt"], ["dir/file.txt", "file.txtx"]),
    *cases("./file.txt", ["file.txt"], []),
    *cases("*.{jar,war}", ["a.jar", "b.war"], ["a.zip", "x/a.jar"]),
    *cases("build/**", ["build/a", "build/a/b"], ["build", "buildx/a"]),
    *cases("x**/y", ["x/y", "xa/y", "xa/b/y"], ["y"]),          # not at a segment start: plain **
]


@pytest.mark.parametrize("pattern,path,result", MATCH)
def test_artifact_match(pattern, path, result):
    assert artifact_match(pattern, path) is result


def test_difference_from_trigger_globs():
    # documented difference: triggers (Java PathMatcher) need a '/' for **/ ; artifacts do not
    assert not glob_match("**/*", "appspec.yml")
    assert artifact_match("**/*", "appspec.yml")


def test_invalid_glob():
    with pytest.raises(InvalidArtifactGlob, match="never closed"):
        artifact_match("build/[a", "build/a")


@pytest.mark.parametrize("raw,clean", [
    ("./a/b/", "a/b"), (".", ""), ("./", ""), ("a", "a"), ("././a", "a"), ("", ""),
])
def test_normalize(raw, clean):
    assert normalize(raw) == clean


def test_directories():
    assert directories(["a/b/c.txt", "a/d.txt", "e.txt"]) == ["a", "a/b"]


SELECT = [
    # (files, base_directory, discard_paths, exclude_paths) -> expected
    ((["appspec.yml"], None, False, ()), [("appspec.yml", "appspec.yml")]),
    ((["appspec.yml", "imagedefinitions.json"], None, False, ()),
     [("appspec.yml", "appspec.yml"), ("imagedefinitions.json", "imagedefinitions.json")]),
    ((["build/*"], None, False, ()), [("build/app.jar", "build/app.jar")]),
    ((["build/**/*"], None, False, ()),
     [("build/app.jar", "build/app.jar"), ("build/lib/.cache", "build/lib/.cache"),
      ("build/lib/dep.jar", "build/lib/dep.jar"), ("build/reports/junit.xml", "build/reports/junit.xml")]),
    # base-directory: contents only, the directory itself is not in the artifact
    ((["**/*"], "build", False, ()),
     [("build/app.jar", "app.jar"), ("build/lib/.cache", "lib/.cache"),
      ("build/lib/dep.jar", "lib/dep.jar"), ("build/reports/junit.xml", "reports/junit.xml")]),
    ((["*.jar"], "build", False, ()), [("build/app.jar", "app.jar")]),
    ((["**/*"], "./build/", False, ()),
     [("build/app.jar", "app.jar"), ("build/lib/.cache", "lib/.cache"),
      ("build/lib/dep.jar", "lib/dep.jar"), ("build/reports/junit.xml", "reports/junit.xml")]),
    ((["appspec.yml"], ".", False, ()), [("appspec.yml", "appspec.yml")]),
    # base-directory glob: each matching directory contributes its contents
    ((["**/*"], "my-build*", False, ()),
     [("my-build-1/out.txt", "out.txt"), ("my-build-2/sub/out2.txt", "sub/out2.txt")]),
    # exclude-paths, relative to base-directory; * does not cross '/', ** does
    ((["**/*"], "build", False, ("**/.*",)),
     [("build/app.jar", "app.jar"), ("build/lib/dep.jar", "lib/dep.jar"),
      ("build/reports/junit.xml", "reports/junit.xml")]),
    ((["**/*"], "build", False, ("*.jar",)),
     [("build/lib/.cache", "lib/.cache"), ("build/lib/dep.jar", "lib/dep.jar"),
      ("build/reports/junit.xml", "reports/junit.xml")]),
    ((["**/*"], "build", False, ("**/*.jar", "reports/**")), [("build/lib/.cache", "lib/.cache")]),
    ((["*"], None, False, ("**/.*", "*.md")),
     [("appspec.yml", "appspec.yml"), ("imagedefinitions.json", "imagedefinitions.json")]),
    # discard-paths flattens
    ((["**/*.jar"], None, True, ()), [("build/app.jar", "app.jar"), ("build/lib/dep.jar", "dep.jar")]),
    ((["**/*"], "src", True, ()), [("src/main.py", "main.py"), ("src/pkg/util.py", "util.py")]),
    # order: files entries in order; a file matched twice ships once
    ((["src/pkg/*", "src/**/*"], None, False, ()),
     [("src/pkg/util.py", "src/pkg/util.py"), ("src/main.py", "src/main.py")]),
    # an explicit path that matches nothing is skipped when something else matched
    ((["missing.txt", "appspec.yml"], None, False, ()), [("appspec.yml", "appspec.yml")]),
    # a directory name selects nothing by itself (assumed: entries match files)
    ((["build", "appspec.yml"], None, False, ()), [("appspec.yml", "appspec.yml")]),
]


@pytest.mark.parametrize("args,expected", SELECT)
def test_select(args, expected):
    assert select(TREE, *args) == expected


def test_expand_reports_skipped_explicit_paths_only():
    sel = expand(TREE, ["missing.txt", "nothing/*", "appspec.yml"])
    assert sel.skipped == ["missing.txt"]
    assert sel.base_directories == ["."]


def test_expand_lists_base_directories():
    assert expand(TREE, ["**/*"], "my-build*").base_directories == ["my-build-1", "my-build-2"]


@pytest.mark.parametrize("files,base,exclude", [
    (["imagedefinition.json"], None, ()),           # the classic typo
    (["dist/**/*"], None, ()),                      # a glob matching nothing
    (["**/*"], "build", ("**/*",)),                 # everything excluded
    ([], None, ()),
])
def test_no_matching_artifact_paths(files, base, exclude):
    with pytest.raises(NoMatchingArtifactPaths) as err:
        select(TREE, files, base, exclude_paths=exclude)
    assert str(err.value) == "no matching artifact paths found"
    assert err.value.status_code == "CLIENT_ERROR"


def test_no_matching_base_directory():
    with pytest.raises(NoMatchingBaseDirectory) as err:
        select(TREE, ["**/*"], "cdk.out")
    assert str(err.value) == "no matching base directory path found for cdk.out"


def test_reports_may_be_empty():
    assert expand(TREE, ["**/*.xml"], "target/surefire-reports", allow_empty=True).files == []
    assert expand(TREE, ["*.trx"], allow_empty=True).files == []


@pytest.mark.parametrize("files,base", [
    (["**/out*.txt", "**/*"], "my-build*"),
])
def test_several_base_directories_do_not_collide_when_paths_differ(files, base):
    assert [d for _, d in select(TREE, files, base)] == ["out.txt", "sub/out2.txt"]


def test_discard_paths_collision():
    paths = ["a/config.json", "b/config.json", "c/other.json"]
    with pytest.raises(ArtifactNameCollision) as err:
        select(paths, ["**/*.json"], discard_paths=True)
    assert str(err.value) == "artifact path config.json would hold both a/config.json and b/config.json"
    assert err.value.hint == "rename one of them, or set discard-paths: no"


def test_base_directory_glob_collision():
    with pytest.raises(ArtifactNameCollision, match="out.txt would hold both d1/out.txt and d2/out.txt"):
        select(["d1/out.txt", "d2/out.txt"], ["*"], "d*")


def test_same_file_twice_is_not_a_collision():
    assert select(["a/x.json"], ["**/*.json", "a/x.json"], discard_paths=True) == [("a/x.json", "x.json")]


# --- cache -------------------------------------------------------------------------------------

def fake_hash(globs):
    return "h(" + ",".join(globs) + ")"


@pytest.mark.parametrize("template,key", [
    ("npm-key-$(codebuild-hash-files package-lock.json)", "npm-key-h(package-lock.json)"),
    ("k-$(codebuild-hash-files a.lock **/b.lock)", "k-h(a.lock,**/b.lock)"),
    ("k-$( codebuild-hash-files a )-$(codebuild-hash-files b)", "k-h(a)-h(b)"),
    ("static-key", "static-key"),
    ("k-$(date +%F)-$CODEBUILD_BUILD_NUMBER", "k-$(date +%F)-$CODEBUILD_BUILD_NUMBER"),  # left to the shell
])
def test_cache_key(template, key):
    assert cache_key(template, fake_hash) == key


@pytest.mark.parametrize("key,fallbacks,available,chosen", [
    ("npm-key-abc", ["npm-key-", "npm-"], ["npm-key-abc", "npm-key-old"], "npm-key-abc"),
    ("npm-key-new", ["npm-key-", "npm-"], ["npm-other", "npm-key-old"], "npm-key-old"),  # fallbacks in order
    ("npm-key-new", ["npm-key-", "npm-"], ["npm-other"], "npm-other"),
    ("npm-key-new", ["npm-key-"], ["npm-key-2", "npm-key-1"], "npm-key-2"),   # newest first (assumed)
    ("npm-key-new", ["yarn-"], ["npm-key-1"], None),
    (None, ["npm-"], ["npm-1"], None),                                        # ignored without a key
    ("", ["npm-"], ["npm-1"], None),
])
def test_choose_cache(key, fallbacks, available, chosen):
    assert choose_cache(key, fallbacks, available) == chosen


def test_fallback_keys_limit():
    assert check_fallback_keys(["a", "b"], None) == []
    assert check_fallback_keys(["a"] * 5, "k") == ["a"] * 5
    with pytest.raises(ValueError, match="holds 6 keys; at most 5"):
        check_fallback_keys(["a"] * 6, "k")
