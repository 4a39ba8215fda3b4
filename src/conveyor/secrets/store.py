"""Secrets, encrypted at rest in the data directory: what Secrets Manager and Parameter Store are
to a build (aws-semantics §1.3 `env.secrets-manager` / `env.parameter-store`).

    store = SecretStore(home())
    store.set("prod/db", '{"user": "app", "password": "hunter2-s3cret"}')
    store.get("prod/db")                                   # the JSON text
    store.resolve_reference("prod/db:password")            # 'hunter2-s3cret'  (secrets-manager form)
    store.resolve_reference("/app/url", "parameter-store")  # a parameter name, same store
    store.list()                                           # [SecretInfo(name, created_at, updated_at)]
    store.delete("prod/db")

At rest: `secrets.db` (SQLite, 0600) holds name, ciphertext, created_at, updated_at. Each value is
sealed with AES-256-GCM (the `cryptography` package) under the 32-byte key in `secrets.key` (0600,
created at first use while holding `secrets.lock`, so racing first uses agree on one key), with a
fresh 96-bit nonce per write and the secret's name as associated data, so a ciphertext copied onto
another name does not decrypt. Stored blob: version byte 1, nonce, ciphertext+tag.

Every value the store writes, reads or resolves is added to a Masker (the process-wide one by
default), so it is hidden from logs and API responses from then on.

Errors: NotFound (unknown secret), UserError (bad name, value or reference), ConveyorError (key
file unreadable, insecure or not the key the secrets were sealed with).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conveyor.errors import ConveyorError, NotFound, UserError
from conveyor.home import PRIVATE_DIR_MODE
from conveyor.secrets.masking import Masker, default_masker

KEY_FILE, DB_FILE, LOCK_FILE = "secrets.key", "secrets.db", "secrets.lock"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
BLOB_VERSION = b"\x01"
NAME_RE = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")  # [api] Secrets Manager CreateSecret.Name
NAME_CHARSET = "A-Z a-z 0-9 / _ + = . @ -"
MAX_VALUE_BYTES = 65536  # [api] Secrets Manager SecretString, 64 KiB
CURRENT_STAGE = "AWSCURRENT"  # the only version stage kept locally
REFERENCE_KINDS = ("secrets-manager", "parameter-store")
ARN_SUFFIX_RE = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager appends 6 random characters to ARNs
BUSY_TIMEOUT_SECONDS = 10.0

SCHEMA = """CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY, ciphertext BLOB NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL)"""

SET_HINT = "create it with `conveyor secret set {name}` (the value is read from stdin)"


class SecretInfo(NamedTuple):
    name: str
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}…"
        raise UserError(f"invalid secret name '{shown}': use 1 to 512 of the characters {NAME_CHARSET}")
    return name


def check_value(value: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"a secret value must be text, got {type(value).__name__}")
    size = len(value.encode())
    if size == 0:
        raise UserError("the secret value is empty", hint="pipe the value on stdin: "
                                                          "`printf %s \"$VALUE\" | conveyor secret set NAME`")
    if size > MAX_VALUE_BYTES:
        raise UserError(f"the secret value is {size} bytes; the limit is {MAX_VALUE_BYTES} bytes (64 KiB, as in "
                        "Secrets Manager)", hint="store a file's location instead, or split the value")
    return value


def read_or_create_key(path: Path, *, may_create: bool = True) -> bytes:
    """The key in `path`; created (0600) if absent. Two processes racing agree on one key."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode & 0o777
            key = f.read()
    except FileNotFoundError:
        if not may_create:
            raise
        return _create_key(path)
    if mode & 0o077:
        raise ConveyorError(f"{path} is readable by other users (mode {mode:o})", hint=f"run `chmod 600 {path}`")
    if len(key) != KEY_BYTES:
        raise ConveyorError(f"{path} holds {len(key)} bytes, not a {KEY_BYTES}-byte key",
                            hint="restore it from a backup; without it the stored secrets cannot be decrypted")
    return key


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    key = os.urandom(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # appears complete or not at all; fails if another process got there first
    except FileExistsError:
        return read_or_create_key(path, may_create=False)
    finally:
        tmp.unlink(missing_ok=True)
    return key


class SecretStore:
    def __init__(self, home: Path, *, masker: Masker | None = None, clock: Callable[[], float] = time.time):
        self.home = Path(home)
        self.key_path = self.home / KEY_FILE
        self.db_path = self.home / DB_FILE
        self.masker = masker if masker is not None else default_masker()
        self.clock = clock
        self._key: bytes | None = None

    # -- effects
    def _connect(self) -> sqlite3.Connection:
        self.home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))  # before SQLite creates it 0644
        con = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_SECONDS)
        con.execute(SCHEMA)
        return con

    def _aead(self) -> AESGCM:
        if self._key is None:
            self._key = self._load_key()
        return AESGCM(self._key)

    def _load_key(self) -> bytes:
        """The key file's key; at first use, a new one. Whether a missing key is a first use or a
        lost key is decided holding `secrets.lock` (flock), the only place a key is created: checked
        without it, another process could create the key and store secrets between our "no key" and
        our "how many secrets" (two writers at first use saw "holds 4 secrets but the key is
        missing"). An flock, not SQLite's write lock: waiters wake at once instead of polling."""
        try:
            return read_or_create_key(self.key_path, may_create=False)
        except FileNotFoundError:
            pass
        self.home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        fd = os.open(self.home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.key_path.exists():  # made by another process while we waited for the lock
                return read_or_create_key(self.key_path, may_create=False)
            if self.db_path.exists():
                with closing(self._connect()) as con:
                    count = con.execute("SELECT COUNT(*) FROM secrets").fetchone()[0]
                if count:
                    raise ConveyorError(f"{self.db_path} holds {count} secrets but {self.key_path} is missing",
                                        hint=f"restore {KEY_FILE} from a backup; or, to start over and lose those "
                                             f"secrets, remove {self.db_path}")
            return read_or_create_key(self.key_path)
        finally:
            os.close(fd)

    # -- the store
    def set(self, name: str, value: str) -> None:
        check_name(name)
        check_value(value)
        nonce = os.urandom(NONCE_BYTES)
        blob = BLOB_VERSION + nonce + self._aead().encrypt(nonce, value.encode(), name.encode())
        now = self.clock()
        with closing(self._connect()) as con, con:
            con.execute("INSERT INTO secrets (name, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, "
                        "updated_at = excluded.updated_at", (name, blob, now, now))
        self.masker.add(value)

    def get(self, name: str) -> str:
        check_name(name)
        with closing(self._connect()) as con:
            row = con.execute("SELECT ciphertext FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no secret named '{name}'", hint=SET_HINT.format(name=name) + ", or list them with "
                                                                                          "`conveyor secret ls`")
        value = self._open(name, row[0])
        self.masker.add(value)
        return value

    def _open(self, name: str, blob: bytes) -> str:
        if blob[:1] != BLOB_VERSION:
            raise ConveyorError(f"secret '{name}' is stored in an unknown format (version byte {blob[:1]!r})")
        nonce, sealed = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        try:
            return self._aead().decrypt(nonce, sealed, name.encode()).decode()
        except InvalidTag:
            raise ConveyorError(f"secret '{name}' cannot be decrypted with {self.key_path}",
                                hint="the key file was replaced, or secrets.db comes from another data directory; "
                                     "restore the matching key, or set the secret again") from None

    def list(self) -> list[SecretInfo]:
        """Names and dates only, by name; never values."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT name, created_at, updated_at FROM secrets ORDER BY name").fetchall()
        utc = timezone.utc
        return [SecretInfo(n, datetime.fromtimestamp(c, utc), datetime.fromtimestamp(u, utc)) for n, c, u in rows]

    def delete(self, name: str) -> None:
        check_name(name)
        with closing(self._connect()) as con, con:
            deleted = con.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFound(f"no secret named '{name}'", hint="list secrets with `conveyor secret ls`")

    def mask_all(self) -> int:
        """Register every stored value with the masker (at daemon start); returns how many."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT name, ciphertext FROM secrets").fetchall()
        for name, blob in rows:
            self.masker.add(self._open(name, blob))
        return len(rows)

    # -- buildspec references
    def resolve_reference(self, ref: str, kind: str = "secrets-manager") -> str:
        """The value a buildspec `env.secrets-manager` (`secret-id:json-key:version-stage:version-id`)
        or `env.parameter-store` (`/path/name`) entry refers to."""
        if kind == "parameter-store":
            return self._resolve_parameter(ref)
        if kind != "secrets-manager":
            raise ValueError(f"kind must be one of {REFERENCE_KINDS}, got {kind!r}")
        secret_id, json_key, stage, version_id = split_secret_reference(ref)
        if stage and version_id:
            raise UserError(f"secret reference '{ref}': give a version stage or a version id, not both")
        if stage not in ("", CURRENT_STAGE) or version_id:
            what = f"version stage '{stage}'" if stage not in ("", CURRENT_STAGE) else f"version id '{version_id}'"
            raise UserError(f"secret reference '{ref}': {what} is not available locally; Conveyor keeps only the "
                            f"current value ({CURRENT_STAGE})",
                            hint=f"leave the version parts empty: '{secret_id}{':' + json_key if json_key else ''}'")
        candidates = local_names(secret_id)
        name = self._existing(candidates, ref, suggest=candidates[-1])
        value = self.get(name)
        return value if not json_key else self._json_key(name, value, json_key)

    def _json_key(self, name: str, value: str, key: str) -> str:
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise UserError(f"secret '{name}' is not a JSON object, so json-key '{key}' cannot be read from it",
                            hint=f"drop ':{key}' to use the whole value, or store a JSON object with "
                                 f"`conveyor secret set {name}`")
        if key not in data:
            keys = ", ".join(sorted(data)) or "none"
            raise UserError(f"secret '{name}' has no JSON key '{key}' (its keys: {keys})")
        item = data[key]
        extracted = item if isinstance(item, str) else json.dumps(item)
        self.masker.add(extracted)
        return extracted

    def _resolve_parameter(self, ref: str) -> str:
        name, _, selector = ref.partition(":") if not ref.startswith("arn:") else (ref, "", "")
        if selector:
            raise UserError(f"parameter reference '{ref}': version and label selectors (':{selector}') are not "
                            "supported locally; Conveyor keeps one value per name", hint=f"use '{name}'")
        if name.startswith("arn:"):
            resource = name.split(":", 5)[-1]
            if not resource.startswith("parameter/"):
                raise UserError(f"parameter reference '{ref}' is not a Parameter Store ARN "
                                "(arn:aws:ssm:<region>:<account>:parameter/<name>)")
            plain = resource[len("parameter/"):]
            return self.get(self._existing([f"/{plain}", plain], ref))
        return self.get(self._existing([name], ref))

    # Sequence, not list: inside the class `list` is the method above.
    def _existing(self, candidates: Sequence[str], ref: str, suggest: str | None = None) -> str:
        with closing(self._connect()) as con:
            for name in candidates:
                found = con.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone()
                if found and NAME_RE.fullmatch(name):
                    return name
        suggest = suggest or candidates[0]
        raise NotFound(f"no secret named '{suggest}' (referenced as '{ref}')", hint=SET_HINT.format(name=suggest))


def split_secret_reference(ref: str) -> tuple[str, str, str, str]:
    """'id:json-key:stage:version-id' -> its four parts ('' when absent); an ARN id keeps its colons."""
    parts = ref.split(":")
    head = 7 if ref.startswith("arn:") else 1  # arn:aws:secretsmanager:<region>:<account>:secret:<name>
    if len(parts) < head or not parts[head - 1]:
        raise UserError(f"secret reference '{ref}' names no secret",
                        hint="use secret-id[:json-key[:version-stage[:version-id]]]")
    rest = parts[head:]
    if len(rest) > 3:
        raise UserError(f"secret reference '{ref}' has too many ':'-separated parts",
                        hint="use secret-id[:json-key[:version-stage[:version-id]]]")
    json_key, stage, version_id = rest + [""] * (3 - len(rest))
    return ":".join(parts[:head]), json_key, stage, version_id


def local_names(secret_id: str) -> list[str]:
    """The local names a secret id may mean: an ARN's name, with and without its random suffix."""
    if not secret_id.startswith("arn:"):
        return [secret_id]
    name = secret_id.split(":")[6]
    bare = ARN_SUFFIX_RE.sub("", name)
    return [name, bare] if bare != name else [name]
