"""Paths that come from user files (buildspec artifacts, reports and cache, conveyor.yml file
references, action configuration) must stay inside the directory they are relative to.

Checked twice: at config time, the text (`path_problem`: no absolute path, no `..` segment, no
NUL), so the error names the file, line and key; at run time, the resolved path
(`resolve_inside`: symlinks followed, then containment checked), so a symlink in the source
cannot lead out either.

    path_problem("../../etc/passwd")        # "goes up out of its directory with '..'"
    resolve_inside(source, "reports")       # source/reports, resolved; PathEscape when outside
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from conveyor.errors import UserError


class PathEscape(UserError):
    """A user-given path resolves outside the directory it must stay in."""

    def __init__(self, what: str, value: str, root: Path):
        super().__init__(f"{what} '{value}' leads outside {root}",
                         hint="use a path relative to that directory, without '..' or symlinks that leave it")
        self.what, self.value, self.root = what, value, root


def path_problem(text: str, *, allow_absolute: bool = False) -> str | None:
    """Why `text` cannot be a path relative to its directory, or None.

    >>> path_problem("build/libs"), path_problem("/etc"), path_problem("a/../../b")
    (None, 'is an absolute path; expected a path relative to its directory', "goes up out of its directory with '..'")
    """
    if "\0" in text:
        return "holds a NUL byte"
    if os.path.isabs(text) or text.startswith("~"):
        if allow_absolute:
            return None
        return "is an absolute path; expected a path relative to its directory"
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return "goes up out of its directory with '..'"
    return None


def resolve_inside(root: Path, relative: str, what: str = "path") -> Path:
    """`root / relative`, with every symlink resolved, provided it is `root` or under it.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> resolve_inside(d, "a/b") == d.resolve() / "a" / "b"
    True
    """
    base = Path(root).resolve()
    if "\0" in relative:
        raise PathEscape(what, relative.replace("\0", "\\0"), base)
    target = (base / relative).resolve()
    if target != base and not target.is_relative_to(base):
        raise PathEscape(what, relative, base)
    return target


def is_inside(root: Path, path: Path) -> bool:
    """True when `path`, resolved (symlinks followed), is `root` (resolved) or under it."""
    base = Path(root).resolve()
    target = Path(path).resolve()
    return target == base or target.is_relative_to(base)
