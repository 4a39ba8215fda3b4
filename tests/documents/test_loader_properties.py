"""Property-based tests: whatever bytes, text or structure a user (or an attacker pushing a commit)
hands the loaders and validators, the only exceptions that come out are Conveyor's UserError
family (ConfigError with positions), never a Python error — and valid JSON comes back unchanged.

The structured inputs start from real files (the example's and, when it is checked out, the
shared corpus's) with one to three subtrees replaced by random values, so the validators' deep
paths are reached, not only their first type check. Example counts are kept modest
(max_examples) so the suite stays fast; raise them locally with --hypothesis-seed / settings."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.config.appspec import parse_appspec
from conveyor.config.buildspec import check_buildspec_text
from conveyor.config.codepipeline import validate_document, validate_file
from conveyor.config.imagedefs import check_imagedefinitions_file
from conveyor.config.importer import import_codepipeline
from conveyor.config.pipeline import check_document, load_pipeline_text
from conveyor.config.taskdef import parse_taskdef, read_taskdef_document
from conveyor.documents.located import load_file, load_json, load_text, parse_json_limited
from conveyor.errors import UserError

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
EXAMPLE = REPO / "examples" / "orders-service"
# database=None: no .hypothesis/ directory in the checkout; a failure prints its example to rerun.
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _never_crashes(call: Callable[[], Any]) -> None:
    try:
        call()
    except UserError:
        pass


# --- bytes and text -----------------------------------------------------------------------------

SUFFIXES = ["conveyor.yml", "buildspec.yml", "appspec.yaml", "appspec.json", "pipeline.json", "taskdef.json",
            "imagedefinitions.json", "imageDetail.json"]

#: Fragments that make random text look like YAML or JSON: brackets, anchors and aliases, merge
#: keys, tags, escapes (NUL, surrogates), long digit runs, indentation with spaces and tabs.
FRAGMENTS = ["{", "}", "[", "]", ",", ":", ": ", "- ", "\n", "  ", "\t", '"', "'", "&a ", "*a", "&b ", "*b",
             "<<: ", "? ", "!!str ", "!!python/object ", "!Ref ", "---\n", "...\n", "#", "a", "key", "0x", "1",
             "9" * 50, "1e999", "-", ".", "~", "null", "true", "NaN", "\\0", "\\u0000", "\\ud800", "\\udc00",
             "\\x", "\x00", "\ufeff", "é", "\U0001f600", "\r\n", "%YAML 1.1\n", "|\n", ">-\n"]
yamlish = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)


def _validate_bytes(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        if name.startswith("image"):
            check_imagedefinitions_file(path, name)
        elif name == "pipeline.json":
            validate_file(path, name)
            _never_crashes(lambda: import_codepipeline(path, name))
        else:
            _never_crashes(lambda: load_file(path, name))


@FAST
@given(st.binary(max_size=400), st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_in_any_file_kind(data, name):
    _never_crashes(lambda: _validate_bytes(data, name))


@FAST
@given(st.one_of(st.text(max_size=200), yamlish), st.sampled_from(["x.yml", "x.json"]))
def test_arbitrary_text_loads_or_is_a_config_error(text, file):
    _never_crashes(lambda: load_text(text, file))


@FAST
@given(yamlish)
def test_yamlish_text_through_every_text_validator(text):
    _never_crashes(lambda: load_pipeline_text(text, "conveyor.yml@abc1234"))
    check_buildspec_text(text)
    parse_appspec(text, "appspec.yaml")
    _never_crashes(lambda: read_taskdef_document(text))


@FAST
@given(st.binary(max_size=300))
def test_parse_json_limited_takes_any_bytes(raw):
    _never_crashes(lambda: parse_json_limited(raw))


# --- valid JSON round-trips ---------------------------------------------------------------------

# Strings without NUL or surrogates, numbers within the digit cap: what the loaders must accept.
clean_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | clean_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(clean_text, inner, max_size=5),
    max_leaves=30)


@FAST
@given(json_values, st.booleans())
def test_valid_json_loads_to_the_same_value_with_a_position_for_every_path(value, pretty):
    text = json.dumps(value, indent=2 if pretty else None, ensure_ascii=False)
    doc = load_json(text, "x.json")
    assert doc.data == value
    assert parse_json_limited(text.encode()) == value

    def paths(node: Any, path: tuple) -> list[tuple]:
        children: list[tuple] = []
        if isinstance(node, dict):
            for k, v in node.items():
                children += paths(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                children += paths(v, path + (i,))
        return [path] + children

    assert all(p in doc.positions for p in paths(value, ()))


# Printable text only: PyYAML's emitter writes some line-break characters (U+0085) in ways its
# own reader folds, which is not what this test is about.
printable = st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), max_size=12)
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False) | printable,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(printable, inner, max_size=5),
    max_leaves=30)


@FAST
@given(st.dictionaries(printable, yaml_values, min_size=1, max_size=5), st.booleans())
def test_valid_yaml_loads_as_pyyaml_reads_it(value, flow):
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=flow)
    assert load_text(text, "x.yml").data == yaml.safe_load(text)


# --- real files with random subtrees ------------------------------------------------------------

def _seeds() -> list[tuple[str, Any]]:
    """(kind, data) of every example file and corpus file that loads."""
    found: list[tuple[str, Path]] = [("conveyor", EXAMPLE / "conveyor.yml"), ("buildspec", EXAMPLE / "buildspec.yml"),
                                     ("appspec", EXAMPLE / "appspec.yaml"), ("taskdef", EXAMPLE / "taskdef.json")]
    for folder, kind in (("buildspec", "buildspec"), ("appspec-ecs", "appspec"), ("taskdef", "taskdef"),
                         ("imagedefinitions", "imagedefinitions"), ("pipeline-json", "pipeline")):
        if (CORPUS / folder).is_dir():
            found += [(kind, p) for p in sorted((CORPUS / folder).iterdir())]
    seeds = []
    for kind, path in found:
        try:
            seeds.append((kind, load_file(path).data))
        except UserError:
            continue
    return seeds


SEEDS = _seeds()
VOCABULARY = sorted({k for _, data in SEEDS for k in (data if isinstance(data, dict) else {})} |
                    {"pipeline", "stages", "actions", "provider", "name", "environments", "services", "phases",
                     "commands", "Resources", "containerDefinitions", "imageUri", "ImageURI", "#{x.y}", "*"})
random_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | clean_text | st.sampled_from(VOCABULARY),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(VOCABULARY) | clean_text, inner,
                                                                  max_size=4),
    max_leaves=12)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(copy[head], rest, value)
    return copy


def _check(kind: str, data: Any) -> None:
    as_json = json.dumps(data, default=str)
    as_yaml = yaml.safe_dump(data, allow_unicode=True)
    if kind == "conveyor":
        _never_crashes(lambda: check_document(load_text(as_yaml, "conveyor.yml")))
        _never_crashes(lambda: load_pipeline_text(as_yaml))
    elif kind == "buildspec":
        check_buildspec_text(as_yaml)
    elif kind == "appspec":
        parse_appspec(as_yaml, "appspec.yaml")
        parse_appspec(as_json, "appspec.json")
    elif kind == "taskdef":
        _never_crashes(lambda: parse_taskdef(read_taskdef_document(as_json).data))
    elif kind == "imagedefinitions":
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("imagedefinitions.json", "imageDetail.json"):
                (Path(tmp) / name).write_text(as_json)
                check_imagedefinitions_file(Path(tmp) / name, name)
    elif kind == "pipeline":
        _never_crashes(lambda: validate_document(load_json(as_json, "pipeline.json")))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "pipeline.json").write_text(as_json)
            _never_crashes(lambda: import_codepipeline(Path(tmp) / "pipeline.json"))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_real_files_with_random_subtrees_never_crash_a_validator(data):
    kind = data.draw(st.sampled_from(sorted({k for k, _ in SEEDS})), label="kind")  # each kind as often
    doc = data.draw(st.sampled_from([d for k, d in SEEDS if k == kind]), label="seed")
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(doc)), label="path")
        doc = _replace(doc, path, data.draw(random_values, label="value"))
    _check(kind, doc)
