"""TESTNGXML from a real TestNG 7.5 run (testng-results.xml)."""

from pathlib import Path

from conveyor.reports import FAILED, SKIPPED, SUCCEEDED, parse_report

FIXTURES = Path(__file__).parent / "fixtures"


def test_testng_results():
    report = parse_report(FIXTURES / "testng-results.xml", "TESTNGXML", label="testng-results.xml")
    assert (report.format, report.status, report.duration_seconds) == ("TESTNGXML", FAILED, 0.032)
    # TestNG has no error status: the NullPointerException is a FAIL, as the root's failed="2" says.
    assert (report.total, report.passed, report.failed, report.errors, report.skipped) == (5, 1, 2, 0, 2)
    assert [(c.name, c.status, c.message, c.file, c.line) for c in report.cases] == [
        ("halfCodeHalvesAmount", FAILED, "HALF discount expected [40] but found [50]",
         "com/example/shop/PriceCalculatorTest.java", 18),
        ("labelsAreWip", SKIPPED, "labels not finalised", None, None),
        ("totalSumsPrices", SUCCEEDED, None, None, None),
        ("unknownCodeThrows", FAILED, 'Cannot invoke "String.length()" because "<local2>" is null',
         "com/example/shop/PriceCalculatorTest.java", 24),
        ("stackedCodes", SKIPPED,
         ("Method com.example.shop.PriceCalculatorTest.stackedCodes() on instance "
         "com.example.shop.PriceCalculatorTest@3ec300f1 depends on not successfully finished methods \n"
         "[com.example.shop.PriceCalculatorTest.halfCodeHalvesAmount() on instance "
         "com.example.shop.PriceCalculatorTest@3ec300f1]"), None, None),
    ]
    assert {(c.suite, c.prefix) for c in report.cases} == {("shop-suite", "com.example.shop.PriceCalculatorTest")}
    assert report.cases[0].duration_seconds == 0.002
    assert report.cases[0].details.startswith("java.lang.AssertionError: HALF discount expected [40] but found [50]\n"
                                              "at org.testng.Assert.fail(Assert.java:110)")


def test_configuration_methods_are_not_test_cases(tmp_path):
    path = tmp_path / "testng-results.xml"
    path.write_text("""<testng-results total="1" passed="1"><suite name="s" duration-ms="1500"><test name="t">
      <class name="a.B">
        <test-method name="setUp" status="PASS" is-config="true" duration-ms="3"/>
        <test-method name="works" status="PASS" duration-ms="1000"/>
      </class></test></suite></testng-results>""")
    report = parse_report(path, "TESTNGXML")
    assert [(c.name, c.duration_seconds) for c in report.cases] == [("works", 1.0)]
    assert report.duration_seconds == 1.5
