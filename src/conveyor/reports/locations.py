"""Where a test failed, read from the failure text a runner wrote: the stack frames of Java, .NET,
Node.js and Python, and pytest's `path.py:12: AssertionError` lines.

    failure_location("at com.shop.CartTest.total(CartTest.java:42)", classname="com.shop.CartTest")
    # ('com/shop/CartTest.java', 42)

The frame chosen is the innermost one in the test's own code: a Java frame of the test class, or
a frame in the test's file (`test_file`, or the Python module named by `classname`); failing
that, the innermost frame outside the runner's and the language's own code; failing that, the
innermost frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# at com.example.CartTest.total(CartTest.java:42)  — innermost first
_JAVA = re.compile(r"^\s*at\s+(?P<func>[\w$.<>/]+)\((?P<file>[^():]+):(?P<line>\d+)\)\s*$", re.MULTILINE)
# at Ns.Class.Method() in /src/CartTests.cs:line 42 (.NET) / [0x0001c] in /src/CartTests.cs:42 (mono)
_DOTNET = re.compile(r"^\s*at\s+(?P<func>\S+?)\s*\(.*?\)(?:\s*\[0x[0-9a-f]+\])?"
                     r"\s+in\s+(?P<file>.+?):(?:line\s+)?(?P<line>\d+)\s*$", re.MULTILINE)
# at fn (/src/cart.test.js:15:35)  /  at /src/cart.test.js:15:35  — innermost first
_NODE = re.compile(r"^\s*at\s+(?:(?P<func>.+?)\s+\()?(?P<file>(?:file://)?[^\s()]+?):(?P<line>\d+):\d+\)?\s*$",
                   re.MULTILINE)
# File "/src/test_cart.py", line 12, in test_total  — outermost first
_PYTHON = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)
# tests/test_cart.py:12: AssertionError  — pytest's long traceback, outermost first
_PYTEST = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):(?P<line>\d+):(?: |$)", re.MULTILINE)

_LIBRARY_JAVA = ("java.", "javax.", "jdk.", "sun.", "org.junit.", "junit.", "org.testng.", "org.apache.maven.",
                 "org.opentest4j.", "org.gradle.", "org.hamcrest.", "org.assertj.", "kotlin.")
_LIBRARY_PATH = ("node_modules/", "node:", "internal/", "/site-packages/", "/dist-packages/", "/lib/python",
                 "<anonymous>", "/_pytest/", "/pluggy/")
_LIBRARY_DOTNET = ("System.", "NUnit.", "Microsoft.", "Xunit.", "(wrapper")


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    func: str = ""
    java: bool = False


def frames(text: str) -> list[Frame]:
    """Every frame the text names, innermost first."""
    java = [Frame(m["file"], int(m["line"]), m["func"], java=True) for m in _JAVA.finditer(text)]
    if java:
        return java
    dotnet = [Frame(m["file"], int(m["line"]), m["func"]) for m in _DOTNET.finditer(text)]
    if dotnet:
        return dotnet
    node = [Frame(m["file"].removeprefix("file://"), int(m["line"]), m["func"] or "") for m in _NODE.finditer(text)]
    if node:
        return node
    python = [Frame(m["file"], int(m["line"])) for m in _PYTHON.finditer(text)]
    if python:
        return python[::-1]
    return [Frame(m["file"], int(m["line"])) for m in _PYTEST.finditer(text)][::-1]


def _java_path(frame: Frame) -> str:
    """`com.shop.CartTest.total` in `CartTest.java` → `com/shop/CartTest.java`: Java frames name
    only the file, and its package is the frame's class minus the last two parts."""
    package = frame.func.rsplit("/", 1)[-1].split(".")[:-2]
    return "/".join([*package, frame.file])


def _is_library(frame: Frame) -> bool:
    if frame.java:
        return frame.func.startswith(_LIBRARY_JAVA)
    if frame.func.startswith(_LIBRARY_DOTNET) or frame.file.startswith("<"):
        return True
    path = frame.file.replace("\\", "/")
    return any(part in path for part in _LIBRARY_PATH)


def _owns(frame: Frame, classname: str | None, test_file: str | None) -> bool:
    if frame.java:
        cls = frame.func.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return bool(classname) and (cls == classname or cls.startswith(f"{classname}$"))
    if classname and frame.func.startswith(f"{classname}."):
        return True  # a .NET frame of the test class
    path = frame.file.replace("\\", "/")
    if test_file and (path == test_file or path.endswith("/" + test_file.lstrip("./"))):
        return True
    if classname and path.endswith(".py"):
        module = path[:-3].replace("/", ".")
        return any(classname == module[i:] or classname.startswith(module[i:] + ".")
                   for i in [0, *(j + 1 for j, c in enumerate(module) if c == ".")])
    return False


def failure_location(text: str | None, classname: str | None = None,
                     test_file: str | None = None) -> tuple[str, int] | None:
    """(file, line) of the frame that best says where the test failed, or None."""
    if not text:
        return None
    found = frames(text)
    if not found:
        return None
    chosen = (next((f for f in found if _owns(f, classname, test_file)), None)
              or next((f for f in found if not _is_library(f)), None)
              or found[0])
    path = _java_path(chosen) if chosen.java else chosen.file
    if test_file and not chosen.java and path.replace("\\", "/").endswith("/" + test_file.lstrip("./")):
        path = test_file  # the runner's absolute path, said the way the report says the test's file
    return path, chosen.line
