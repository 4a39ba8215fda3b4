"""Masking secret values in log lines and API responses: every registered value becomes `***`.

    masker = default_masker()            # the process-wide one every log sink and API response uses
    masker.add("hunter2-s3cret")
    masker.mask("password=hunter2-s3cret")           # 'password=***'
    masker.mask_json({"env": {"PW": "hunter2-s3cret"}})   # {'env': {'PW': '***'}}
    logging.getLogger().handlers[0].addFilter(MaskingFilter())

What counts as a value: the value as given, and stripped of surrounding whitespace (a value read
from stdin often ends in a newline); each line of a multi-line value (logs are read line by line);
and, for the whole value, its base64 (standard and URL-safe, with or without padding), its
URL-encoding and its JSON-string escaping — the forms a value commonly takes in a log or a
request dump.

Values shorter than MIN_MASKED_LENGTH (4) characters are not masked, and `add` returns False for
them: masking "1", "on" or "dev" would shred every log line while hiding nothing a reader could not
guess. CodeBuild documents masking parameter-store and secrets-manager values (aws-semantics §1.3)
but no threshold; GitHub Actions likewise skips very short values.

Matching is one compiled regex over a trie of all values (cost grows with the log, not with the
number of secrets), rebuilt lazily after `add`. Overlapping or adjacent secrets are masked as one
run, so no fragment of either leaks; at each position the longest value wins.
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
        encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
        out |= {whole, quote(whole, safe=""), quote_plus(whole), json.dumps(whole)[1:-1]}
        out |= encoded | {e.rstrip("=") for e in encoded}
    out |= {line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_MASKED_LENGTH}
    return out


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


class Masker:
    """A set of secret values and the text they are hidden from. Thread-safe."""

    def __init__(self, values: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self._forms)

    def add(self, value: str) -> bool:
        """Hide `value` (and its encodings) from now on; False if it is too short to be masked."""
        new = forms(value)
        with self._lock:
            if not new <= self._forms:
                self._forms |= new
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

    def mask(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        out, kept, run_end = [], 0, -1
        for match in pattern.finditer(text):  # one zero-width match per position where a value starts
            start, end = match.start(), match.start() + len(match.group(1))
            if start <= run_end:  # overlaps or touches the run being masked: extend it
                run_end = max(run_end, end)
                continue
            if run_end >= 0:
                out.append(MASK)
                kept = run_end
            out.append(text[kept:start])
            run_end = end
        if run_end < 0:
            return text
        out.append(MASK)
        out.append(text[run_end:])
        return "".join(out)

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


def default_masker() -> Masker:
    """The process-wide Masker: the secret store registers every value it reads or writes, and the
    registry its token; log sinks and the API mask through it."""
    return _DEFAULT
