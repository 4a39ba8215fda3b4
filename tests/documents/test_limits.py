"""Each limit of documents/limits.py, at the boundary (one under is read, one over is refused with
its position), with small Limits so the tests need no large inputs; then the defaults against
the inputs the issue reported, and the daemon's path (conveyor.yml from a pushed commit)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conveyor.config.pipeline import load_pipeline_text
from conveyor.documents.limits import DEFAULT, Limits
from conveyor.documents.located import load_file, load_json, load_text, load_yaml, loads_limited, parse_json_limited
from conveyor.documents.source import decode_text, read_file_bytes
from conveyor.errors import ConfigError, UserError


def refused(call) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    assert len(info.value.diagnostics) == 1
    return str(info.value.diagnostics[0])


def laughs(levels: int, width: int = 10) -> str:
    lines = ["a0: &a0 [lol, lol]"] + [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]"
                                      for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


# --- aliases and expanded nodes ----------------------------------------------------------------

def test_anchors_and_merge_keys_in_moderation_still_load():
    text = ("defaults: &defaults {image: base, env: {A: '1'}}\n"
            "build: &build\n  <<: *defaults\n  image: custom\n"
            "test: *defaults\n"
            "again: *build\n")
    doc = load_yaml(text, "buildspec.yml")
    assert doc.data["build"] == doc.data["again"] == {"image": "custom", "env": {"A": "1"}}
    assert doc.data["test"] == {"image": "base", "env": {"A": "1"}}
    assert doc.where(("build", "image")) == (4, 3)
    assert doc.where(("test", "env", "A")) == (1, 41)  # an alias's children point into the anchor


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate():
    text = "d: &d {a: 1}\nm:\n  <<: *d\n  a: 2\n  a: 3\n"
    assert refused(lambda: load_yaml(text, "x.yml")) == "x.yml:5:3 m.a: duplicate key 'a' (first defined on line 4)"


def test_expanded_nodes_are_counted_through_aliases():
    small = Limits(max_nodes=200)
    load_yaml(laughs(1), "x.yml", small)  # 2 + 10 * 3 nodes
    assert refused(lambda: load_yaml(laughs(3), "x.yml", small)) == (
        "x.yml:3:35: more than 200 nodes in one document (an alias counts as a copy of what it names)")


def test_the_billion_laughs_is_refused_at_the_default_caps():
    message = refused(lambda: load_yaml(laughs(9), "conveyor.yml"))
    assert message.startswith("conveyor.yml:6:20: more than 100,000 nodes in one document")


def test_aliases_are_capped():
    text = "x: &x 1\nl: [" + ", ".join(["*x"] * 4) + "]\n"
    assert load_yaml(text, "x.yml", Limits(max_aliases=4)).data["l"] == [1, 1, 1, 1]
    assert refused(lambda: load_yaml(text, "x.yml", Limits(max_aliases=3))) == (
        "x.yml:2:17: more than 3 aliases in one document")


@pytest.mark.parametrize("text, where", [("a: &a [*a]\n", "1:8"), ("a: &a {b: [1, {c: *a}]}\n", "1:19")])
def test_an_alias_inside_its_own_anchor_is_refused(text, where):
    assert refused(lambda: load_yaml(text, "x.yml")) == (
        f"x.yml:{where}: alias *a refers to a node that contains it (a recursive structure)")


# --- nesting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("load, nest", [
    (load_yaml, lambda n: "[" * n + "]" * n),
    (load_yaml, lambda n: "".join(f"{'  ' * i}k:\n" for i in range(n - 1)) + "  " * (n - 1) + "k: v\n"),
    (load_json, lambda n: "[" * n + "]" * n),
    (load_json, lambda n: '{"a": ' * n + "1" + "}" * n),
])
def test_nesting_is_capped_in_yaml_and_json(load, nest):
    limits = Limits(max_depth=5)
    load(nest(5), "x", limits)
    assert refused(lambda: load(nest(6), "x", limits)).endswith(": nested more than 5 levels deep")


def test_brackets_inside_json_strings_do_not_count():
    text = '{"s": "' + "[" * 100 + '", "t": "\\"[[[["}'
    assert load_json(text, "x.json", Limits(max_depth=2)).data["s"] == "[" * 100


def test_the_depth_error_points_at_the_first_bracket_over_the_cap():
    assert refused(lambda: load_json('{"a": [[[1]]]}', "x.json", Limits(max_depth=3))) == (
        "x.json:1:9: nested more than 3 levels deep")


# --- numbers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("load, text, where", [
    (load_yaml, "cpu: {}\n", "x:1:6 cpu"),
    (load_yaml, "cpu: -{}\n", "x:1:6 cpu"),
    (load_json, '{{"cpu": {}}}', "x:1:9"),
    (load_json, '[1, -{}]', "x:1:6"),
])
def test_numbers_over_the_digit_cap_are_refused(load, text, where):
    limits = Limits(max_number_digits=5)
    assert load(text.format("12345"), "x", limits)
    message = refused(lambda: load(text.format("123456"), "x", limits))
    assert message.startswith(f"{where}: a") and "6 digits; at most 5 are accepted" in message


def test_a_yaml_hex_integer_is_held_to_the_decimal_cap():
    load_yaml("x: 0xfffff\n", "x", Limits(max_number_digits=7))  # 1,048,575
    assert refused(lambda: load_yaml("x: 0xfffffffff\n", "x", Limits(max_number_digits=7))) == (
        "x:1:4 x: an integer of more than 7 decimal digits")


def test_the_issue_s_4301_digit_integer_is_a_clean_error():
    assert "4,301 digits" in refused(lambda: load_yaml("version: " + "1" * 4301, "buildspec.yml"))
    assert "4,301 digits" in refused(lambda: load_json('{"a": ' + "1" * 4301 + "}", "taskdef.json"))
    assert load_json('{"a": ' + "1" * 4300 + "}", "taskdef.json").data["a"] > 0


# --- characters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("load, text, expected", [
    (load_yaml, "a: 1\nb: x\x00y\n", "x:2:5: a NUL character (byte 0) is not allowed in a configuration file"),
    (load_yaml, 'a: 1\nb: "x\\0y"\n', "x:2:4 b: a NUL character is not allowed in a string"),
    (load_json, '{"a": "\\u0000"}', "x:1:7 a: a NUL character is not allowed in a string"),
    (load_json, '{"a": ["ok", "\\udfff"]}', "x:1:14 a[1]: a lone surrogate (U+DFFF) is not a character"),
    (load_json, '{"\\ud800": 1}', "x:1:2: a lone surrogate (U+D800) is not a character"),
    (load_yaml, "a: 1\nb: x\ud800\n", "x:2:5: a lone surrogate (U+D800) is not a character"),
])
def test_nul_and_lone_surrogates_are_refused_with_their_position(load, text, expected):
    assert refused(lambda: load(text, "x")) == expected


def test_a_surrogate_pair_escape_is_one_character():
    assert load_json('{"a": "\\ud83d\\ude00"}', "x").data["a"] == "\U0001f600"


@pytest.mark.parametrize("raw, expected", [
    (b"a: 1\nb: \xc3(\n", "x:2:4: not UTF-8 text (byte 8: 0xc3, invalid continuation byte)"),
    ("a: 1".encode("utf-16"), "x:1:1: the text is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"),
    (b"\xef\xbb\xbfa: 1\x00", "x:1:5: a NUL character (byte 0) is not allowed in a configuration file"),
])
def test_bytes_that_are_not_clean_utf8_are_refused_with_their_position(raw, expected):
    assert refused(lambda: decode_text(raw, "x")) == expected


def test_a_utf8_bom_is_dropped():
    assert decode_text(b"\xef\xbb\xbfa: 1\n", "x") == "a: 1\n"


# --- files --------------------------------------------------------------------------------------

def test_the_byte_cap_reads_one_byte_more_than_it_accepts(tmp_path):
    path = tmp_path / "x.yml"
    path.write_bytes(b"a: 1\n" * 2)
    assert read_file_bytes(path, "x.yml", Limits(max_bytes=10)) == b"a: 1\n" * 2
    assert refused(lambda: read_file_bytes(path, "x.yml", Limits(max_bytes=9))) == (
        "x.yml:1:1: the file is 10 bytes or more; Conveyor reads files of this kind up to 9 bytes")
    assert refused(lambda: load_text("a: 12345", "x.yml", Limits(max_bytes=7))).startswith("x.yml:1:1: the text is 8")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "conveyor.yml"
    os.mkfifo(fifo)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(refused(lambda: load_file(fifo, "conveyor.yml"))),
                              daemon=True)
    reader.start()
    reader.join(60)  # only so a regression fails instead of hanging the suite
    assert result == ["conveyor.yml:1:1: is a FIFO (named pipe), not a regular file: Conveyor reads "
                      "conveyor.yml only from a regular file"]


def test_a_symlink_to_a_device_is_refused_and_one_to_a_file_is_followed(tmp_path):
    (tmp_path / "zero.yml").symlink_to("/dev/zero")
    assert "is a character device, not a regular file" in refused(lambda: load_file(tmp_path / "zero.yml"))
    (tmp_path / "real.yml").write_text("a: 1\n")
    (tmp_path / "link.yml").symlink_to(tmp_path / "real.yml")
    assert load_file(tmp_path / "link.yml").data == {"a": 1}


def test_a_sparse_file_over_the_cap_is_refused_from_its_size(tmp_path):
    path = tmp_path / "taskdef.json"
    with open(path, "wb") as f:
        f.truncate(1 << 40)  # 1 TiB, nothing of it on disk
    assert refused(lambda: load_file(path, "taskdef.json")) == (
        "taskdef.json:1:1: the file is 1,099,511,627,776 bytes or more; Conveyor reads files of this kind up to "
        "1,048,576 bytes")


# --- the daemon's path and the API's helper ------------------------------------------------------

def test_the_daemon_parses_a_pushed_conveyor_yml_under_the_same_limits():
    """engine/service.py reads conveyor.yml from the pushed commit and calls load_pipeline_text:
    the alias bomb, deep nesting and a huge integer each end as a ConfigError naming the commit."""
    for text, expected in [
        (laughs(9), "conveyor.yml@abc1234:6:20: more than 100,000 nodes in one document"),
        ("a: " + "[" * 10_000, "conveyor.yml@abc1234:1:67: nested more than 64 levels deep"),
        ("name: " + "9" * 5000, "conveyor.yml@abc1234:1:7 name: an integer with 5,000 digits"),
        ("name: x\x00", "conveyor.yml@abc1234:1:8: a NUL character"),
    ]:
        assert refused(lambda text=text: load_pipeline_text(text, "conveyor.yml@abc1234")).startswith(expected)


def test_parse_json_limited_for_request_bodies():
    assert parse_json_limited(b'{"a": [1, 2]}') == {"a": [1, 2]}
    for body, expected in [(b"[" * 100_000, "request body:1:65: nested more than 64 levels deep"),
                           (b'{"a": 1', "request body:1:8: malformed JSON: Expecting ',' delimiter"),
                           (b"\xff", "request body:1:1: not UTF-8 text (byte 0: 0xff, invalid start byte)"),
                           (b" " * (DEFAULT.max_bytes + 1), "request body:1:1: 1,048,577 bytes is over the limit")]:
        with pytest.raises(UserError) as info:
            parse_json_limited(body)
        assert str(info.value).startswith(expected)


def test_loads_limited_is_json_loads_with_positions():
    assert loads_limited('{"family": "web"}', "taskdef.json") == {"family": "web"}
    assert refused(lambda: loads_limited('{"family": "web"', "taskdef.json")).startswith("taskdef.json:1:17:")


def test_the_documented_limits_are_the_limits():
    root = Path(__file__).resolve().parents[2]
    numbers = [f"{DEFAULT.max_bytes:,} bytes", f"{DEFAULT.max_depth} levels", f"{DEFAULT.max_nodes:,} nodes",
               f"{DEFAULT.max_aliases:,} aliases", f"{DEFAULT.max_number_digits:,} digits"]
    for doc in ("README.md", "docs/conveyor.reference.yml"):
        text = " ".join((root / doc).read_text().split())
        assert [n for n in numbers if n not in text] == [], doc


def test_yaml_values_are_json_values():
    """Dates stay the text written (YAML 1.2 and AWS's parsers have no date type), so a validator
    expecting a string or a list never meets a datetime; !!binary is refused."""
    doc = load_yaml("a: 2024-01-01\nb: 2024-01-01t10:00:00Z\nc: !!set {x, y}\n", "x.yml")
    assert doc.data == {"a": "2024-01-01", "b": "2024-01-01t10:00:00Z", "c": {"x": None, "y": None}}
    assert refused(lambda: load_yaml("a: !!binary aGVsbG8=\n", "x.yml")) == (
        "x.yml:1:4 a: !!binary values are not accepted in configuration; write the text")


@pytest.mark.parametrize("line, expected", [
    ("          provider: {a: 1}", "provider: expected a string, got a mapping"),
    ("          outputArtifacts: 5", "outputArtifacts: expected a list, got an integer"),
    ("          outputArtifacts: 2024-01-01", "outputArtifacts: expected a list, got a string"),
])
def test_conveyor_yml_values_of_the_wrong_type_are_errors_not_crashes(line, expected):
    """Found by test_loader_properties' mutation of the example: these raised TypeError."""
    example = Path(__file__).resolve().parents[2] / "examples" / "orders-service" / "conveyor.yml"
    text = example.read_text()
    key = line.split(":")[0]
    lines = text.splitlines()
    at = next(i for i, old in enumerate(lines) if old.startswith(key + ":"))
    lines[at] = line
    from conveyor.config.pipeline import check_document
    found = [str(d) for d in check_document(load_text("\n".join(lines), "conveyor.yml"))]
    assert any(d.endswith(expected) for d in found), found
