"""Constants the API tests share with their fixtures (conftest.py)."""

from conveyor.server.limits import Limits

TOKEN = "test-token"
#: Short deadlines so that the slow-client tests end quickly; the defaults are 10 s.
SHORT = Limits(body_seconds=0.3, header_seconds=0.3, keep_alive_seconds=1, body_bytes=64 * 1024)
