"""Which files a build uploads: buildspec `artifacts`, `secondary-artifacts` and `reports` file
selection, and cache keys (aws-semantics §1.8, §1.9, §1.10).

Pure: the runner lists the files under the build directory (relative paths, `/`-separated, files
only) and copies what `select` returns. Each secondary artifact and each report group is one more
call with its own settings.

    >>> select(["build/app.jar", "build/lib/x.jar", "README.md"], ["**/*"], base_directory="build")
    [('build/app.jar', 'app.jar'), ('build/lib/x.jar', 'lib/x.jar')]

Globs are the CodePipeline/CodeBuild language of `conveyor.globs` (`*` stays in one
segment, `**` crosses them, `?`, `[...]`, `{a,b}`) with one difference: a `**/` that starts a
segment also matches *zero* directories, so `**/*` is "every file" including those at the top
and `dir/**/*` includes `dir/a` — the way buildspecs use them (`files: ['**/*']` ships the whole
base directory). The trigger filters keep Java's rule, where `**/*.md` skips `README.md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from conveyor.errors import ConveyorError
from conveyor.glob_engine import Glob, GlobError, parse

CLIENT_ERROR = "CLIENT_ERROR"  # the phase-context status code of UPLOAD_ARTIFACTS failures
MAX_FALLBACK_KEYS = 5          # cache `fallback-keys` (§1.10)
HASH_FILES = re.compile(r"\$\(\s*codebuild-hash-files((?:\s+[^\s)]+)+)\s*\)")


class ArtifactError(ConveyorError):
    """UPLOAD_ARTIFACTS fails with CLIENT_ERROR and this message (str() is CodeBuild's text)."""

    status_code = CLIENT_ERROR


class NoMatchingArtifactPaths(ArtifactError):
    def __init__(self) -> None:  # CodeBuild's message, from its logs (§10 gotcha threads)
        super().__init__("no matching artifact paths found")


class NoMatchingBaseDirectory(ArtifactError):
    def __init__(self, base_directory: str) -> None:  # CodeBuild's message, from its logs
        super().__init__(f"no matching base directory path found for {base_directory}")
        self.base_directory = base_directory


class ArtifactNameCollision(ArtifactError):
    """[inferred] discard-paths (or several base directories) put two files at one name; AWS
    does not say which one wins, so we refuse rather than ship one silently."""

    def __init__(self, dest: str, sources: tuple[str, str]) -> None:
        super().__init__(f"artifact path {dest} would hold both {sources[0]} and {sources[1]}",
                         hint="rename one of them, or set discard-paths: no")
        self.dest, self.sources = dest, sources


class InvalidArtifactGlob(ArtifactError):
    pass


def normalize(path: str) -> str:
    """`./a/b/` → `a/b`; `.` and `./` → `` (the build directory itself)."""
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/")
    return "" if path == "." else path


@lru_cache(maxsize=1024)
def compile_artifact_glob(pattern: str) -> Glob:
    """The glob as a matcher in which each segment-starting `**/` may also match nothing; linear
    in the path whatever the number of `**/` (conveyor.glob_engine; bench/globs.py).

    >>> compile_artifact_glob("**/*").fullmatch("appspec.yml")
    True
    """
    try:
        return parse(normalize(pattern), zero_dirs=True)
    except GlobError as exc:
        raise InvalidArtifactGlob(str(exc)) from exc


def artifact_match(pattern: str, path: str) -> bool:
    """True when `path` (relative, `/`-separated) matches the whole artifact glob.

    >>> artifact_match("dir/*", "dir/a"), artifact_match("dir/*", "dir/a/b")
    (True, False)
    """
    return compile_artifact_glob(pattern).fullmatch(path)


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[{")


def directories(paths: Iterable[str]) -> list[str]:
    """Every directory that holds a listed file, sorted."""
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        found.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
    return sorted(found)


@dataclass(frozen=True)
class Selection:
    """The files to ship as (source relative to the build dir, destination inside the artifact);
    `skipped` are explicit (non-glob) `files` entries that matched nothing — CodeBuild logs
    `Skipping invalid file path <entry>` for each and fails only when nothing at all matched."""

    files: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    base_directories: list[str] = field(default_factory=list)


def expand(paths: Iterable[str], files_globs: Sequence[str], base_directory: str | None = None,
           discard_paths: bool = False, exclude_paths: Sequence[str] = (), *,
           allow_empty: bool = False) -> Selection:
    """The full selection; see `select`. `allow_empty` is for report groups, which may find no
    files without failing the build [inferred]."""
    paths = sorted({normalize(p) for p in paths})
    bases = [""]
    if base_directory is not None and normalize(base_directory):
        base = normalize(base_directory)
        bases = [d for d in directories(paths) if artifact_match(base, d)]
        if not bases:
            if allow_empty:
                return Selection()
            raise NoMatchingBaseDirectory(base_directory)
    chosen: dict[str, str] = {}   # dest -> src
    seen: set[str] = set()
    matched_entries: set[str] = set()
    for base in bases:
        prefix = base + "/" if base else ""
        inside = [(p, p[len(prefix):]) for p in paths if p.startswith(prefix)]
        for entry in files_globs:
            for src, rel in inside:
                if not artifact_match(entry, rel):
                    continue
                matched_entries.add(entry)
                if src in seen or any(artifact_match(x, rel) for x in exclude_paths):
                    continue
                seen.add(src)
                dest = rel.rsplit("/", 1)[-1] if discard_paths else rel
                if dest in chosen:
                    raise ArtifactNameCollision(dest, (chosen[dest], src))
                chosen[dest] = src
    files = [(src, dest) for dest, src in chosen.items()]
    skipped = [e for e in files_globs if e not in matched_entries and not is_glob(e)]
    if not files and not allow_empty:
        raise NoMatchingArtifactPaths()
    return Selection(files, skipped, [b or "." for b in bases])


def select(paths: Iterable[str], files_globs: Sequence[str], base_directory: str | None = None,
           discard_paths: bool = False, exclude_paths: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Pick the files of one artifact: (source path, path inside the artifact), in `files` order.

    `files` and `exclude-paths` are relative to `base-directory` (itself a glob; each matching
    directory contributes its *contents*, §1.9); discard-paths keeps only the file name. A file
    matched twice ships once. Raises NoMatchingArtifactPaths when nothing matched,
    NoMatchingBaseDirectory, ArtifactNameCollision.

    >>> select(["a/x.txt", "b/y.txt", "b/.env"], ["**/*"], discard_paths=True,
    ...        exclude_paths=["**/.*"])
    [('a/x.txt', 'x.txt'), ('b/y.txt', 'y.txt')]
    """
    return expand(paths, files_globs, base_directory, discard_paths, exclude_paths).files


# --- cache keys ------------------------------------------------------------------------------

def cache_key(template: str, hash_files: Callable[[list[str]], str]) -> str:
    """Replace each `$(codebuild-hash-files <glob>...)` in a cache `key` with
    `hash_files(globs)` (the runner hashes the matching files, §1.10). Other shell syntax in the
    key (`$VAR`, other `$(...)`) is left for the runner's shell [inferred: AWS evaluates the key
    in the build shell].

    >>> cache_key("npm-$(codebuild-hash-files package-lock.json)", lambda g: "ab12")
    'npm-ab12'
    """
    return HASH_FILES.sub(lambda m: hash_files(m.group(1).split()), template)


def check_fallback_keys(fallback_keys: Sequence[str], key: str | None) -> list[str]:
    """≤5 fallback keys, and they are ignored without a `key` (§1.10)."""
    if len(fallback_keys) > MAX_FALLBACK_KEYS:
        raise ValueError(f"cache fallback-keys holds {len(fallback_keys)} keys; at most "
                         f"{MAX_FALLBACK_KEYS} are allowed")
    return list(fallback_keys) if key else []


def choose_cache(key: str | None, fallback_keys: Sequence[str],
                 available: Sequence[str]) -> str | None:
    """Which stored cache to restore: the exact `key`, else the first fallback key that prefixes
    a stored key (fallbacks in order). `available` is newest first, so among several caches that
    share a prefix the newest wins [inferred].

    >>> choose_cache("npm-ab12", ["npm-"], ["npm-ff00", "npm-0001"])
    'npm-ff00'
    """
    if not key:
        return None
    if key in available:
        return key
    for prefix in check_fallback_keys(fallback_keys, key):
        for stored in available:
            if stored.startswith(prefix):
                return stored
    return None
