"""The dashboard's files, read from the package (conveyor/data/dashboard, importlib.resources):
nothing is fetched from another site, so the dashboard works offline and its files are exactly
the ones installed.

A name is looked up segment by segment, each a plain file name (letters, digits, dot, dash,
underscore; no leading dot), so no request reaches outside the directory: `..`, an encoded
slash or a backslash is simply not a name. Each answer carries an ETag (the content's hash) and
`Cache-Control: no-cache`: the browser keeps the file and asks whether it changed, so a new
Conveyor's pages are used at once and an unchanged one costs a 304.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from importlib import resources

PACKAGE = "conveyor"
FOLDER = "data/dashboard"

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


class Assets:
    """The files, each read once and kept (they are a few tens of KiB)."""

    def __init__(self, package: str = PACKAGE, folder: str = FOLDER):
        root = resources.files(package)
        for part in folder.split("/"):
            root = root.joinpath(part)
        self.root = root
        self._cache: dict[str, Asset | None] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Asset | None:
        """The file at `name` (a relative path such as "pages/events.js"), or None."""
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        asset = self._load(name)
        with self._lock:
            if len(self._cache) < 1000:  # only names that were asked for; bounded anyway
                self._cache[name] = asset
        return asset

    def _load(self, name: str) -> Asset | None:
        segments = name.split("/")
        if not segments or len(segments) > 8 or not all(_SEGMENT.fullmatch(s) for s in segments):
            return None
        suffix = "." + segments[-1].rsplit(".", 1)[-1] if "." in segments[-1] else ""
        kind = TYPES.get(suffix.lower())
        if kind is None:
            return None
        node = self.root
        for segment in segments:
            node = node.joinpath(segment)
        try:
            if not node.is_file():
                return None
            body = node.read_bytes()
        except OSError:
            return None
        return Asset(body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def text(self, name: str) -> str:
        asset = self.get(name)
        if asset is None:
            raise FileNotFoundError(f"dashboard file {name} is missing from the package")
        return asset.body.decode("utf-8")
