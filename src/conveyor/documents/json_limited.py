"""JSON under limits: one linear pass over the text, before the json module sees it, that finds the
first place nesting passes the depth cap or a number has more digits than the cap — the two things
that make json.loads raise RecursionError or a bare ValueError without a position. Strings are
skipped whole, so brackets and digits inside them do not count.

    scan_json(text, "taskdef.json")            # None, or ConfigError at file:line:col
"""

from __future__ import annotations

import re

from conveyor.documents.limits import DEFAULT, Limits
from conveyor.documents.source import position, refuse

# A string (closed or not: json reports the unclosed one itself), a bracket, or a run of digits.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{]|[\]}]|\d+', re.DOTALL)


def scan_json(text: str, file: str, limits: Limits = DEFAULT) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first == "[" or first == "{":
            depth += 1
            if depth > limits.max_depth:
                line, column = position(text, match.start())
                raise refuse(file, line, column, f"nested more than {limits.max_depth} levels deep")
        elif first == "]" or first == "}":
            depth -= 1
        elif first != '"' and len(token) > limits.max_number_digits:
            line, column = position(text, match.start())
            raise refuse(file, line, column, f"a number with {len(token):,} digits; at most "
                                             f"{limits.max_number_digits:,} are accepted")
