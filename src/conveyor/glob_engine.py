"""The glob matcher behind trigger filters (conveyor.globs) and buildspec artifact, report and
cache globs (conveyor.build.artifacts): a pattern is parsed once into a small automaton and a
value is matched by walking it one character at a time, keeping the *set* of positions the
pattern could be at (Thompson's construction). Time is O(len(value) × len(pattern)) and memory
O(len(pattern)), whatever the pattern: `**/**/**/…/x` or `*a*a*a*b` cannot make it backtrack,
as a regex translation does (exponentially for artifact globs, which used to be the union of
every way to drop their `**/` segments). The sets met are memoised as a small DFA, bounded.

    >>> g = parse("src/**/*.py", zero_dirs=True)
    >>> g.fullmatch("src/app.py"), g.fullmatch("src/a/b/app.py"), g.fullmatch("app.py")
    (True, True, False)

The glob language is described in conveyor.globs; `zero_dirs` is the artifact rule (a `**/`
that starts a segment also matches zero directories, conveyor.build.artifacts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Union


class CharClass(NamedTuple):
    """A bracket expression; a negated one never matches `/` (Java's translation)."""

    negate: bool
    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def accepts(self, ch: str) -> bool:
        inside = ch in self.chars or any(a <= ch <= b for a, b in self.ranges)
        return (not inside and ch != "/") if self.negate else inside


#: Matchers of one character: a literal (a str), anything but `/`, anything, or a CharClass.
ANY_BUT_SLASH = CharClass(True, frozenset(), ())
ANY = CharClass(False, frozenset(), (("\0", "\U0010ffff"),))
Matcher = Union[str, CharClass]
#: How many (state set, character) steps the memo keeps before it starts again.
MAX_MEMO = 4096


class GlobError(ValueError):
    """A malformed glob. str() is the whole message; `problem` and `position` are its parts, for
    callers that already name the pattern.

    >>> str(GlobError("docs/[a", 5, "'[' is never closed by ']'"))
    "invalid glob 'docs/[a': '[' is never closed by ']' at position 5"
    """

    def __init__(self, pattern: str, position: int, problem: str) -> None:
        super().__init__(f"invalid glob {pattern!r}: {problem} at position {position}")
        self.pattern, self.position, self.problem = pattern, position, problem


# --- the syntax tree: a sequence of items --------------------------------------------------------
# ("char", matcher)          one character
# ("star",) / ("dstar",)     [^/]* / .*
# ("group", (seq, seq, …))   {a,b}: one of the alternatives (each a tuple of items)
# ("dirs",)                  an artifact `**/` that may also match nothing: (.*/)?

Item = tuple
_END = ""


def _peek(pattern: str, i: int) -> str:
    return pattern[i] if i < len(pattern) else _END


def zero_dir_spots(pattern: str) -> set[int]:
    """Indexes of each unescaped `**/` that starts a segment (the artifact rule)."""
    spots, i = set(), 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            spots.add(i)
            i += 3
            continue
        i += 1
    return spots


def _bracket(pattern: str, i: int) -> tuple[Item, int]:
    """The bracket expression whose `[` is at pattern[i - 1]: (("char", class), next index)."""
    start = i - 1
    negate = False
    chars: set[str] = set()
    ranges: list[tuple[str, str]] = []
    if _peek(pattern, i) == "!":
        negate, i = True, i + 1
    if _peek(pattern, i) == "-":
        chars.add("-")
        i += 1
    has_range_start, last, closed, empty = False, "", False, not chars
    while i < len(pattern):
        c = pattern[i]
        i += 1
        if c == "]":
            closed = True
            break
        empty = False
        if c == "/":
            raise GlobError(pattern, i - 1, "'/' cannot appear inside [...]")
        if c != "-":
            chars.add(c)
            has_range_start, last = True, c
            continue
        if not has_range_start:
            raise GlobError(pattern, i - 1, "'-' must follow a character to form a range")
        end = _peek(pattern, i)
        if end in (_END, "]"):  # `[a-]`: the dash is literal
            chars.add("-")
            continue
        i += 1
        if end == "/":
            raise GlobError(pattern, i - 1, "'/' cannot appear inside [...]")
        if end < last:
            raise GlobError(pattern, i - 3, f"range {last}-{end} is reversed")
        chars.discard(last)
        ranges.append((last, end))
        has_range_start = False
    if not closed:
        raise GlobError(pattern, start, "'[' is never closed by ']'")
    if empty:
        raise GlobError(pattern, start, f"the bracket expression {pattern[start:i]} is empty")
    return ("char", CharClass(negate, frozenset(chars), tuple(ranges))), i


def parse_items(pattern: str, zero_dirs: bool = False) -> tuple[Item, ...]:
    """The syntax tree of a glob, or GlobError (the messages of the trigger-filter docs)."""
    spots = zero_dir_spots(pattern) if zero_dirs else set()
    top: list[Item] = []
    alternatives: list[tuple[Item, ...]] = []
    current = top
    group_start = -1  # position of the open `{`, or -1 outside a group
    i = 0
    while i < len(pattern):
        if i in spots:
            current.append(("dirs",))
            i += 3
            continue
        c = pattern[i]
        i += 1
        if c == "\\":
            if i == len(pattern):
                raise GlobError(pattern, i - 1, "'\\' at the end escapes nothing")
            current.append(("char", pattern[i]))
            i += 1
        elif c == "*":
            if _peek(pattern, i) == "*":
                current.append(("dstar",))
                i += 1
            else:
                current.append(("star",))
        elif c == "?":
            current.append(("char", ANY_BUT_SLASH))
        elif c == "[":
            item, i = _bracket(pattern, i)
            current.append(item)
        elif c == "{":
            if group_start >= 0:
                raise GlobError(pattern, i - 1, "'{' groups cannot be nested")
            group_start, alternatives, current = i - 1, [], []
        elif c == "}" and group_start >= 0:
            alternatives.append(tuple(current))
            top.append(("group", tuple(alternatives)))
            group_start, current = -1, top
        elif c == "," and group_start >= 0:
            alternatives.append(tuple(current))
            current = []
        else:
            current.append(("char", c))
    if group_start >= 0:
        raise GlobError(pattern, group_start, "'{' is never closed by '}'")
    return tuple(top)


# --- the regex translation (what the globs meant before; kept for display and for the tests) -----

def _class_char(c: str) -> str:
    return "\\" + c if c in "\\]^-[" else c


def _regex_char(matcher: Matcher) -> str:
    if matcher == ANY_BUT_SLASH:
        return "[^/]"
    if matcher == ANY:
        return "."
    if isinstance(matcher, str):
        return re.escape(matcher)
    body = "".join(_class_char(c) for c in sorted(matcher.chars))
    body += "".join(f"{_class_char(a)}-{_class_char(b)}" for a, b in matcher.ranges)
    return ("[^/" if matcher.negate else "[") + body + "]"


def regex_of(items: tuple[Item, ...]) -> str:
    """A Python regex with the same meaning (for `fullmatch`); backtracking makes it slow on
    hostile patterns, so it is never used to match user input.

    >>> regex_of(parse_items("docs/**"))
    'docs/.*'
    """
    out = []
    for item in items:
        kind = item[0]
        if kind == "char":
            out.append(_regex_char(item[1]))
        elif kind == "star":
            out.append("[^/]*")
        elif kind == "dstar":
            out.append(".*")
        elif kind == "dirs":
            out.append("(?:.*/)?")
        else:
            out.append("(?:" + "|".join(regex_of(alt) for alt in item[1]) + ")")
    return "".join(out)


# --- the automaton -------------------------------------------------------------------------------

def _accepts(matcher: Matcher, ch: str) -> bool:
    return ch == matcher if isinstance(matcher, str) else matcher.accepts(ch)


@dataclass
class _Builder:
    """States are appended as lists: ["char", matcher, next] or ["split", next_a, next_b];
    index -1 (never stored) is the accepting end."""

    states: list[list]

    def add(self, state: list) -> int:
        self.states.append(state)
        return len(self.states) - 1

    def sequence(self, items: tuple[Item, ...], nxt: int) -> int:
        """Build `items` ending in `nxt`, back to front; return the entry state."""
        for item in reversed(items):
            nxt = self.item(item, nxt)
        return nxt

    def loop(self, matcher: Matcher, nxt: int) -> int:
        split = self.add(["split", -2, nxt])  # -2: patched to the char state below
        self.states[split][1] = self.add(["char", matcher, split])
        return split

    def item(self, item: Item, nxt: int) -> int:
        kind = item[0]
        if kind == "char":
            return self.add(["char", item[1], nxt])
        if kind == "star":
            return self.loop(ANY_BUT_SLASH, nxt)
        if kind == "dstar":
            return self.loop(ANY, nxt)
        if kind == "dirs":
            return self.add(["split", self.loop(ANY, self.add(["char", "/", nxt])), nxt])
        entries = [self.sequence(alt, nxt) for alt in item[1]]
        entry = entries[-1]
        for other in reversed(entries[:-1]):
            entry = self.add(["split", other, entry])
        return entry


class Glob:
    """A compiled glob. `fullmatch(value)` is True when the whole value matches.

    >>> Glob(parse_items("{main,release/**}"), "{main,release/**}").fullmatch("release/1.2")
    True
    """

    def __init__(self, items: tuple[Item, ...], pattern: str):
        self.pattern = pattern
        self.items = items
        builder = _Builder([])
        self._start = builder.sequence(items, -1)
        self._states = builder.states
        self._initial = self._closure({self._start})
        self._memo: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def _closure(self, seeds: set[int]) -> frozenset[int]:
        """The states reachable from `seeds` without reading a character (split edges)."""
        seen: set[int] = set()
        stack = list(seeds)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            if s >= 0 and self._states[s][0] == "split":
                stack += self._states[s][1:]
        return frozenset(seen)

    def _step(self, current: frozenset[int], ch: str) -> frozenset[int]:
        key = (current, ch)
        found = self._memo.get(key)
        if found is None:
            moved = {st[2] for s in current if s >= 0 and (st := self._states[s])[0] == "char"
                     and _accepts(st[1], ch)}
            found = self._closure(moved)
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found

    def fullmatch(self, value: str) -> bool:
        current = self._initial
        for ch in value:
            current = self._step(current, ch)
            if not current:
                return False
        return -1 in current

    def regex(self) -> str:
        return regex_of(self.items)

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"


def parse(pattern: str, zero_dirs: bool = False) -> Glob:
    """Compile a glob; GlobError when malformed."""
    return Glob(parse_items(pattern, zero_dirs), pattern)
