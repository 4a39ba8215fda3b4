"""GET /health and GET /price?unit=CENTS&quantity=N&rate=standard|reduced|zero on $PORT."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from app.pricing import total_cents


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        url = urlparse(self.path)
        if url.path == "/health":
            return self._send(200, {"status": "ok"})
        if url.path == "/price":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            try:
                cents = total_cents(int(q.get("unit", "")), int(q.get("quantity", "1")), q.get("rate", "standard"))
            except ValueError as exc:
                return self._send(400, {"error": str(exc)})
            return self._send(200, {"totalCents": cents})
        return self._send(404, {"error": "not found"})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
