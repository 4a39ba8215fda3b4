"""How much of a user's file Conveyor agrees to read. Every YAML and JSON document Conveyor parses
— conveyor.yml (also from a pushed commit, inside the daemon), buildspecs, AppSpecs, task
definitions, imagedefinitions.json, CodePipeline JSON, API request bodies — is held to these
bounds before and while it is parsed, so a hostile file costs at most a bounded amount of time and
memory and ends in a ConfigError naming where it went over, never in a traceback or a hang.

The numbers are far above what real files use — across the 178 files of the conformance corpus
(/work/shared/corpus) the largest is 30,868 bytes, the deepest nests 16 levels, the biggest has
1,822 nodes, the longest number 12 digits, and none uses an alias — and low enough that a document
at the caps loads in at most 1.5 s and 62 MiB on a 2-core machine, and every hostile input of
tests/hostile is refused by `conveyor validate` within 4.4 s and 117 MiB of peak RSS
(bench/hostile_input.py; bench/results/hostile_input-2026-12-06.json).

    >>> DEFAULT.max_bytes, DEFAULT.max_depth, DEFAULT.max_nodes, DEFAULT.max_aliases
    (1048576, 64, 100000, 1000)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    #: Bytes read from a file or body: one more is read to tell "exactly at the cap" from "over".
    max_bytes: int = 1024 * 1024
    #: Mappings and lists inside one another (YAML block or flow, JSON objects and arrays).
    max_depth: int = 64
    #: Nodes of the document once every alias is expanded: what the "billion laughs" file inflates.
    max_nodes: int = 100_000
    #: Uses of YAML aliases (`*name`, `<<: *name` included). Anchors themselves are free.
    max_aliases: int = 1_000
    #: Digits of one number, counted without sign; Python's own int/str limit is 4,300.
    max_number_digits: int = 4_300


DEFAULT = Limits()


def describe(limits: Limits = DEFAULT) -> str:
    """One line for docs and messages."""
    return (f"at most {limits.max_bytes:,} bytes, {limits.max_depth} levels of nesting, "
            f"{limits.max_nodes:,} nodes with aliases expanded, {limits.max_aliases:,} aliases, "
            f"numbers of at most {limits.max_number_digits:,} digits")
