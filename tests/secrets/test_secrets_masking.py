"""conveyor.secrets.masking: secrets hidden in log lines and JSON, including overlapping secrets,
encodings, many secrets and long logs."""

from __future__ import annotations

import base64
import io
import json
import logging
from urllib.parse import quote, quote_plus

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
    """Correctness at scale; how long it takes is measured in bench/masking.py, not asserted here."""
    secrets = [f"secret-{i:05d}-{i * 7919 % 10007:05d}" for i in range(2000)]
    m = Masker(secrets)
    line = "2026-03-01 12:00:00 step 4: using {} for upload and nothing else of note\n"
    log = "".join(line.format(secrets[i % 2000] if i % 3 == 0 else "no-secret") for i in range(30000))
    out = m.mask(log)
    assert out.count("***") == 10000 and "secret-" not in out


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


# -- encoded forms ---------------------------------------------------------------------------------
PASSWORD = "pa55 w/rd:é+x"  # a space, a slash, a colon, a plus and a non-ASCII letter


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("encoded", [
    b64(PASSWORD), b64(PASSWORD).rstrip("="), base64.urlsafe_b64encode(PASSWORD.encode()).decode(),
    PASSWORD.encode().hex(), PASSWORD.encode().hex().upper(),
    quote(PASSWORD, safe=""), quote(PASSWORD), quote_plus(PASSWORD), quote_plus(PASSWORD, safe="/"),
    quote(PASSWORD, safe="").lower(),  # lower-case escapes: %2f, %c3%a9 (the letters are lower already)
    json.dumps(PASSWORD)[1:-1], json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
])
def test_each_encoded_form_is_masked(encoded):
    assert Masker([PASSWORD]).mask(f"<{encoded}>") == "<***>"


@pytest.mark.parametrize("user", ["", "u", "us", "user", "admin", "ci-bot", "x" * 17])
def test_basic_auth_headers_hide_the_password_at_every_offset(user):
    """base64("user:secret") differs with the user's length mod 3; the secret's own characters
    are masked in each, so no more than the two characters bordering it (a few bits) remain."""
    header = "Authorization: Basic " + b64(f"{user}:{PASSWORD}")
    masked = Masker([PASSWORD]).mask(header)
    assert "***" in masked
    visible = masked.split("Basic ")[1].replace("***", "")
    assert len(visible) <= len(b64(f"{user}:")) + 2


def test_base64_cores_of_a_value_inside_longer_text():
    value = "correct-horse-battery"
    m = Masker([value])
    for prefix in ("", "a", "ab", "abc"):
        for suffix in ("", "z", "zz", "zzz"):
            masked = m.mask(b64(prefix + value + suffix))
            assert masked.count("***") == 1
            around = len(b64(prefix)) + len(b64(suffix))  # the neighbours' own characters, at most
            assert len(masked.replace("***", "")) <= around + 2, (prefix, suffix, masked)
    assert m.mask(b64("nothing to see here, nothing at all")) == b64("nothing to see here, nothing at all")


def test_encoded_forms_of_short_values_are_not_masked():
    m = Masker(["abc"])
    assert m.mask("abc 616263 YWJj") == "abc 616263 YWJj"


def test_runs_and_longest():
    m = Masker(["abcdef", "defghi"])
    assert m.runs("xxabcdefghiyy abcdef") == [(2, 11), (14, 20)]
    assert m.longest == len("abcdef".encode().hex())  # the hex form is the longest
    assert Masker().runs("anything") == [] and Masker().longest == 0
