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

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from conveyor.glob_engine import Glob, GlobError, parse

__all__ = ["Criteria", "GlobError", "TriggerFilter", "any_accepts", "compile_glob", "glob_match",
           "matches_any_path"]

@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """Compile a trigger glob to a matcher of whole values (linear time: conveyor.glob_engine);
    GlobError if malformed.

    >>> compile_glob("docs/**").regex()
    'docs/.*'
    >>> compile_glob("{main,dev}").fullmatch("dev")
    True
    """
    return parse(pattern)


def glob_match(pattern: str, value: str) -> bool:
    """True when `value` (a branch name or a repository-relative path) matches the whole glob.

    >>> glob_match("*.md", "README.md"), glob_match("*.md", "docs/a.md")
    (True, False)
    """
    return compile_glob(pattern).fullmatch(value)


@dataclass(frozen=True)
class Criteria:
    """Includes/excludes of one filter dimension (GitBranchFilterCriteria, GitFilePathFilterCriteria).

    Patterns are compiled on construction, so a malformed one raises ValueError here.

    >>> Criteria(includes=("release/**",), excludes=("release/old-*",)).matches("release/1.2")
    True
    """

    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    _compiled: tuple[tuple[Glob, ...], tuple[Glob, ...]] = field(
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
