"""conveyor.secrets.masking: secrets hidden in log lines and JSON, including overlapping secrets,
encodings, many secrets and long logs."""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from urllib.parse import quote

import pytest

from conveyor.secrets.masking import MIN_MASKED_LENGTH, Masker, MaskingFilter, default_masker, trie_pattern

SECRET = "s3cr3t-t0ken/value+x"


@pytest.mark.parametrize("line, masked", [
    (f"token={SECRET}", "token=***"),
    (f"{SECRET}{SECRET}", "***"),  # adjacent occurrences: one run
    (f"a {SECRET} b {SECRET} c", "a *** b *** c"),
    ("nothing secret here", "nothing secret here"),
    ("", ""),
    (f"Authorization: Bearer {SECRET}\n", "Authorization: Bearer ***\n"),
])
def test_mask_lines(line, masked):
    assert Masker([SECRET]).mask(line) == masked


def test_encodings_of_the_value_are_masked():
    m = Masker([SECRET])
    b64 = base64.b64encode(SECRET.encode()).decode()
    assert m.mask(f"basic {b64}") == "basic ***"
    assert m.mask(f"x {base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip('=')} y") == "x *** y"
    assert m.mask(f"GET /login?t={quote(SECRET, safe='')}") == "GET /login?t=***"
    assert m.mask(json.dumps({"v": 'quo"te-secret'})) == json.dumps({"v": 'quo"te-secret'})
    m.add('quo"te-secret')
    assert m.mask(json.dumps({"v": 'quo"te-secret'})) == '{"v": "***"}'


def test_overlapping_secrets_leak_no_fragment():
    m = Masker(["abcdef", "defghi"])
    assert m.mask("xxabcdefghiyy") == "xx***yy"
    assert m.mask("abcdefdefghi") == "***"
    m = Masker(["password123", "word1"])  # one inside the other
    assert m.mask("password1234") == "***4"
    assert m.mask("my word1 and password123") == "my *** and ***"


def test_the_longest_secret_at_a_position_wins():
    m = Masker(["abcd", "abcdefgh"])
    assert m.mask("abcdefgh!") == "***!"
    assert m.mask("abcdxyz") == "***xyz"


def test_short_values_are_not_masked():
    m = Masker()
    assert MIN_MASKED_LENGTH == 4
    assert m.add("abc") is False and m.add("  ab \n") is False
    assert m.mask("abc abc") == "abc abc"
    assert m.add("abcd") is True
    assert m.mask("abcd abc") == "*** abc"


def test_surrounding_whitespace_and_lines_of_multiline_values():
    pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----\n"
    m = Masker([pem, "from-stdin-value\n"])
    assert m.mask("echo from-stdin-value") == "echo ***"
    assert m.mask("line: MIIBOgIBAAJBAKj34GkxFhD9") == "line: ***"
    assert m.mask(pem) == "***"
    assert m.mask(pem.replace("\n", "\r\n")) == "***\r\n***\r\n***\r\n"  # line by line


def test_many_secrets_and_a_long_log():
    secrets = [f"secret-{i:05d}-{i * 7919 % 10007:05d}" for i in range(2000)]
    m = Masker(secrets)
    line = "2026-03-01 12:00:00 step 4: using {} for upload and nothing else of note\n"
    log = "".join(line.format(secrets[i % 2000] if i % 3 == 0 else "no-secret") for i in range(30000))
    started = time.perf_counter()
    out = m.mask(log)
    elapsed = time.perf_counter() - started
    assert out.count("***") == 10000 and "secret-" not in out
    assert elapsed < 5, f"masking 2 MB with 2000 secrets took {elapsed:.1f} s"


def test_trie_pattern():
    assert trie_pattern(["abcd", "abce", "abcdef"]) == "abc(?:d(?:ef)?|e)"
    assert trie_pattern(["a.b*"]) == r"a\.b\*"


def test_adding_later_rebuilds_and_large_values_work():
    m = Masker(["first-secret"])
    assert m.mask("first-secret second-secret") == "*** second-secret"
    m.add("second-secret")
    assert m.mask("first-secret second-secret") == "*** ***"
    big = "x" * 65536
    m.add(big)
    assert m.mask("<" + big + ">") == "<***>"


def test_mask_json_masks_strings_recursively():
    m = Masker([SECRET, "5432-port"])
    response = {"build": {"env": [{"name": "TOKEN", "value": SECRET}, {"name": "N", "value": 3}],
                          "log": f"pushed with {SECRET}", SECRET: True, "ok": None, "tuple": ("a", SECRET)},
                "count": 2}
    assert m.mask_json(response) == {
        "build": {"env": [{"name": "TOKEN", "value": "***"}, {"name": "N", "value": 3}],
                  "log": "pushed with ***", "***": True, "ok": None, "tuple": ["a", "***"]},
        "count": 2}
    assert response["build"]["env"][0]["value"] == SECRET  # a copy, the original is untouched
    assert Masker(["123456"]).mask_json({"pin": 123456, "other": 1234567, "flag": True}) == {
        "pin": "***", "other": "***", "flag": True}


def test_masking_filter_masks_messages_args_and_tracebacks():
    m = Masker([SECRET])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(MaskingFilter(m))
    logger = logging.getLogger("test-secrets-masking")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("token is %s", SECRET)
        try:
            raise RuntimeError(f"bad token {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert SECRET not in text
    assert "token is ***" in text and "RuntimeError: bad token ***" in text


def test_default_masker_is_one_per_process():
    assert default_masker() is default_masker()
    assert isinstance(default_masker(), Masker)
    assert MaskingFilter().masker is default_masker()
