"""The dashboard's events page offers every event type as a filter: its TYPES list (a static
script) is the vocabulary of conveyor.events.types, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

import conveyor
from conveyor.events.types import EVENT_TYPES

PAGE = Path(conveyor.__file__).parent / "data" / "dashboard" / "pages" / "events.js"


def test_the_events_page_lists_every_type():
    block = re.search(r"const TYPES = \[(.*?)\];", PAGE.read_text(), re.S)
    assert block is not None
    assert re.findall(r'"([a-z-]+)"', block.group(1)) == list(EVENT_TYPES)
