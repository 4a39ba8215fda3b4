"""The glob matchers as they were before conveyor.glob_engine (regex translation; artifact globs as
the union of every way to drop their `**/` segments): the oracle the property tests compare the
new matcher with, and the "before" of bench/globs.py. Never used by the product.
"""

from __future__ import annotations

import re
from itertools import combinations

from conveyor.glob_engine import GlobError

_END = ""


def _peek(pattern: str, i: int) -> str:
    return pattern[i] if i < len(pattern) else _END


def _class_char(c: str) -> str:
    return "\\" + c if c in "\\]^-[" else c


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression whose `[` is at pattern[i - 1]; return (regex, next index)."""
    start = i - 1
    negate = False
    parts: list[str] = []
    if _peek(pattern, i) == "!":
        negate, i = True, i + 1
    if _peek(pattern, i) == "-":
        parts.append(r"\-")
        i += 1
    has_range_start, last, closed = False, "", False
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "]":
            closed = True
            break
        if c == "/":
            raise GlobError(pattern, i - 1, "'/' cannot appear inside [...]")
        if c != "-":
            parts.append(_class_char(c))
            has_range_start, last = True, c
            continue
        if not has_range_start:
            raise GlobError(pattern, i - 1, "'-' must follow a character to form a range")
        end = _peek(pattern, i)
        if end in (_END, "]"):  # `[a-]`: the dash is literal
            parts.append(r"\-")
            continue
        i += 1
        if end == "/":
            raise GlobError(pattern, i - 1, "'/' cannot appear inside [...]")
        if end < last:
            raise GlobError(pattern, i - 3, f"range {last}-{end} is reversed")
        parts[-1] = f"{_class_char(last)}-{_class_char(end)}"
        has_range_start = False
    if not closed:
        raise GlobError(pattern, start, "'[' is never closed by ']'")
    if not parts:
        raise GlobError(pattern, start, f"the bracket expression {pattern[start:i]} is empty")
    return ("[^/" if negate else "[") + "".join(parts) + "]", i



def old_compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a trigger glob to a regex that must match the whole value; GlobError if malformed.

    >>> compile_glob("docs/**").pattern
    'docs/.*'
    >>> compile_glob("{main,dev}").fullmatch("dev") is not None
    True
    """
    out: list[str] = []
    group_start = -1  # position of the open `{`, or -1 outside a group
    i = 0
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "\\":
            if i == len(pattern):
                raise GlobError(pattern, i - 1, "'\\' at the end escapes nothing")
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "*":
            if _peek(pattern, i) == "*":
                out.append(".*")
                i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            regex, i = _bracket(pattern, i)
            out.append(regex)
        elif c == "{":
            if group_start >= 0:
                raise GlobError(pattern, i - 1, "'{' groups cannot be nested")
            group_start = i - 1
            out.append("(?:")
        elif c == "}" and group_start >= 0:
            out.append(")")
            group_start = -1
        elif c == "," and group_start >= 0:
            out.append("|")
        else:
            out.append(re.escape(c))
    if group_start >= 0:
        raise GlobError(pattern, group_start, "'{' is never closed by '}'")
    return re.compile("".join(out), re.DOTALL)


def _zero_dir_spots(pattern: str) -> list[int]:
    spots, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            spots.append(i)
            i += 3
            continue
        i += 1
    return spots


def _drop(pattern: str, spots: tuple[int, ...]) -> str:
    out, i = [], 0
    for spot in spots:
        out.append(pattern[i:spot])
        i = spot + 3
    return "".join(out) + pattern[i:]


def old_compile_artifact_glob(pattern: str) -> re.Pattern[str]:
    """2 ** (number of `**/`) variants, joined into one regex."""
    spots = _zero_dir_spots(pattern)
    variants = [_drop(pattern, dropped) for k in range(len(spots) + 1) for dropped in combinations(spots, k)]
    return re.compile("|".join(f"(?:{old_compile_glob(v).pattern})" for v in variants), re.DOTALL)
