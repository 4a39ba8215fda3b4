"""Run the unit tests (stdlib unittest) and write a JUnit XML report, for CodeBuild's `reports:`.

    python3 ci/junit.py reports/junit.xml        # exit 1 if a test failed, like `unittest`
"""

import sys
import time
import traceback
import unittest
from xml.etree import ElementTree as ET


class JUnitResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []
        self._started = 0.0

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _record(self, test, kind=None, err=None, message=None):
        case = ET.Element("testcase", classname=type(test).__module__ + "." + type(test).__qualname__,
                          name=test._testMethodName, time=f"{time.monotonic() - self._started:.3f}")
        if kind == "skipped":
            ET.SubElement(case, "skipped", message=message or "")
        elif kind:
            text = "".join(traceback.format_exception(*err))
            ET.SubElement(case, kind, message=str(err[1]), type=err[0].__name__).text = text
        self.cases.append(case)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", message=reason)


def main(path):
    suite = unittest.defaultTestLoader.discover("tests", top_level_dir=".")
    result = unittest.TextTestRunner(resultclass=JUnitResult, verbosity=1).run(suite)
    root = ET.Element("testsuite", name="orders-service", tests=str(result.testsRun),
                      failures=str(len(result.failures)), errors=str(len(result.errors)),
                      skipped=str(len(result.skipped)))
    root.extend(result.cases)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "junit.xml"))
