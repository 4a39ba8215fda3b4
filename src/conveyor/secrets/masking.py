"""Masking secret values in log lines and API responses: every registered value becomes `***`.

    masker = default_masker()            # the process-wide one every log sink and API response uses
    masker.add("hunter2-s3cret")
    masker.mask("password=hunter2-s3cret")           # 'password=***'
    masker.mask_json({"env": {"PW": "hunter2-s3cret"}})   # {'env': {'PW': '***'}}
    logging.getLogger().handlers[0].addFilter(MaskingFilter())

What counts as a value (`forms`): the value as given, and stripped of surrounding whitespace (a
value read from stdin often ends in a newline); each line of a multi-line value (logs are read line
by line); and, for the whole value, the encodings it commonly takes in a log, a URL or a request
dump: base64 (standard and URL-safe, with or without padding) of the value alone and the part of
it that stays the same wherever the value sits inside a longer encoded text (`user:secret` in a
Basic-auth header: see `base64_cores`), hex (lower and upper case), percent-encoding (`%20` and
`+` for a space, upper- and lower-case escapes, `/` kept or escaped) and JSON-string escaping.

Limits, said plainly: a value that a program transforms otherwise (another encoding, compression,
hashing, a value printed one character per line, or split into parts shorter than
MIN_MASKED_LENGTH) is not recognised; the last base64 character or two of an encoded value carry
a few bits of it and may stay visible.

Values shorter than MIN_MASKED_LENGTH (4) characters are not masked, and `add` returns False for
them: masking "1", "on" or "dev" would shred every log line while hiding nothing a reader could not
guess. CodeBuild documents masking parameter-store and secrets-manager values (aws-semantics §1.3)
but no threshold; GitHub Actions likewise skips very short values.

Matching is one compiled regex over a trie of all values (cost grows with the log, not with the
number of secrets), rebuilt lazily after `add`. Overlapping or adjacent secrets are masked as one
run, so no fragment of either leaks; at each position the longest value wins. Output that arrives
in pieces is masked across the pieces' boundaries by `conveyor.secrets.stream.MaskedLines`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from itertools import groupby
from typing import Any, Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_MASKED_LENGTH = 4


def forms(value: str) -> set[str]:
    """Every string that masking `value` must hide; empty when the value is too short to mask
    (surrounding whitespace does not count towards the length)."""
    if len(value.strip()) < MIN_MASKED_LENGTH:
        return set()
    out: set[str] = set()
    for whole in {value, value.strip()}:
        raw = whole.encode()
        out |= {whole, json.dumps(whole)[1:-1], json.dumps(whole, ensure_ascii=False)[1:-1], raw.hex(),
                raw.hex().upper()}
        out |= percent_forms(whole) | base64_forms(raw)
    out |= {line.strip() for line in value.splitlines()}
    return {form for form in out if len(form) >= MIN_MASKED_LENGTH}


def percent_forms(value: str) -> set[str]:
    """URL-encodings of `value`: `/` escaped or kept, a space as `%20` or `+`, escapes in upper or
    lower case (RFC 3986 makes them equivalent; some encoders write `%2f`)."""
    encoded = {quote(value, safe=""), quote(value, safe="/"), quote_plus(value, safe=""), quote_plus(value, safe="/")}
    return encoded | {_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), e) for e in encoded}


def base64_forms(raw: bytes) -> set[str]:
    """The value's own base64 (padded or not, standard or URL-safe alphabet) and its cores."""
    whole = base64.b64encode(raw).decode()
    out = {whole, whole.rstrip("=")} | base64_cores(raw)
    return out | {f.translate(_URLSAFE) for f in out}


def base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend on `raw` alone, for each of the three offsets (mod 3) it
    may have inside a longer encoded text such as `user:secret`. Base64 turns each 3 bytes into 4
    characters of 6 bits; a character whose bits mix the value with its neighbours differs from
    text to text, the ones in between do not.

    >>> sorted(base64_cores(b"secret"))   # offset 0, 1, 2 within 'user:secret' and the like
    ['NlY3Jld', 'c2VjcmV0', 'zZWNyZX']
    """
    out = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode()
        first = -(-8 * offset // 6)  # the first character made only of the value's bits
        last = 8 * (offset + len(raw)) // 6  # one past the last such character
        out.add(encoded[first:last])
    return out


_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_URLSAFE = str.maketrans("+/", "-_")


def trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of `words`, longest first, built as a trie so that matching never
    retries word after word: ('abcd', 'abce', 'abcdef') -> 'abc(?:d(?:ef)?|e)'."""
    return _trie(sorted(set(words)))


def _trie(words: list[str]) -> str:
    """`words` sorted; "" among them means a word may end here."""
    branches = []
    for _, group in groupby((w for w in words if w), key=lambda w: w[0]):
        members = list(group)
        prefix = os.path.commonprefix([members[0], members[-1]])  # sorted: first and last bound the rest
        branches.append(re.escape(prefix) + _trie([w[len(prefix):] for w in members]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if words and words[0] == "" else body


def masked(text: str, runs: list[tuple[int, int]]) -> str:
    """`text` with each (start, end) run replaced by MASK; runs sorted and disjoint."""
    if not runs:
        return text
    out, kept = [], 0
    for start, end in runs:
        out += [text[kept:start], MASK]
        kept = end
    out.append(text[kept:])
    return "".join(out)


class Masker:
    """A set of secret values and the text they are hidden from. Thread-safe."""

    def __init__(self, values: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self._forms)

    @property
    def longest(self) -> int:
        """The length of the longest string masked: how much of a stream's end must be held back
        until more arrives, so that a value split between two pieces is still seen whole."""
        return self._longest

    def add(self, value: str) -> bool:
        """Hide `value` (and its encodings) from now on; False if it is too short to be masked."""
        new = forms(value)
        with self._lock:
            if not new <= self._forms:
                self._forms |= new
                self._longest = max(self._longest, max(map(len, new)))
                self._pattern = None
        return bool(new)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._forms:
                try:
                    body = trie_pattern(self._forms)
                    self._pattern = re.compile(f"(?=({body}))")
                except (RecursionError, re.error):  # pathologically nested values: plain alternation
                    body = "|".join(re.escape(f) for f in sorted(self._forms, key=len, reverse=True))
                    self._pattern = re.compile(f"(?=({body}))")
            return self._pattern

    def runs(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) spans of `text` to hide: overlapping or touching values form one run."""
        pattern = self._compiled()
        if pattern is None or not text:
            return []
        spans: list[tuple[int, int]] = []
        for match in pattern.finditer(text):  # one zero-width match per position where a value starts
            start, end = match.start(), match.start() + len(match.group(1))
            if spans and start <= spans[-1][1]:  # overlaps or touches the run before: extend it
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
        return spans

    def mask(self, text: str) -> str:
        return masked(text, self.runs(text))

    def mask_json(self, obj: Any) -> Any:
        """A copy of a JSON-shaped value with every string (keys too) masked; a number whose digits
        contain a secret becomes the string `***`."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.mask_json(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.mask_json(v) for v in obj]
        if isinstance(obj, (int, float)) and not isinstance(obj, bool) and self._forms:
            return MASK if self.mask(str(obj)) != str(obj) else obj
        return obj


class MaskingFilter(logging.Filter):
    """A logging filter that masks the rendered message and any traceback of each record."""

    def __init__(self, masker: Masker | None = None):
        super().__init__()
        self.masker = masker if masker is not None else default_masker()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.masker.mask(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker.mask(record.exc_text)
        return True


_DEFAULT = Masker()


def masked_response(payload: Any) -> Any:
    """An API answer with every registered secret masked, whatever its status: call it on every
    JSON body the API sends, error bodies included (an exception's message may quote a value)."""
    return _DEFAULT.mask_json(payload)


def default_masker() -> Masker:
    """The process-wide Masker: the secret store registers every value it reads or writes, and the
    registry its token; log sinks and the API mask through it."""
    return _DEFAULT
