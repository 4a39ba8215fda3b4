"""conveyor.secrets.stream: a secret split between two pieces of an over-long line is masked, output
is held back no longer than it must be, and real command output read in 64 KiB pieces."""

from __future__ import annotations

import base64
import io
import random
import sys
import threading

import pytest

from conveyor.providers.local import process
from conveyor.providers.local.process import Command, LinePart, stream
from conveyor.secrets.masking import Masker, default_masker, masked_response
from conveyor.secrets.stream import MaskedLines, MaskingTextStream

SECRET = "hunter2-correct-horse-battery"


def sink(*values: str) -> tuple[MaskedLines, list[str]]:
    written: list[str] = []
    return MaskedLines(written.append, Masker(values)), written


@pytest.mark.parametrize("at", range(len(SECRET) + 1))
def test_a_secret_split_at_any_point_is_masked(at):
    lines, written = sink(SECRET)
    lines.part("x" * 100 + SECRET[:at])
    lines.line(SECRET[at:] + " and the rest")
    assert "".join(written) == "x" * 100 + "*** and the rest"


@pytest.mark.parametrize("form", [base64.b64encode(SECRET.encode()).decode(), SECRET.encode().hex()])
def test_encoded_forms_split_between_parts_are_masked(form):
    for at in range(1, len(form)):
        lines, written = sink(SECRET)
        lines.part("y" * 70_000 + form[:at])
        lines.part(form[at:])
        lines.line("")
        assert "".join(written) == "y" * 70_000 + "***", at


def test_a_secret_longer_than_the_parts_it_comes_in():
    lines, written = sink(SECRET)
    for i in range(0, len(SECRET), 3):
        lines.part(SECRET[i:i + 3])
    lines.close()
    assert written == ["***"]


def test_only_the_last_longest_minus_one_characters_wait():
    lines, written = sink(SECRET)
    keep = lines.masker.longest - 1
    lines.part("a" * 1000)
    assert written == ["a" * (1000 - keep)]  # written at once, as its own log line
    lines.part("b" * 10)
    assert written[1:] == ["a" * 10]  # the next part moves the held tail on by its own length
    lines.line("!")
    assert "".join(written) == "a" * 1000 + "b" * 10 + "!"


def test_a_cut_never_falls_inside_a_masked_run():
    lines, written = sink(SECRET)
    keep = lines.masker.longest - 1
    text = "z" * 50 + SECRET + "w" * (keep - 5)  # the natural cut is inside the secret
    lines.part(text)
    assert written == ["z" * 50]
    lines.close()
    assert written == ["z" * 50, "***" + "w" * (keep - 5)]


def test_close_writes_what_is_held_and_a_line_flushes_everything():
    lines, written = sink(SECRET)
    lines.part("short")
    assert written == []
    lines.close()
    assert written == ["short"]
    lines.close()
    assert written == ["short"]
    lines.line("whole line with " + SECRET)
    assert written == ["short", "whole line with ***"]


def test_without_secrets_parts_pass_straight_through():
    lines, written = sink()
    lines.part("abc")
    lines.line("def")
    assert written == ["abc", "def"]


def test_random_splits_give_the_same_text_as_masking_it_whole():
    others = ["s3cr3t-number-two", "another:secret/value+x"]
    rng = random.Random(16)
    m = Masker([SECRET, *others])
    words = [SECRET, *others, base64.b64encode(b"u:" + SECRET.encode()).decode(), "plain", "text", "x" * 40]
    for _ in range(200):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        cuts = sorted(rng.sample(range(len(line) + 1), rng.randint(0, 6)))
        written: list[str] = []
        lines = MaskedLines(written.append, m)
        pieces = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True)]
        for piece in pieces[:-1]:
            lines.part(piece)
        lines.line(pieces[-1])
        assert "".join(written) == m.mask(line), (line, cuts)


def test_real_output_read_in_64_kib_pieces(monkeypatch):
    """A command prints one 200 KB line with the secret across each 64 KiB boundary: `stream`
    hands it over in LineParts, and the sink masks every occurrence."""
    size = process.MAX_LINE_BYTES
    body = "".join("." * (size - 10 - (i and len(SECRET) - 10)) + SECRET for i in range(3))
    assert body.index(SECRET) == size - 10  # split 10 characters in, at the first boundary
    lines, written = sink(SECRET)
    pieces: list[str] = []

    def on_line(text: str) -> None:
        pieces.append(text)
        lines.part(text) if isinstance(text, LinePart) else lines.line(text)

    assert stream(Command(["cat"], input=body.encode() + b"\nnext line\n"), on_line) == 0
    assert [type(p) for p in pieces][:2] == [LinePart, LinePart]
    assert any(SECRET not in p and SECRET[:10] in p for p in pieces)  # it did arrive split
    text = "\n".join(written)
    assert SECRET not in text and text.count("***") == 3
    assert written[-1] == "next line"
    assert "".join(written[:-1]) == body.replace(SECRET, "***")


def test_a_masking_stderr_masks_what_no_logging_filter_sees(monkeypatch):
    """threading.excepthook prints a dead thread's traceback straight to sys.stderr."""
    target = io.StringIO()
    err = MaskingTextStream(target, Masker([SECRET]))

    def fail() -> None:
        raise RuntimeError(f"bad {SECRET}")

    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)  # pytest's own hook aside
    monkeypatch.setattr(sys, "stderr", err)
    thread = threading.Thread(target=fail)
    thread.start()
    thread.join()
    monkeypatch.undo()
    text = target.getvalue()
    assert "RuntimeError: bad ***" in text and SECRET not in text
    err.write("half a line " + SECRET[:5])
    assert target.getvalue() == text  # held until the line ends or a flush
    err.write(SECRET[5:] + " done\nprompt: ")
    err.flush()
    assert target.getvalue() == text + "half a line *** done\nprompt: "


def test_masked_response_masks_error_bodies_too():
    default_masker().add(SECRET)
    body = {"error": {"type": "Failed", "message": f"login failed for {SECRET}", "hint": None}}
    assert masked_response(body) == {"error": {"type": "Failed", "message": "login failed for ***", "hint": None}}
