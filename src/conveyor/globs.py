"""Trigger filters: which pushes start an execution (CodePipeline V2 `triggers`, aws-semantics §2.8).

The glob language is the one the AWS docs describe (syntax-glob), which is word for word Java's
`FileSystem.getPathMatcher("glob:…")`; we translate it the same way Java's `Globs` does:

    *       any characters within one path segment ([^/]*)
    **      any characters across segments (.*): `**` is everything, `dir/**` everything under dir
            (not `dir` itself), `**/*.md` needs at least one `/` (so it does not match `README.md`)
    ?       one character other than `/`
    [abc]   one character from a set; `[a-z]` ranges, `[!a-c]` negation; inside brackets `*`, `?`
            and `\\` are literal, `-` is literal first or right after `!`; never matches `/`
    {a,b}   one of the alternatives (groups cannot be nested; `,` and `}` are literal outside one)
    \\x      x literally

Between the filters of a trigger: OR. Inside a filter: branches AND file paths. Inside a criteria:
OR across includes (none = everything), OR across excludes, and an exclude wins.

    >>> f = TriggerFilter(branches=Criteria(("main", "release/**")),
    ...                   paths=Criteria(excludes=("docs/**", "*.md")))
    >>> f.accepts("main", ["app/server.py", "README.md"])
    True
    >>> f.accepts("main", ["docs/guide.md"])
    False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

_END = ""  # what _peek returns past the end of the pattern


def _peek(pattern: str, i: int) -> str:
    return pattern[i] if i < len(pattern) else _END


class GlobError(ValueError):
    """A malformed glob. str() is the whole message; `problem` and `position` are its parts, for
    callers that already name the pattern.

    >>> str(GlobError("docs/[a", 5, "'[' is never closed by ']'"))
    "invalid glob 'docs/[a': '[' is never closed by ']' at position 5"
    """

    def __init__(self, pattern: str, position: int, problem: str) -> None:
        super().__init__(f"invalid glob {pattern!r}: {problem} at position {position}")
        self.pattern, self.position, self.problem = pattern, position, problem


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


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
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


def glob_match(pattern: str, value: str) -> bool:
    """True when `value` (a branch name or a repository-relative path) matches the whole glob.

    >>> glob_match("*.md", "README.md"), glob_match("*.md", "docs/a.md")
    (True, False)
    """
    return compile_glob(pattern).fullmatch(value) is not None


@dataclass(frozen=True)
class Criteria:
    """Includes/excludes of one filter dimension (GitBranchFilterCriteria, GitFilePathFilterCriteria).

    Patterns are compiled on construction, so a malformed one raises ValueError here.

    >>> Criteria(includes=("release/**",), excludes=("release/old-*",)).matches("release/1.2")
    True
    """

    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    _compiled: tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "includes", tuple(self.includes))
        object.__setattr__(self, "excludes", tuple(self.excludes))
        object.__setattr__(self, "_compiled", (tuple(compile_glob(p) for p in self.includes),
                                               tuple(compile_glob(p) for p in self.excludes)))

    def matches(self, value: str) -> bool:
        includes, excludes = self._compiled
        included = not includes or any(p.fullmatch(value) for p in includes)
        return included and not any(p.fullmatch(value) for p in excludes)


def matches_any_path(criteria: Criteria, paths: Iterable[str]) -> bool:
    """A push passes a file-path criteria when at least one changed file matches it (none: fails)."""
    return any(criteria.matches(path) for path in paths)


@dataclass(frozen=True)
class TriggerFilter:
    """One push filter: `branches` AND `paths`; a None criteria does not filter on that dimension.

    >>> TriggerFilter(branches=Criteria(("main",)), paths=None).accepts("dev", ["a.py"])
    False
    """

    branches: Criteria | None = None
    paths: Criteria | None = None

    def accepts(self, branch: str, changed_paths: list[str] | None) -> bool:
        """`changed_paths` None means the changed files are unknown: the path filter lets it pass."""
        if self.branches is not None and not self.branches.matches(branch):
            return False
        if self.paths is None or changed_paths is None:
            return True
        return matches_any_path(self.paths, changed_paths)


def any_accepts(filters: Iterable[TriggerFilter], branch: str, changed_paths: list[str] | None) -> bool:
    """OR across filters; with no filters at all, every push is accepted.

    >>> any_accepts([], "feature/x", None)
    True
    """
    filters = list(filters)
    return not filters or any(f.accepts(branch, changed_paths) for f in filters)
