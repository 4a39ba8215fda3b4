"""The dashboard's static files as shipped: every page module the list imports exists, and the
stylesheet's blocks are balanced (a lost brace silently drops every rule after it, as a merge of
two pages' sections once did: the deployment page's charts lost their strokes)."""

from __future__ import annotations

import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "src" / "conveyor" / "data" / "dashboard"


def _strip_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def test_the_stylesheet_blocks_are_balanced_at_every_page_section():
    css = (DASHBOARD / "app.css").read_text()
    depth = 0
    sections = 0
    for line in css.splitlines():
        if line.startswith("/* page:"):
            sections += 1
            assert depth == 0, f"a block is still open where {line!r} begins"
        code = _strip_comments(line)
        depth += code.count("{") - code.count("}")
        assert depth >= 0, f"a '}}' closes nothing at {line!r}"
    assert depth == 0
    assert sections >= 5


def test_every_page_module_the_list_imports_is_shipped():
    index = (DASHBOARD / "pages" / "index.js").read_text()
    imported = re.findall(r'from "\./([\w-]+\.js)"', index)
    assert imported, "pages/index.js imports no page"
    for name in imported:
        assert (DASHBOARD / "pages" / name).is_file(), name
