"""SIGTERM: stop accepting, finish the requests in flight, exit 0 promptly (as `python3 -m app`)."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

SERVICE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ServiceProcess:
    def __init__(self):
        env = dict(os.environ, BIND_HOST="127.0.0.1", PORT="0", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=SERVICE_ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.port = int(self.wait_for_line(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        except BaseException:
            self.stop()
            raise

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern, timeout=5.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError("no line matching %r in output: %r" % (pattern, seen))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.proc.stdout.close()


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.service = ServiceProcess()
        self.addCleanup(self.service.stop)

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.service.port), timeout=5)

    def test_idle_server_exits_zero_promptly(self):
        started = time.monotonic()
        self.service.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.service.proc.wait(5), 0)
        self.assertLess(time.monotonic() - started, 3.0)

    def test_logs_one_line_per_request(self):
        with self.connect() as conn:
            conn.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            self.assertIn(b" 200 ", conn.recv(1024))
        self.service.wait_for_line(r'127\.0\.0\.1 "GET /health HTTP/1\.0" 200')

    def test_in_flight_request_finishes_and_new_connections_are_refused(self):
        body = b'{"item": "book", "quantity": 1}'
        conn = self.connect()
        self.addCleanup(conn.close)
        # The request is in flight: headers sent, body still to come.
        conn.sendall(b"POST /orders HTTP/1.0\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        time.sleep(0.5)
        self.service.proc.send_signal(signal.SIGTERM)
        self.service.wait_for_line("received SIGTERM")
        time.sleep(0.5)

        self.assertIsNone(self.service.proc.poll(), "the process exited with a request in flight")
        with self.assertRaises(ConnectionRefusedError):
            self.connect().close()

        started = time.monotonic()
        conn.sendall(body)
        response = b""
        while chunk := conn.recv(4096):
            response += chunk
        self.assertTrue(response.startswith(b"HTTP/1.0 201 "), response)
        self.assertIn(b'"item": "book"', response)
        self.assertEqual(self.service.proc.wait(5), 0)
        self.assertLess(time.monotonic() - started, 3.0)
        self.service.wait_for_line("stopped")


if __name__ == "__main__":
    unittest.main()
