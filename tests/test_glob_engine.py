"""The linear-time glob matcher agrees with the regex translation it replaced (tests/glob_reference.py)
on ordinary patterns, for trigger globs and artifact globs, and stays polynomial on hostile ones."""

from __future__ import annotations

import re

import pytest
from glob_reference import old_compile_artifact_glob, old_compile_glob
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.build.artifacts import artifact_match, compile_artifact_glob
from conveyor.glob_engine import Glob, GlobError, parse, parse_items, regex_of
from conveyor.globs import glob_match

TOKENS = ["a", "b", ".", "/", "*", "**", "?", "[ab]", "[!a]", "[a-c]", "{a,b/}", "{*.md,c}", "**/", "\\*", "-",
          "\n"]
patterns = st.lists(st.sampled_from(TOKENS), max_size=7).map("".join)
values = st.text(alphabet="ab./c*m-d\n", max_size=12)


def _old(pattern: str) -> re.Pattern[str] | None:
    try:
        return old_compile_glob(pattern)
    except GlobError:
        return None


@settings(max_examples=1500, deadline=None)
@given(patterns, values)
def test_trigger_glob_agrees_with_the_regex_it_replaced(pattern: str, value: str) -> None:
    old = _old(pattern)
    if old is None:
        with pytest.raises(GlobError):
            parse(pattern)
        return
    assert parse(pattern).fullmatch(value) is (old.fullmatch(value) is not None)


@settings(max_examples=1500, deadline=None)
@given(patterns, values)
def test_artifact_glob_agrees_with_the_union_of_variants_it_replaced(pattern: str, value: str) -> None:
    if _old(pattern) is None:
        return
    old = old_compile_artifact_glob(pattern)
    assert parse(pattern, zero_dirs=True).fullmatch(value) is (old.fullmatch(value) is not None)


@settings(max_examples=500, deadline=None)
@given(patterns, values)
def test_regex_translation_means_the_same(pattern: str, value: str) -> None:
    if _old(pattern) is None:
        return
    glob = parse(pattern, zero_dirs=True)
    assert glob.fullmatch(value) is (re.fullmatch(regex_of(glob.items), value, re.DOTALL) is not None)


@pytest.mark.parametrize("pattern,value,expected", [
    ("**/*", "a.txt", True),
    ("**/**/**/x", "x", True),
    ("a/**/b/**/c", "a/c", False),
    ("a/**/b/**/c", "a/b/c", True),
    ("a/**/b/**/c", "a/x/y/b/z/c", True),
    ("{src,lib}/**/*.py", "lib/m.py", True),
])
def test_zero_directory_rule(pattern: str, value: str, expected: bool) -> None:
    assert artifact_match(pattern, value) is expected


def test_many_double_star_segments_compile_to_a_small_automaton() -> None:
    """The old artifact glob held 2**n regex variants; 40 `**/` would be 10**12 of them."""
    pattern = "**/" * 40 + "x"
    glob = compile_artifact_glob(pattern)
    assert isinstance(glob, Glob)
    assert len(glob._states) < 10 * len(pattern)
    assert glob.fullmatch("a/" * 30 + "x") and not glob.fullmatch("a/" * 30 + "y")


def test_star_heavy_trigger_glob_does_not_backtrack() -> None:
    """`*a*a*…b` against `aaaa…`: a backtracking regex tries O(n**k) splits; the automaton reads
    each character once (counted, not timed)."""
    glob = parse("*a" * 12 + "b")
    steps = 0
    original = glob._step

    def counting(current, ch):  # type: ignore[no-untyped-def]
        nonlocal steps
        steps += 1
        return original(current, ch)

    glob._step = counting  # type: ignore[method-assign]
    assert not glob.fullmatch("a" * 200)
    assert steps == 200


def test_items_tree() -> None:
    assert parse_items("a{b,*}", zero_dirs=False) == (("char", "a"), ("group", ((("char", "b"),), (("star",),))))
    assert glob_match("docs/**", "docs/a/b.md")
