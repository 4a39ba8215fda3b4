"""A YAML composer that counts as it goes: libyaml's C parser produces the events, and PyYAML's own
composer — subclassed here — turns them into nodes while it tracks the nesting depth, the aliases
used and, for every node, how many nodes it stands for once its aliases are expanded. The
"billion laughs" file (ten aliases to ten aliases to …) is a few hundred bytes of events but 10⁹
nodes expanded; it is refused at the first node whose expanded size passes the cap, long before
anything walks the expansion. An alias to a node that contains it (`&a [*a]`, which PyYAML would
follow forever) is refused too.

    node, loader = compose("a: [1, 2]", "x.yml")   # node tree; `loader` constructs scalars
    loader.dispose()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser as _PyParser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from conveyor.documents.limits import DEFAULT, Limits
from conveyor.errors import ConfigError, Diagnostic

_CParser: Any
try:  # libyaml is part of every PyYAML wheel; without it the pure-Python parser does both jobs
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover
    _CParser = None

#: Below this size a YAML error is reported with PyYAML's wording (parsed again in Python): its
#: messages are the ones users know ("expected ',' or ']', but got '<stream end>'"). Above, the
#: libyaml message stands, so a large broken file costs one C parse, not a slow Python one.
PY_MESSAGES_BELOW = 256 * 1024


class _PythonEvents(Reader, Scanner, _PyParser):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        _PyParser.__init__(self)


class LimitedLoader(Composer, SafeConstructor, Resolver):
    """Composer methods come first in the MRO, so the parser class mixed in below (libyaml's or
    PyYAML's) supplies only the event stream."""

    def __init__(self, text: str, file: str, limits: Limits = DEFAULT):
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.file = file
        self.limits = limits
        self.depth = 0
        self.aliases = 0
        #: Nodes composed so far, each alias counted as the size of what it names: refused the
        #: moment it passes the cap, so neither a flat list nor an alias bomb is read to its end.
        self.expanded = 0
        #: id(node) -> nodes it stands for, aliases expanded. A node in this dict is complete.
        self.sizes: dict[int, int] = {}
        self._keep: list[yaml.Node] = []  # keeps ids in `sizes` from being reused
        #: id(mapping) -> ids of the key nodes its merge keys brought in (located._construct)
        self.merged: dict[int, set[int]] = {}

    if TYPE_CHECKING:  # supplied by the parser class mixed in after this one
        def peek_event(self) -> Any: ...

        def dispose(self) -> None: ...

    def _refuse(self, mark: Any, message: str) -> ConfigError:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return ConfigError([Diagnostic(self.file, line, column, "", message)])

    def _count(self, nodes: int, mark: Any) -> None:
        self.expanded += nodes
        if self.expanded > self.limits.max_nodes:
            raise self._refuse(mark, f"more than {self.limits.max_nodes:,} nodes in one document (an alias counts "
                                     f"as a copy of what it names)")

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        node = super().compose_scalar_node(anchor)
        if node.style == "":  # libyaml's plain style; PyYAML's is None
            node.style = None
        return node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> Any:
        event = self.peek_event()
        node: Any
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self._refuse(event.start_mark, f"more than {self.limits.max_aliases:,} aliases in one document")
            node = super().compose_node(parent, index)
            if id(node) not in self.sizes:
                raise self._refuse(event.start_mark, f"alias *{event.anchor} refers to a node that contains it "
                                                     f"(a recursive structure)")
            self._count(self.sizes[id(node)], event.start_mark)
            return node
        self._count(1, event.start_mark)
        collection = not isinstance(event, yaml.ScalarEvent)  # depth counts mappings and lists, as in JSON
        self.depth += collection
        if self.depth > self.limits.max_depth:
            raise self._refuse(event.start_mark, f"nested more than {self.limits.max_depth} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= collection
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self.sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self.sizes[id(k)] + self.sizes[id(v)] for k, v in node.value)
        if size > self.limits.max_nodes:
            raise self._refuse(node.start_mark, f"more than {self.limits.max_nodes:,} nodes in one document (an "
                                                f"alias counts as a copy of what it names)")
        self.sizes[id(node)] = size
        self._keep.append(node)
        return node


class _PythonLoader(LimitedLoader, _PythonEvents):
    def __init__(self, text: str, file: str, limits: Limits = DEFAULT):
        _PythonEvents.__init__(self, text)
        LimitedLoader.__init__(self, text, file, limits)


if _CParser is not None:
    class _CLoader(LimitedLoader, _CParser):
        def __init__(self, text: str, file: str, limits: Limits = DEFAULT):
            _CParser.__init__(self, text)
            LimitedLoader.__init__(self, text, file, limits)

    _FAST: type[LimitedLoader] = _CLoader
else:  # pragma: no cover
    _FAST = _PythonLoader


def _compose_with(cls: type[LimitedLoader], text: str, file: str,
                  limits: Limits) -> tuple[yaml.Node | None, LimitedLoader]:
    loader = cls(text, file, limits)
    try:
        return loader.get_single_node(), loader
    except BaseException:
        loader.dispose()
        raise


def compose(text: str, file: str, limits: Limits = DEFAULT) -> tuple[yaml.Node | None, LimitedLoader]:
    """The single document's root node (None for an empty document) and the loader to construct
    its scalars with; the caller disposes of the loader. YAML errors propagate as yaml.YAMLError,
    limits as ConfigError."""
    try:
        return _compose_with(_FAST, text, file, limits)
    except yaml.YAMLError as fast_error:
        if _FAST is _PythonLoader or len(text) > PY_MESSAGES_BELOW:
            raise
        try:  # the same text again, for PyYAML's wording of the error
            _, loader = _compose_with(_PythonLoader, text, file, limits)
        except yaml.YAMLError:
            raise
        loader.dispose()
        raise fast_error from None
