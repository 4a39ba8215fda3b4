"""Failure file:line read from the traces runners write (snippets copied from the fixtures)."""

from conveyor.reports.locations import failure_location, frames

JAVA_TRACE = """java.lang.AssertionError: HALF discount expected [40] but found [50]
at org.testng.Assert.fail(Assert.java:110)
at org.testng.Assert.assertEquals(Assert.java:131)
at com.example.shop.PriceCalculatorTest.halfCodeHalvesAmount(PriceCalculatorTest.java:18)
at java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
at java.base/java.lang.reflect.Method.invoke(Method.java:569)
"""

NODE_TRACE = """Error: expect(received).toBe(expected) // Object.is equality

Expected: 40
Received: 50
    at Object.toBe (/tmp/rfx/js/__tests__/cart.test.js:15:35)
    at Promise.finally.completed (/tmp/rfx/js/node_modules/jest-circus/build/jestAdapterInit.js:1834:28)
    at new Promise (<anonymous>)
"""

PYTEST_TRACE = """def test_divide_by_zero_unexpected():
>       divide(1, 0)

tests/test_ops.py:34:\x20
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _\x20

    def divide(a, b):
        if b == 0:
>           raise ZeroDivisionError("division by zero")
E           ZeroDivisionError: division by zero

calc/ops.py:7: ZeroDivisionError"""

PYTHON_TRACEBACK = """Traceback (most recent call last):
  File "/tmp/rfx/unittest/test_inventory.py", line 12, in test_lookup
    {}["missing-sku"]
KeyError: 'missing-sku'
"""

MONO_TRACE = """at Billing.Tests.InvoiceTests.GrossWithZeroRate () [0x0002c] in /tmp/rfx/nunit/InvoiceTests.cs:24
at (wrapper managed-to-native) System.Reflection.RuntimeMethodInfo.InternalInvoke(\
System.Reflection.RuntimeMethodInfo,object,object[],System.Exception&)
at System.Reflection.RuntimeMethodInfo.Invoke (System.Object obj) [0x0007c] in <12b418a7818c4ca0893feeaaf67f1e7f>:0
"""

DOTNET_TRACE = """   at Billing.Tests.InvoiceTests.GrossWithZeroRate() in /src/Billing.Tests/InvoiceTests.cs:line 24
   at System.RuntimeMethodHandle.InvokeMethod(Object target, Void** arguments, Signature sig, Boolean isConstructor)
"""


def test_java_frame_of_the_test_class_with_its_package_path():
    assert failure_location(JAVA_TRACE, classname="com.example.shop.PriceCalculatorTest") == (
        "com/example/shop/PriceCalculatorTest.java", 18)


def test_java_without_a_classname_skips_framework_frames():
    assert failure_location(JAVA_TRACE) == ("com/example/shop/PriceCalculatorTest.java", 18)


def test_node_frame_outside_node_modules_said_as_the_report_says_the_file():
    assert failure_location(NODE_TRACE) == ("/tmp/rfx/js/__tests__/cart.test.js", 15)
    assert failure_location(NODE_TRACE, test_file="__tests__/cart.test.js") == ("__tests__/cart.test.js", 15)


def test_pytest_prefers_the_test_module_frame_over_where_the_exception_was_raised():
    assert failure_location(PYTEST_TRACE, classname="tests.test_ops") == ("tests/test_ops.py", 34)
    assert failure_location(PYTEST_TRACE) == ("calc/ops.py", 7)  # innermost, when the test is unknown


def test_python_traceback():
    assert failure_location(PYTHON_TRACEBACK, classname="test_inventory.InventoryTest") == (
        "/tmp/rfx/unittest/test_inventory.py", 12)


def test_mono_and_dotnet_frames():
    assert failure_location(MONO_TRACE, classname="Billing.Tests.InvoiceTests") == (
        "/tmp/rfx/nunit/InvoiceTests.cs", 24)
    assert failure_location(DOTNET_TRACE) == ("/src/Billing.Tests/InvoiceTests.cs", 24)


def test_frames_are_listed_innermost_first():
    assert [(f.file, f.line) for f in frames(PYTEST_TRACE)] == [("calc/ops.py", 7), ("tests/test_ops.py", 34)]


def test_no_location_in_plain_text():
    assert failure_location("assert 0.25 == 0.5") is None
    assert failure_location(None) is None
    assert failure_location("") is None
