"""The hostile-input corpus: files no configuration loader should choke on, each written into a
directory on demand (FIFOs, device symlinks and sparse gigabyte files cannot live in git). Used by
tests/hostile/test_hostile_validate.py (each through `conveyor validate --kind K`, expecting exit 2
and a positioned message) and by bench/hostile_input.py (time and peak memory of each).

    for case in build_cases(Path(tmp)):
        case.name, case.kind, case.path
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The file each kind is checked as, by `conveyor validate --kind KIND` (suffix picks the parser).
FILES = {
    "conveyor": "conveyor.yml",
    "buildspec": "buildspec.yml",
    "appspec": "appspec.yaml",
    "appspec-json": "appspec.json",
    "pipeline": "pipeline.json",
    "taskdef": "taskdef.json",
    "imagedefinitions": "imagedefinitions.json",
    "imagedetail": "imageDetail.json",
}
YAML_KINDS = ("conveyor", "buildspec", "appspec")
JSON_KINDS = ("appspec-json", "pipeline", "taskdef", "imagedefinitions", "imagedetail")
ALL_KINDS = YAML_KINDS + JSON_KINDS


def cli_kind(kind: str) -> str:
    return {"appspec-json": "appspec", "imagedetail": "imagedefinitions"}.get(kind, kind)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    path: Path


Maker = Callable[[Path], None]


def _bytes(data: bytes) -> Maker:
    return lambda path: path.write_bytes(data)


def _symlink(target: str) -> Maker:
    return lambda path: path.symlink_to(target)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _sparse(size: int) -> Maker:
    def make(path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(size)
    return make


def _dense(size: int, line: bytes) -> Maker:
    return _bytes(line * (size // len(line) + 1))


def _laughs(levels: int = 9, width: int = 10) -> bytes:
    """The ~400-byte YAML of the issue: each anchor a list of `width` aliases to the one before."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def _merge_chain(n: int) -> bytes:
    lines = ["b0: &b0 {x: 1}"] + [f"b{i}: &b{i} {{<<: *b{i - 1}, y{i}: 1}}" for i in range(1, n)]
    return ("\n".join(lines) + "\n").encode()


def _deep_block_yaml(n: int) -> bytes:
    return "".join(f"{' ' * i}k{i}:\n" for i in range(n)).encode() + b" " * n + b"leaf\n"


DIGITS = b"9" * 5000

#: Content written for every kind, in its own syntax where that matters: (name, yaml, json).
COMMON: list[tuple[str, Maker, Maker]] = [
    ("empty", _bytes(b""), _bytes(b"")),
    ("whitespace-only", _bytes(b"   \n\n# nothing\n"), _bytes(b"  \n\t\n")),
    ("nul-byte", _bytes(b"version: 0.2\x00\nphases: {}\n"), _bytes(b'{"a": 1,\x00 "b": 2}')),
    ("nul-escape", _bytes(b'version: "a\\0b"\n'), _bytes(b'{"family": "a\\u0000b"}')),
    ("invalid-utf8", _bytes(b"version: 0.2\nname: \xff\xfe\xfd\n"), _bytes(b'{"name": "\xff\xfe"}')),
    ("utf8-encoded-surrogate", _bytes(b"name: \xed\xa0\x80\n"), _bytes(b'{"name": "\xed\xa0\x80"}')),
    ("lone-surrogate-escape", _bytes(b'name: "\\ud800"\n'), _bytes(b'{"name": "\\ud800"}')),
    ("lone-surrogate-key", _bytes(b'"\\udfff": 1\n'), _bytes(b'{"\\udfff": 1}')),
    ("utf16-bom", _bytes("name: x\n".encode("utf-16")), _bytes('{"name": 1}'.encode("utf-16"))),
    ("utf32-bom", _bytes("name: x\n".encode("utf-32")), _bytes('{"name": 1}'.encode("utf-32"))),
    ("utf8-bom-then-garbage", _bytes(b"\xef\xbb\xbf\xef\xbb\xbf\x00"), _bytes(b"\xef\xbb\xbf\xef\xbb\xbf\x00")),
    ("binary-garbage", _bytes(bytes(range(256)) * 4), _bytes(bytes(range(256)) * 4)),
    ("dev-zero-symlink", _symlink("/dev/zero"), _symlink("/dev/zero")),
    ("dev-urandom-symlink", _symlink("/dev/urandom"), _symlink("/dev/urandom")),
    ("fifo", _fifo, _fifo),
    ("sparse-1gib", _sparse(1 << 30), _sparse(1 << 30)),
    ("dense-over-cap", _dense(1024 * 1024 + 1, b"# padding line\n"), _dense(1024 * 1024 + 1, b" " * 63 + b"\n")),
    ("deep-flow-100k", _bytes(b"[" * 100_000), _bytes(b"[" * 100_000)),
    ("deep-flow-closed-1000", _bytes(b"[" * 1000 + b"]" * 1000), _bytes(b"[" * 1000 + b"]" * 1000)),
    ("deep-mapping-1000", _bytes(b"{a: " * 1000 + b"1" + b"}" * 1000), _bytes(b'{"a":' * 1000 + b"1" + b"}" * 1000)),
    ("huge-int", _bytes(b"version: " + DIGITS + b"\n"), _bytes(b'{"cpu": ' + DIGITS + b"}")),
    ("huge-negative-int", _bytes(b"version: -" + DIGITS + b"\n"), _bytes(b'{"cpu": -' + DIGITS + b"}")),
    ("huge-int-in-list", _bytes(b"x: [1, 2, " + DIGITS + b"]\n"), _bytes(b"[1, 2, " + DIGITS + b"]")),
    ("unterminated-string", _bytes(b'version: "0.2\nphases: {}\n'), _bytes(b'{"family": "web')),
    ("unterminated-flow", _bytes(b"x: [1, 2, {a: b\n"), _bytes(b'{"a": [1, 2, {"b": 3}')),
    ("top-level-scalar", _bytes(b"just a string\n"), _bytes(b'"just a string"')),
    ("top-level-list", _bytes(b"- a\n- b\n"), _bytes(b"[1, 2, 3]")),
    ("top-level-null", _bytes(b"~\n"), _bytes(b"null")),
    ("top-level-number", _bytes(b"42\n"), _bytes(b"42")),
    ("duplicate-keys", _bytes(b"version: 0.2\nversion: 0.2\n"), _bytes(b'{"a": 1, "a": 2}')),
    ("symlink-loop", _symlink("loop-target-does-not-exist/../self"), _symlink("loop-target-does-not-exist/../self")),
    ("directory", lambda p: p.mkdir(), lambda p: p.mkdir()),
]

#: YAML only.
YAML_ONLY: list[tuple[str, Maker]] = [
    ("billion-laughs", _bytes(_laughs())),
    ("billion-laughs-mapping", _bytes(b"a: &a {x: 1, y: 1}\n" + b"".join(
        f"l{i}: &l{i} {{".encode() + b", ".join(f"k{j}: *{'a' if i == 0 else f'l{i - 1}'}".encode() for j in range(10))
        + b"}\n" for i in range(9)))),
    ("recursive-alias", _bytes(b"a: &a [*a]\n")),
    ("recursive-alias-mapping", _bytes(b"a: &a {b: *a}\n")),
    ("many-aliases", _bytes(b"x: &x 1\nl: [" + b", ".join([b"*x"] * 5000) + b"]\n")),
    ("merge-chain", _bytes(_merge_chain(3000))),
    ("undefined-alias", _bytes(b"a: *nowhere\n")),
    ("deep-block-300", _bytes(_deep_block_yaml(300))),
    ("tab-indentation", _bytes(b"phases:\n\tbuild:\n\t\tcommands: [ls]\n")),
    ("python-object-tag", _bytes(b"x: !!python/object/apply:os.system ['touch /tmp/pwned']\n")),
    ("unknown-tag", _bytes(b"x: !Ref Something\n")),
    ("impossible-date", _bytes(b"x: 2024-13-45\n")),
    ("bad-binary", _bytes(b"x: !!binary '%%%'\n")),
    ("complex-key", _bytes(b"? [a, b]\n: value\n")),
    ("mapping-key-alias", _bytes(b"k: &k {a: 1}\n*k : v\n")),
    ("two-documents", _bytes(b"a: 1\n---\nb: 2\n")),
    ("control-character", _bytes(b"version: 0.2\x07\n")),
    ("bad-indentation", _bytes(b"a:\n  b: 1\n c: 2\n")),
    ("huge-float-exponent", _bytes(b"version: 1e99999999\nphases: {}\n")),
    ("huge-sexagesimal", _bytes(b"x: 1" + b":59" * 2000 + b"\n")),
    ("huge-hex-int", _bytes(b"x: 0x" + b"f" * 5000 + b"\n")),
    ("huge-hex-int-few-digits", _bytes(b"x: 0x" + b"f" * 4000 + b"\n")),
    ("deep-block-sequence", _bytes(b"".join(b"  " * i + b"-\n" for i in range(300)) + b"  " * 300 + b"x\n")),
    ("yaml-version-2", _bytes(b"%YAML 2.0\n---\na: 1\n")),
    ("unclosed-single-quote", _bytes(b"version: '0.2\nphases: {}\n")),
    ("many-documents", _bytes(b"---\na: 1\n" * 1000)),
    ("null-key", _bytes(b"~: 1\nname: x\n")),
    ("overlong-line", _bytes(b"x: " + b"a" * (1024 * 1024 - 10) + b"\n")),
    ("many-small-values-yaml", _bytes(b"[" + b"1," * 300_000 + b"1]\n")),
]

#: JSON only.
JSON_ONLY: list[tuple[str, Maker]] = [
    ("trailing-comma", _bytes(b'{"a": 1,}')),
    ("comments", _bytes(b'{"a": 1 // comment\n}')),
    ("single-quotes", _bytes(b"{'a': 1}")),
    ("nan-and-infinity", _bytes(b'{"cpu": NaN, "memory": Infinity}')),
    ("huge-exponent", _bytes(b'{"cpu": 1e99999999}')),
    ("huge-fraction", _bytes(b'{"cpu": 0.' + DIGITS + b"}")),
    ("json-then-garbage", _bytes(b'{"a": 1} trailing')),
    ("deep-array-in-string-ok-then-deep", _bytes(b'{"s": "' + b"[" * 5000 + b'", "d": ' + b"[" * 5000 + b"}")),
    ("raw-control-in-string", _bytes(b'{"a": "line\nbreak"}')),
    ("bad-escape", _bytes(b'{"a": "\\x41"}')),
    ("many-small-values", _bytes(b"[" + b"0," * 500_000 + b"0]")),
    ("many-empty-objects", _bytes(b"[" + b"{}," * 300_000 + b"{}]")),
    ("lone-surrogate-after-pair", _bytes(b'{"a": "\\ud83d\\ude00\\udc00"}')),
    ("bom-inside", _bytes('{"a":\ufeff1}'.encode())),
]


#: Not hostile in shape but as large as the limits allow: what the worst accepted parse costs
#: (bench/hostile_input.py). The validators then refuse them (wrong top-level structure).
AT_CAP_YAML: list[tuple[str, Maker]] = [
    ("at-cap-nodes-flow", _bytes(b"[" + b"1," * 99_990 + b"1]\n")),
    ("at-cap-bytes-mapping", _bytes(b"".join(b"k%06d: v\n" % i for i in range(49_990)))),
    # An error at the end of a file just under the size up to which PyYAML's wording is wanted:
    # the text is parsed twice (libyaml, then PyYAML for the message).
    ("late-error-below-reparse", _bytes(b"".join(b"k%06d: v\n" % i for i in range(23_000)) + b"bad: [\n")),
    ("at-cap-aliases", _bytes(b"x: &x [" + b", ".join([b"1"] * 90) + b"]\nl: [" + b", ".join([b"*x"] * 1000)
                              + b"]\n")),
]
AT_CAP_JSON: list[tuple[str, Maker]] = [
    ("at-cap-nodes-array", _bytes(b"[" + b"1," * 99_990 + b"1]")),
    ("at-cap-bytes-object", _bytes(b"{" + b",".join(b'"k%06d":1' % i for i in range(87_000)) + b"}")),
]


def build_cases(root: Path, at_cap: bool = False) -> list[Case]:
    """Write every case under `root` (one directory per case and kind) and list them; `at_cap`
    adds the AT_CAP inputs."""
    cases: list[Case] = []

    def add(name: str, kind: str, make: Maker) -> None:
        directory = root / f"{name}--{kind}"
        directory.mkdir(parents=True)
        path = directory / FILES[kind]
        make(path)
        cases.append(Case(name, kind, path))

    for name, as_yaml, as_json in COMMON:
        for kind in ALL_KINDS:
            add(name, kind, as_yaml if kind in YAML_KINDS else as_json)
    for name, make in YAML_ONLY:
        for kind in YAML_KINDS:
            add(name, kind, make)
    for name, make in JSON_ONLY:
        for kind in JSON_KINDS:
            add(name, kind, make)
    if at_cap:
        for name, make in AT_CAP_YAML:
            for kind in YAML_KINDS:
                add(name, kind, make)
        for name, make in AT_CAP_JSON:
            for kind in JSON_KINDS:
                add(name, kind, make)
    return cases
