"""A bad report file is MalformedReport saying which file, what and where — never another exception."""

from pathlib import Path

import pytest

from conveyor.errors import ConveyorError, UserError
from conveyor.reports import COVERAGE_FORMATS, TEST_FORMATS, CoverageReport, MalformedReport, TestReport, parse_report

FIXTURES = Path(__file__).parent / "fixtures"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuites><testsuite name="&lol3;"/></testsuites>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE testsuites [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuites><testsuite name="&secret;"/></testsuites>
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def malformed(path: Path, fmt: str) -> MalformedReport:
    with pytest.raises(MalformedReport) as caught:
        parse_report(path, fmt, label=path.name)
    return caught.value


def test_malformed_report_is_a_user_error_with_file_line_and_reason():
    error = MalformedReport("reports/junit.xml", "mismatched tag", line=12)
    assert isinstance(error, UserError) and isinstance(error, ConveyorError)
    assert (error.file, error.line, error.reason) == ("reports/junit.xml", 12, "mismatched tag")
    assert str(error) == "reports/junit.xml:12: mismatched tag"


def test_truncated_xml_names_the_line_where_it_stops(tmp_path):
    text = (FIXTURES / "pytest-junit-xunit1.xml").read_text()
    path = write(tmp_path, "junit.xml", text[: len(text) // 2])
    error = malformed(path, "JUNITXML")
    assert error.reason == "not well-formed XML: no element found"
    assert error.line == text[: len(text) // 2].count("\n") + 1
    assert error.hint == "the report group's file-format is JUNITXML; check that the file is written in that format"


def test_wrong_root_element(tmp_path):
    error = malformed(FIXTURES / "jacoco.xml", "JUNITXML")
    assert str(error) == ("jacoco.xml:1: not a JUnit XML report: the root element is <report>, "
                          "expected <testsuites> or <testsuite>")


@pytest.mark.parametrize(("fixture", "fmt", "message"), [
    ("jest-clover.xml", "COBERTURAXML",
     "jest-clover.xml:2: not a Cobertura XML report: <coverage><project> is Clover XML; declare file-format CLOVERXML"),
    ("jest-cobertura.xml", "CLOVERXML",
     ("jest-cobertura.xml:3: not a Clover XML report: <coverage> has no <project>; "
     "<coverage> with <packages> is Cobertura XML")),
    ("pytest-nunit3.xml", "NUNITXML",
     ("pytest-nunit3.xml:1: not an NUnit 2 XML report: <test-run> is the root of NUnit 3 XML; "
     "declare file-format NUNIT3XML")),
    ("nunit2-console.xml", "NUNIT3XML",
     ("nunit2-console.xml:3: not an NUnit 3 XML report: <test-results> is the root of NUnit 2 XML; "
     "declare file-format NUNITXML")),
])
def test_a_neighbouring_format_is_named(fixture, fmt, message):
    assert str(malformed(FIXTURES / fixture, fmt)) == message


@pytest.mark.parametrize(("content", "reason"), [
    ('{"features": []}', "not a Cucumber JSON report: expected an array of features, found an object"),
    ("[1, 2]", "not a Cucumber JSON report: item 0 is a number without uri, keyword or elements, not a feature"),
    ('[{"name": "x", "elements": {"a": 1}}]',
     "not a Cucumber JSON report: features[0].elements is not an array of objects"),
])
def test_json_that_is_not_a_cucumber_report(tmp_path, content, reason):
    assert malformed(write(tmp_path, "cucumber.json", content), "CUCUMBERJSON").reason == reason


def test_a_coverage_file_declared_as_cucumber(tmp_path):
    error = malformed(FIXTURES / "simplecov-coverage.json", "CUCUMBERJSON")
    assert error.reason == "not a Cucumber JSON report: expected an array of features, found an object"


def test_simplecov_json_gem_format_is_refused_with_the_reason(tmp_path):
    content = '{"timestamp": 1, "command_name": "RSpec", "files": [], "metrics": {"covered_percent": 0}}'
    error = malformed(write(tmp_path, "coverage.json", content), "SIMPLECOV")
    assert "simplecov-json gem's format, which CodeBuild does not accept" in error.reason


def test_invalid_json_names_the_line(tmp_path):
    error = malformed(write(tmp_path, "cucumber.json", '[\n  {"uri": "a.feature",\n  }\n]'), "CUCUMBERJSON")
    assert (error.line, error.reason) == (3, ("not valid JSON: Expecting property name enclosed in double quotes "
                                             "(column 3)"))


def test_json_nested_too_deeply(tmp_path):
    error = malformed(write(tmp_path, "cucumber.json", "[" * 200_000), "CUCUMBERJSON")
    assert (error.reason, error.line) == ("nested more than 64 levels deep", 1)


def test_doctype_bomb_is_refused_before_any_expansion(tmp_path):
    error = malformed(write(tmp_path, "bomb.xml", BILLION_LAUGHS), "JUNITXML")
    assert (error.line, error.reason) == (2, ("DOCTYPE with an internal subset (entity declarations) is not "
                                             "accepted in a report"))


def test_external_entities_are_refused(tmp_path):
    error = malformed(write(tmp_path, "xxe.xml", EXTERNAL_ENTITY), "JUNITXML")
    assert error.reason.startswith("DOCTYPE with an internal subset")


def test_an_undeclared_entity_is_not_well_formed(tmp_path):
    error = malformed(write(tmp_path, "junit.xml", '<testsuites name="&secret;"/>'), "JUNITXML")
    assert (error.line, error.reason) == (1, "not well-formed XML: undefined entity")


def test_an_external_doctype_without_subset_is_read_as_real_generators_write_it():
    # <!DOCTYPE coverage SYSTEM …> and <!DOCTYPE report PUBLIC …>
    assert parse_report(FIXTURES / "jest-cobertura.xml", "COBERTURAXML").lines_covered == 7
    assert parse_report(FIXTURES / "jacoco.xml", "JACOCOXML").lines_covered == 7


@pytest.mark.parametrize("fmt", TEST_FORMATS + COVERAGE_FORMATS)
def test_empty_file(tmp_path, fmt):
    for content in ("", "  \n\n"):
        error = malformed(write(tmp_path, "report", content), fmt)
        assert str(error) == "report: the file is empty"


@pytest.mark.parametrize("fmt", TEST_FORMATS + COVERAGE_FORMATS)
def test_missing_file_and_directory(tmp_path, fmt):
    assert str(malformed(tmp_path / "nope.xml", fmt)) == "nope.xml: no such file"
    (tmp_path / "dir.xml").mkdir()
    assert str(malformed(tmp_path / "dir.xml", fmt)) == "dir.xml: is a directory, not a report file"


def test_a_number_that_is_not_a_number_names_the_attribute_and_line(tmp_path):
    path = write(tmp_path, "junit.xml", '<testsuite name="s">\n  <testcase name="t" time="fast"/>\n</testsuite>')
    assert str(malformed(path, "JUNITXML")) == "junit.xml:2: <testcase> attribute time='fast' is not a number"


def test_trx_duration_that_is_not_a_timespan(tmp_path):
    path = write(tmp_path, "run.trx", '<TestRun><Results>\n<UnitTestResult testName="t" outcome="Passed" '
                                      'duration="5 seconds"/></Results></TestRun>')
    assert str(malformed(path, "VISUALSTUDIOTRX")) == (
        "run.trx:2: <UnitTestResult> attribute duration='5 seconds' is not a duration (hh:mm:ss.fffffff)")


def test_unknown_format_is_a_user_error_naming_the_formats():
    with pytest.raises(UserError) as caught:
        parse_report(FIXTURES / "jacoco.xml", "LCOV")
    assert not isinstance(caught.value, MalformedReport)
    assert str(caught.value) == "unknown report file-format 'LCOV'"
    assert caught.value.hint.startswith("use one of JUNITXML, CUCUMBERJSON")


def test_format_names_are_case_insensitive():
    assert parse_report(FIXTURES / "jacoco.xml", "jacocoxml").format == "JACOCOXML"


GARBAGE = [
    b"\x00\xff\xfe binary",
    b"<",
    b"<?xml version='1.0'?>",
    b"not xml at all",
    b"[]",
    b"{}",
    b'{"coverage": {"a.rb": {"lines": ["x"]}}, "meta": {}}',
    b'[{"uri": "a.feature", "elements": [{"steps": [{"result": "passed"}]}]}]',
    b'<testsuites><testsuite><testcase name="t"><failure/></testcase></testsuite></testsuites>',
    (b'<coverage><packages><package><classes><class filename="a"><lines><line number="x" hits="1"/>'
    b'</lines></class></classes></package></packages></coverage>'),
    b'<coverage lines-valid="-3" lines-covered="1"/>',
    b'<report><counter type="LINE" missed="1.5" covered="2"/></report>',
    b'<coverage><project><metrics statements="1" coveredstatements="5"/></project></coverage>',
    b'<testng-results><suite duration-ms="soon"/></testng-results>',
    b'<test-run><test-case result="Passed" duration="a while"/></test-run>',
    b'<TestRun><Results><UnitTestResult outcome="Passed" duration="1:2"/></Results></TestRun>',
]


@pytest.mark.parametrize("fmt", TEST_FORMATS + COVERAGE_FORMATS)
@pytest.mark.parametrize("content", GARBAGE, ids=range(len(GARBAGE)))
def test_any_input_gives_a_report_or_malformed_report_and_nothing_else(tmp_path, fmt, content):
    path = write(tmp_path, "report", content)
    try:
        report = parse_report(path, fmt)
    except MalformedReport as error:
        assert error.file == str(path) and error.reason
    else:
        assert isinstance(report, TestReport if fmt in TEST_FORMATS else CoverageReport)
