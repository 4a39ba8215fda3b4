"""The HTTP API, served in-process on an ephemeral 127.0.0.1 port."""

import json
import socket
import threading
import time
import unittest
import urllib.error
import urllib.request

from app.server import make_server


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = []
        cls.server = make_server("127.0.0.1", 0, environ={"APP_VERSION": "1.2.3", "COMMIT_SHA": "abc1234"},
                                 log_line=cls.log.append)
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, kwargs={"poll_interval": 0.05})
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.thread.join(5)
        cls.server.server_close()

    def request(self, method, path, body=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None and not (headers and "Content-Type" in headers):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), json.loads(exc.read())

    def test_health(self):
        status, headers, body = self.request("GET", "/health")
        self.assertEqual((status, body), (200, {"status": "ok"}))
        self.assertEqual(headers["Content-Type"], "application/json")

    def test_one_access_log_line_per_request(self):
        self.request("GET", "/health?probe=access-log")
        # The server logs after the response is sent: give its thread a moment.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any("probe=access-log" in line for line in self.log):
            time.sleep(0.01)
        lines = [line for line in self.log if "probe=access-log" in line]
        self.assertEqual(len(lines), 1, self.log)
        self.assertRegex(lines[0], r'^127\.0\.0\.1 "GET /health\?probe=access-log HTTP/1\.1" 200 17 \d+\.\dms$')

    def test_health_ignores_query_string(self):
        self.assertEqual(self.request("GET", "/health?from=haproxy")[0], 200)

    def test_version_reads_the_environment(self):
        status, _, body = self.request("GET", "/version")
        self.assertEqual((status, body), (200, {"version": "1.2.3", "commit": "abc1234"}))

    def test_every_answer_names_the_release(self):
        for method, path in (("GET", "/health"), ("GET", "/nope")):
            _, headers, _ = self.request(method, path)
            self.assertEqual(headers.get("X-App-Version"), "1.2.3")

    def test_version_defaults_to_dev(self):
        server = make_server("127.0.0.1", 0, environ={})
        try:
            self.assertEqual((server.version, server.commit), ("dev", None))
        finally:
            server.server_close()

    def test_create_then_get_and_list(self):
        status, headers, order = self.request("POST", "/orders", {"item": "book", "quantity": 2})
        self.assertEqual(status, 201)
        self.assertEqual((order["item"], order["quantity"]), ("book", 2))
        self.assertEqual(headers["Location"], "/orders/%d" % order["id"])
        self.assertRegex(order["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")

        status, _, fetched = self.request("GET", "/orders/%d" % order["id"])
        self.assertEqual((status, fetched), (200, order))

        status, _, listing = self.request("GET", "/orders")
        self.assertEqual(status, 200)
        self.assertIn(order, listing["orders"])

    def test_quantity_defaults_to_one(self):
        status, _, order = self.request("POST", "/orders", {"item": "pen"})
        self.assertEqual((status, order["quantity"]), (201, 1))

    def test_ids_increase(self):
        first = self.request("POST", "/orders", {"item": "a"})[2]["id"]
        second = self.request("POST", "/orders", {"item": "b"})[2]["id"]
        self.assertGreater(second, first)

    def test_unknown_order_is_404(self):
        status, _, body = self.request("GET", "/orders/999999")
        self.assertEqual((status, body), (404, {"error": "order 999999 not found"}))

    def test_non_numeric_order_id_is_404(self):
        self.assertEqual(self.request("GET", "/orders/abc")[0], 404)

    def test_unknown_path_is_404(self):
        status, _, body = self.request("GET", "/nope")
        self.assertEqual((status, body), (404, {"error": "no such resource: /nope"}))

    def test_post_on_read_only_resource_is_405(self):
        status, headers, _ = self.request("POST", "/health", {})
        self.assertEqual((status, headers["Allow"]), (405, "GET"))

    def test_invalid_bodies_are_400_with_a_reason(self):
        cases = [
            ({"quantity": 1}, "'item' must be a non-empty string"),
            ({"item": "  "}, "'item' must be a non-empty string"),
            ({"item": "x", "quantity": 0}, "'quantity' must be an integer from 1 to 1000"),
            ({"item": "x", "quantity": "2"}, "'quantity' must be an integer"),
            ({"item": "x", "quantity": True}, "'quantity' must be an integer"),
            ({"item": "x", "colour": "red"}, "unknown field(s): colour"),
            (["item"], "the body must be a JSON object"),
        ]
        for body, reason in cases:
            with self.subTest(body=body):
                status, _, answer = self.request("POST", "/orders", body)
                self.assertEqual(status, 400)
                self.assertIn(reason, answer["error"])

    def test_missing_content_length_is_411(self):
        port = self.server.server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"POST /orders HTTP/1.0\r\n\r\n")
            response = conn.makefile("rb").read()
        self.assertTrue(response.startswith(b"HTTP/1.0 411 "), response)
        self.assertIn(b"Content-Length header is required", response)

    def test_empty_body_is_400(self):
        status, _, body = self.request("POST", "/orders", raw=b"")
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", body["error"])

    def test_malformed_json_is_400(self):
        status, _, body = self.request("POST", "/orders", raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", body["error"])

    def test_oversized_body_is_413(self):
        status, _, body = self.request("POST", "/orders", raw=b" " * (64 * 1024 + 1))
        self.assertEqual(status, 413)
        self.assertIn("larger than", body["error"])


if __name__ == "__main__":
    unittest.main()


class FaultRateTest(unittest.TestCase):
    def test_fault_rate_fails_that_share_of_requests_but_never_health(self):
        server = make_server("127.0.0.1", 0, environ={"APP_VERSION": "bad", "FAULT_RATE": "1"},
                             log_line=lambda line: None)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            with urllib.request.urlopen(base + "/health", timeout=5) as resp:
                self.assertEqual(resp.status, 200)
            with self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(base + "/version", timeout=5)
            self.assertEqual(caught.exception.code, 500)
            self.assertEqual(caught.exception.headers["X-App-Version"], "bad")
        finally:
            server.shutdown()
            server.server_close()

    def test_fault_after_lets_the_first_requests_through(self):
        server = make_server("127.0.0.1", 0, environ={"FAULT_RATE": "1", "FAULT_AFTER": "2"},
                             log_line=lambda line: None)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            for _ in range(2):
                with urllib.request.urlopen(base + "/orders", timeout=5) as resp:
                    self.assertEqual(resp.status, 200)
            with self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(base + "/orders", timeout=5)
            self.assertEqual(caught.exception.code, 500)
        finally:
            server.shutdown()
            server.server_close()
