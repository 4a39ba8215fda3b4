"""Trigger glob and filter semantics (aws-semantics §2.8; Java PathMatcher "glob:" rules)."""

from __future__ import annotations

import pytest

from conveyor.globs import (
    Criteria,
    GlobError,
    TriggerFilter,
    any_accepts,
    compile_glob,
    glob_match,
    matches_any_path,
)


def cases(pattern: str, yes: list[str], no: list[str]) -> list[tuple[str, str, bool]]:
    return [(pattern, v, True) for v in yes] + [(pattern, v, False) for v in no]


GLOB_CASES = [
    # plain names match only themselves, whole-string
    *cases("main", ["main"], ["mainline", "xmain", "Main", "main/x", ""]),
    *cases("my-file.jar", ["my-file.jar"], ["dir/my-file.jar", "my-file.jarx"]),
    *cases("directory/my-file.jar", ["directory/my-file.jar"], ["my-file.jar", "x/directory/my-file.jar"]),
    # * stays inside one segment
    *cases("*.md", ["README.md", ".md", "a.b.md"], ["a/b.md", "docs/x/README.md", "README.mdx"]),
    *cases("*", ["main", "a.b", ""], ["feature/x", "/"]),
    *cases("*.*", ["a.b", "."], ["ab", "a/b.c"]),
    *cases("dir/*", ["dir/a", "dir/a.txt", "dir/"], ["dir", "dir/a/b", "x/dir/a"]),
    *cases("feature/*", ["feature/login", "feature/"], ["feature", "feature/a/b", "features/x"]),
    *cases("src/*/main.py", ["src/app/main.py"], ["src/main.py", "src/a/b/main.py"]),
    *cases("a*b*c", ["abc", "aXbYc", "abbc"], ["a/b/c", "ab", "acb"]),
    # ** crosses segments
    *cases("**", ["", "a", "a/b/c", "docs/x.md", ".hidden/y"], []),
    *cases("docs/**", ["docs/a.md", "docs/a/b/c.txt", "docs/"], ["docs", "documentation/a", "x/docs/a", "docs.md"]),
    *cases("release/**", ["release/1.0", "release/1/2"], ["release", "releases/1", "pre-release/1"]),
    *cases("**/*.md", ["docs/a.md", "a/b/c.md"], ["README.md", "docs/a.mdx"]),
    *cases("**.md", ["README.md", "docs/a.md", "a/b/c.md"], ["a.md/x"]),
    *cases("src/**/test_*.py", ["src/a/test_x.py", "src/a/b/test_y.py"], ["src/test_x.py", "src/a/x_test.py"]),
    *cases("**/Dockerfile", ["a/Dockerfile", "a/b/Dockerfile"], ["Dockerfile", "a/Dockerfile.dev"]),
    *cases("***", ["a", "a/b"], []),
    # ? is one character, never /
    *cases("foo.?", ["foo.c", "foo.h"], ["foo.", "foo.cc", "foo./"]),
    *cases("v?.?", ["v1.2"], ["v10.2", "v1/2", "v/.2"]),
    *cases("a?b", ["a-b", "axb"], ["a/b", "ab"]),
    # [ ] sets, ranges, negation, literal specials
    *cases("[abc]x", ["ax", "bx", "cx"], ["dx", "x", "abx"]),
    *cases("[a-c]x", ["ax", "bx", "cx"], ["dx", "Ax", "-x"]),
    *cases("[!a-c]x", ["dx", "zx", "-x", "Ax"], ["ax", "bx", "cx", "/x", "x"]),
    *cases("[!abc]", ["d"], ["a", "/"]),
    *cases("[-a]", ["-", "a"], ["b"]),
    *cases("[!-a]", ["b", "z"], ["-", "a", "/"]),
    *cases("[a-]", ["a", "-"], ["b"]),
    *cases("[a-cx-z]", ["a", "b", "y", "z"], ["d", "w"]),
    *cases("[*?\\]", ["*", "?", "\\"], ["a", "]"]),
    *cases("[^a]", ["^", "a"], ["b"]),
    *cases("[[]", ["["], ["]"]),
    *cases("[.]md", [".md"], ["xmd"]),
    *cases("v[0-9].[0-9]", ["v1.2", "v0.9"], ["va.1", "v1.x", "v12.1"]),
    # { } alternatives; , and } are literal outside a group
    *cases("{main,dev}", ["main", "dev"], ["maindev", "main,dev", "{main,dev}", "staging", ""]),
    *cases("*.{java,class}", ["A.java", "B.class"], ["A.jar", "x/A.java"]),
    *cases("{docs/**,*.md}", ["docs/a", "README.md"], ["src/a.md", "docs"]),
    *cases("release-{1,2}.*", ["release-1.0", "release-2.x"], ["release-3.0", "release-{1,2}.0"]),
    *cases("{a,}", ["a", ""], ["b"]),
    *cases("{[ab],c*}", ["a", "b", "c", "cz"], ["d", "c/z"]),
    *cases("a,b", ["a,b"], ["a", "b"]),
    *cases("a}b", ["a}b"], ["ab"]),
    # \ escapes anything, including regex metacharacters that are not glob metacharacters
    *cases("\\*", ["*"], ["a", "", "**"]),
    *cases("a\\*b", ["a*b"], ["axb", "ab"]),
    *cases("\\?", ["?"], ["a"]),
    *cases("\\[a]", ["[a]"], ["a"]),
    *cases("\\{a,b}", ["{a,b}"], ["a", "b"]),
    *cases("\\\\", ["\\"], ["\\\\"]),
    *cases("\\a", ["a"], ["\\a"]),
    *cases("\\**", ["*", "*x"], ["x", "*/x"]),
    # regex metacharacters in a glob are plain characters
    *cases("a.b", ["a.b"], ["axb"]),
    *cases("(x)+|y$", ["(x)+|y$"], ["x", "y", "xx"]),
    *cases("c++/^", ["c++/^"], ["c/^"]),
    *cases("a b", ["a b"], ["ab"]),
    # case-sensitive, like git paths and branch names
    *cases("README.md", ["README.md"], ["readme.md"]),
]


@pytest.mark.parametrize("pattern,value,expected", GLOB_CASES)
def test_glob_match(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


@pytest.mark.parametrize("pattern,expected", [
    ("docs/**", "docs/.*"),
    ("*.md", r"[^/]*\.md"),
    ("?", "[^/]"),
    ("[!a-c]x", "[^/a-c]x"),
    ("{main,dev}", "(?:main|dev)"),
    ("\\*", r"\*"),
])
def test_compile_glob_regex(pattern: str, expected: str) -> None:
    assert compile_glob(pattern).regex() == expected


@pytest.mark.parametrize("pattern,message", [
    ("docs/[a", "invalid glob 'docs/[a': '[' is never closed by ']' at position 5"),
    ("[!", "invalid glob '[!': '[' is never closed by ']' at position 0"),
    ("[a-", "invalid glob '[a-': '[' is never closed by ']' at position 0"),
    ("[]", "invalid glob '[]': the bracket expression [] is empty at position 0"),
    ("a[!]", "invalid glob 'a[!]': the bracket expression [!] is empty at position 1"),
    ("[a/b]", "invalid glob '[a/b]': '/' cannot appear inside [...] at position 2"),
    ("[a-/]", "invalid glob '[a-/]': '/' cannot appear inside [...] at position 3"),
    ("[z-a]", "invalid glob '[z-a]': range z-a is reversed at position 1"),
    ("[a-c-e]", "invalid glob '[a-c-e]': '-' must follow a character to form a range at position 4"),
    ("[--0]", "invalid glob '[--0]': '-' must follow a character to form a range at position 2"),
    ("{main,dev", "invalid glob '{main,dev': '{' is never closed by '}' at position 0"),
    ("a{b,{c,d}}", "invalid glob 'a{b,{c,d}}': '{' groups cannot be nested at position 4"),
    ("abc\\", "invalid glob 'abc\\\\': '\\' at the end escapes nothing at position 3"),
])
def test_malformed_glob_is_a_clear_value_error(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        compile_glob(pattern)
    assert str(exc.value) == message
    assert isinstance(exc.value, GlobError) and exc.value.pattern == pattern
    assert message.endswith(f"{exc.value.problem} at position {exc.value.position}")


def test_malformed_glob_fails_at_criteria_construction() -> None:
    with pytest.raises(ValueError, match="never closed"):
        Criteria(includes=("main",), excludes=("docs/[",))


# -- Criteria: OR across includes, OR across excludes, included AND NOT excluded


def test_empty_criteria_matches_everything() -> None:
    assert Criteria().matches("anything/at/all")
    assert Criteria().matches("")


def test_includes_are_ored() -> None:
    c = Criteria(includes=("main", "release/**"))
    assert c.matches("main")
    assert c.matches("release/2024.1")
    assert not c.matches("dev")


def test_excludes_only_means_everything_else() -> None:
    c = Criteria(excludes=("docs/**", "*.md"))
    assert c.matches("app/server.py")
    assert c.matches("docs")  # `docs/**` is what is under docs, not a file named docs
    assert c.matches("app/notes.md")  # `*.md` is root-level only
    assert not c.matches("README.md")
    assert not c.matches("docs/guide/intro.md")


def test_exclude_wins_over_include() -> None:
    c = Criteria(includes=("release/**",), excludes=("release/old-*",))
    assert c.matches("release/1.0")
    assert not c.matches("release/old-1.0")
    same = Criteria(includes=("main",), excludes=("main",))
    assert not same.matches("main")


def test_criteria_accepts_lists_and_compares_by_patterns() -> None:
    c = Criteria(includes=["main"], excludes=["x"])  # type: ignore[arg-type]
    assert c.includes == ("main",) and c.excludes == ("x",)
    assert c == Criteria(("main",), ("x",))
    assert hash(c) == hash(Criteria(("main",), ("x",)))


def test_matches_any_path() -> None:
    docs_excluded = Criteria(excludes=("docs/**", "*.md"))
    assert matches_any_path(docs_excluded, ["docs/a.md", "app/__main__.py"])
    assert not matches_any_path(docs_excluded, ["docs/a.md", "README.md"])
    assert not matches_any_path(docs_excluded, [])
    assert matches_any_path(Criteria(includes=("app/**",)), iter(["README.md", "app/x.py"]))


# -- TriggerFilter: branches AND paths; any_accepts: OR across filters


MAIN_NO_DOCS = TriggerFilter(branches=Criteria(includes=("main",)),
                             paths=Criteria(excludes=("docs/**", "*.md")))


def test_filter_needs_branch_and_paths() -> None:
    assert MAIN_NO_DOCS.accepts("main", ["app/server.py"])
    assert MAIN_NO_DOCS.accepts("main", ["README.md", "app/server.py"])
    assert not MAIN_NO_DOCS.accepts("main", ["README.md", "docs/a/b.png"])
    assert not MAIN_NO_DOCS.accepts("dev", ["app/server.py"])


def test_filter_with_unknown_changed_paths_accepts_on_branch_alone() -> None:
    assert MAIN_NO_DOCS.accepts("main", None)
    assert not MAIN_NO_DOCS.accepts("dev", None)


def test_filter_with_no_changed_files_fails_a_path_criteria() -> None:
    assert not MAIN_NO_DOCS.accepts("main", [])
    assert TriggerFilter(branches=Criteria(("main",))).accepts("main", [])


def test_filter_without_criteria_accepts_everything() -> None:
    assert TriggerFilter().accepts("any/branch", ["x"])
    assert TriggerFilter(paths=Criteria(("app/**",))).accepts("whatever", ["app/a.py"])
    assert not TriggerFilter(paths=Criteria(("app/**",))).accepts("whatever", ["lib/a.py"])


def test_any_accepts_ors_filters() -> None:
    release = TriggerFilter(branches=Criteria(includes=("release/**",)))
    filters = [MAIN_NO_DOCS, release]
    assert any_accepts(filters, "main", ["app/x.py"])
    assert any_accepts(filters, "release/1.0", ["README.md"])
    assert not any_accepts(filters, "main", ["README.md"])
    assert not any_accepts(filters, "feature/x", ["app/x.py"])
    assert any_accepts(iter(filters), "release/2", None)


def test_no_filters_accept_every_push() -> None:
    assert any_accepts([], "feature/x", ["docs/a.md"])
    assert any_accepts((), "main", None)


def test_branch_alternatives_and_sets() -> None:
    f = TriggerFilter(branches=Criteria(includes=("{main,dev}", "hotfix-[0-9]*"), excludes=("dev",)))
    assert f.accepts("main", None)
    assert not f.accepts("dev", None)
    assert f.accepts("hotfix-7-login", None)
    assert not f.accepts("hotfix-x", None)
