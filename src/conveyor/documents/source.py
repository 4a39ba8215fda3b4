"""Getting a user's file from disk to checked text, refusing what no configuration file is: special
files (a FIFO would block the reader forever, /dev/zero would feed it forever), files over the
byte cap, text that is not UTF-8, and NUL characters. Each refusal is a ConfigError with a
position, so `conveyor validate` prints `file:line:col: why` and exits 2.

    text = read_text_file(Path("buildspec.yml"), "buildspec.yml")     # str, BOM removed
    text = decode_text(body_bytes, "request body")                      # the same checks, from bytes
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conveyor.documents.limits import DEFAULT, Limits
from conveyor.errors import ConfigError, Diagnostic

#: Byte-order marks of encodings that are not UTF-8: named, because "invalid start byte" is no help.
_FOREIGN_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
                 (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


def refuse(file: str, line: int, column: int, message: str, path: str = "") -> ConfigError:
    return ConfigError([Diagnostic(file, line, column, path, message)])


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | Path, file: str, limits: Limits = DEFAULT) -> int:
    """A descriptor open on `path`, which is a regular file of at most `limits.max_bytes` bytes
    (as far as fstat knows: the reader counts too). A special file is refused from stat, before
    anything opens it (opening a device can itself have effects); the open does not block (a FIFO
    swapped in after the stat would otherwise hang it) and fstat on the open descriptor checks
    again, so a symlink changed between the two cannot lead elsewhere."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        _check_kind(os.stat(path), file, limits)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise refuse(file, 0, 0, "file not found") from None
    except IsADirectoryError:
        raise refuse(file, 0, 0, "is a directory, expected a file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise refuse(file, 0, 0, f"cannot read the file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        _check_kind(os.fstat(fd), file, limits)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_kind(info: os.stat_result, file: str, limits: Limits) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise refuse(file, 0, 0, "is a directory, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise refuse(file, 1, 1, f"is {_kind(info.st_mode)}, not a regular file: Conveyor reads "
                                 f"{file.rsplit('/', 1)[-1]} only from a regular file")
    if info.st_size > limits.max_bytes:
        raise _too_big(file, info.st_size, limits)


def read_file_bytes(path: str | Path, file: str, limits: Limits = DEFAULT) -> bytes:
    """At most `limits.max_bytes` bytes of a regular file (open_regular), or ConfigError."""
    fd = open_regular(path, file, limits)
    try:
        chunks: list[bytes] = []
        left = limits.max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 256 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise refuse(file, 0, 0, f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limits.max_bytes:  # it grew after fstat
        raise _too_big(file, len(raw), limits)
    return raw


def _too_big(file: str, size: int, limits: Limits) -> ConfigError:
    return refuse(file, 1, 1, f"the file is {size:,} bytes or more; Conveyor reads files of this kind up to "
                              f"{limits.max_bytes:,} bytes")


def decode_text(raw: bytes, file: str, limits: Limits = DEFAULT) -> str:
    """UTF-8 text without its byte-order mark, or ConfigError at the first byte that is not."""
    if len(raw) > limits.max_bytes:
        raise refuse(file, 1, 1, f"{len(raw):,} bytes is over the limit of {limits.max_bytes:,} bytes")
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            raise refuse(file, 1, 1, f"the text is {name} (it starts with a {name} byte-order mark); save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start].decode("utf-8", "replace")
        line, column = position(before, len(before))
        raise refuse(file, line, column, f"not UTF-8 text (byte {exc.start}: 0x{raw[exc.start]:02x}, "
                                         f"{exc.reason})") from None
    check_characters(text, file)
    return text


def check_characters(text: str, file: str) -> None:
    """No NUL and no lone surrogate (only possible in a str that did not come from UTF-8 bytes)."""
    nul = text.find("\x00")
    if nul >= 0:
        line, column = position(text, nul)
        raise refuse(file, line, column, "a NUL character (byte 0) is not allowed in a configuration file")
    bad = first_surrogate(text)
    if bad >= 0:
        line, column = position(text, bad)
        raise refuse(file, line, column, f"a lone surrogate (U+{ord(text[bad]):04X}) is not a character")


def first_surrogate(text: str) -> int:
    """Offset of the first UTF-16 surrogate code point in `text`, or -1."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return -1


def read_text_file(path: str | Path, file: str, limits: Limits = DEFAULT) -> str:
    return decode_text(read_file_bytes(path, file, limits), file, limits)
