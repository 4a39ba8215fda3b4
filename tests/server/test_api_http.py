"""The API over a real socket (uvicorn): what hostile or broken requests get. Each one is
answered with a 4xx and a JSON error, or refused at the protocol level with a 400, and none
makes the server read a body it was not going to accept. Slow clients are cut off by the
deadlines (shortened here to 0.3 s: conftest.SHORT); the sockets' own 10 s timeout only stops a
broken test from hanging."""

from __future__ import annotations

import json
import socket

import pytest
from api_support import SHORT, TOKEN

AUTH = f"Authorization: Bearer {TOKEN}\r\n"


def connect(address) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (reads end), as opposed to waiting for more."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def send(address, raw: bytes) -> tuple[int, dict[str, str], bytes, socket.socket]:
    sock = connect(address)
    sock.sendall(raw)
    return (*read_response(sock), sock)


def request(method: str, path: str, body: bytes | None = None, *, auth: bool = True, host: str = "127.0.0.1",
            headers: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n" + (AUTH if auth else "") + headers
    if body is not None:
        head += f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
    return head.encode() + b"\r\n" + (body or b"")


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


def test_reads_and_writes_answer_as_before(served):
    status, _, body, _ = send(served, request("GET", "/api/v1/health", auth=False))
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, _, body, _ = send(served, request("POST", "/api/v1/secrets", b'{"name": "db", "value": "s3cret!"}'))
    assert status == 200
    status, _, body, _ = send(served, request("GET", "/api/v1/secrets"))
    assert (status, [s["name"] for s in json.loads(body)]) == (200, ["db"])


def test_requests_on_one_connection_are_not_cut_by_the_header_deadline(served):
    sock = connect(served)
    for _ in range(3):
        sock.sendall(request("GET", "/api/v1/health", auth=False))
        status, headers, _ = read_response(sock)
        assert status == 200 and headers.get("connection") != "close"


def test_without_the_token_a_write_is_refused_before_its_body_is_read(served):
    # 1 MiB announced, nothing sent: the answer comes anyway, and the connection is closed
    status, headers, body, sock = send(served, request("POST", "/api/v1/secrets", auth=False) [:-2]
                                       + b"Content-Length: 1048576\r\n\r\n")
    assert (status, error_of(body)["type"], headers["connection"]) == (401, "Unauthorized", "close")
    assert headers["www-authenticate"].startswith("Bearer")
    assert closed(sock)


def test_reads_need_the_token_too_but_health_does_not(served):
    status, _, body, _ = send(served, request("GET", "/api/v1/executions", auth=False))
    assert (status, error_of(body)["type"]) == (401, "Unauthorized")
    status, _, _, _ = send(served, request("GET", "/api/v1/executions", headers="Authorization: Bearer wrong\r\n",
                                           auth=False))
    assert status == 401
    status, _, _, _ = send(served, request("GET", "/api/v1/openapi.json", auth=False))
    assert status == 200


@pytest.mark.parametrize("length", ["-1", "-300000000", "12abc", "0x10", "1e3", "+5", ""])
def test_a_content_length_that_is_not_a_number_is_400(served, length):
    status, _, _, sock = send(served, b"POST /api/v1/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH.encode()
                              + f"Content-Length: {length}\r\n\r\n".encode())
    assert status == 400
    assert closed(sock)


def test_a_body_over_the_limit_is_413_before_it_is_read(served):
    announced = SHORT.body_bytes + 1
    status, headers, body, sock = send(served, request("POST", "/api/v1/secrets")[:-2]
                                       + f"Content-Length: {announced}\r\n\r\n".encode())
    assert (status, error_of(body)["type"]) == (413, "TooLarge")
    assert closed(sock)


def test_a_post_without_content_length_is_411(served):
    status, _, body, _ = send(served, request("POST", "/api/v1/executions/x/stop"))
    assert (status, error_of(body)["type"]) == (411, "LengthRequired")
    status, _, body, _ = send(served, request("POST", "/api/v1/secrets", headers="Transfer-Encoding: chunked\r\n")
                              + b"5\r\n{}   \r\n0\r\n\r\n")
    assert status == 411


def test_a_client_that_trickles_its_headers_gets_408_and_is_closed(served):
    sock = connect(served)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
    status, headers, body = read_response(sock)
    assert (status, error_of(body)["type"]) == (408, "RequestTimeout")
    assert closed(sock)


def test_a_client_that_never_finishes_its_body_gets_408_and_is_closed(served):
    sock = connect(served)
    sock.sendall(request("POST", "/api/v1/secrets")[:-2] + b"Content-Length: 100\r\n\r\n" + b'{"name": ')
    status, headers, body = read_response(sock)
    assert (status, error_of(body)["type"], headers["connection"]) == (408, "RequestTimeout", "close")
    assert closed(sock)


def test_huge_headers_are_refused(served):
    # in one piece: the app's check (431); in pieces: h11's buffer limit (400) or, read at once, the app's
    status, _, _, sock = send(served, request("GET", "/api/v1/health", auth=False,
                                              headers="X-Big: " + "a" * 64 * 1024 + "\r\n"))
    assert status == 431
    assert closed(sock)
    sock = connect(served)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    status = None
    try:
        for _ in range(40):
            sock.sendall(b"X-Big: " + b"a" * 1000 + b"\r\n")
        sock.sendall(b"\r\n")
        status = read_response(sock)[0]
    except (ConnectionResetError, BrokenPipeError):
        pass  # it answered 400 and closed while the rest was still being sent
    assert status in (400, 431, None)  # h11's limit if it saw the pieces, else the app's; never served
    assert status is None or closed(sock)


@pytest.mark.parametrize("body, message", [
    (b"[" * 30_000 + b"]" * 30_000, "malformed JSON body"),                   # the parser's own recursion guard
    (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested more than 32 levels deep"),
    (b'{"name": "x", "value": ' + b"9" * 5000 + b"}", "malformed JSON body"),  # int over 4,300 digits
    (b'{"name": "x", "value": "\\ud800"}', "lone surrogate"),
    (b'{"name": "x\\u0000", "value": "v"}', "NUL"),
    (b'{"name": "x", "value": ', "malformed JSON body"),
    (b"{\"a\": \"\xff\"}", "not UTF-8"),
    (b"\xff\xfe{}", "UTF-16"),
    (b"[1, 2]", "must be an object"),
    (b'{"name": 1, "value": "v"}', "body.name: expected string, got integer"),
    (b'{"value": "v"}', "body.name: required"),
], ids=["deep-array", "deep-object", "big-int", "surrogate", "nul", "truncated", "not-utf8", "utf16", "array",
        "wrong-type", "missing-key"])
def test_malformed_json_is_400_with_what_is_wrong(served, body, message):
    status, _, answer, _ = send(served, request("POST", "/api/v1/secrets", body))
    assert status == 400
    assert message in error_of(answer)["message"]


def test_a_foreign_host_is_421_and_the_allowed_names_pass(served):
    status, _, body, _ = send(served, request("GET", "/api/v1/health", host="evil.example:7878", auth=False))
    assert (status, error_of(body)["type"]) == (421, "MisdirectedRequest")
    for host in ("localhost:7878", "127.0.0.1", "ci.example.internal", "[::1]:7878"):
        status, _, _, _ = send(served, request("GET", "/api/v1/health", host=host, auth=False))
        assert status == 200, host


def test_a_foreign_host_is_refused_before_the_token_and_the_body(served):
    status, _, _, sock = send(served, request("POST", "/api/v1/secrets", host="evil.example", auth=False)[:-2]
                              + b"Content-Length: 1000000\r\n\r\n")
    assert status == 421
    assert closed(sock)


def test_two_host_headers_are_refused(served):
    status, _, _, _ = send(served, request("GET", "/api/v1/health", auth=False, headers="Host: evil.example\r\n"))
    assert status in (400, 421)


def test_unknown_paths_methods_and_bad_query_values_are_4xx(served):
    status, _, body, _ = send(served, request("GET", "/api/v1/nothing"))
    assert (status, error_of(body)["type"]) == (404, "NotFound")
    status, headers, body, _ = send(served, request("PUT", "/api/v1/secrets", b"{}"))
    assert (status, headers["allow"]) == (405, "GET, POST")
    status, _, body, _ = send(served, request("GET", "/api/v1/executions?limit=many"))
    assert (status, error_of(body)["message"]) == (400, "invalid request: query.limit: expected integer")
    status, _, body, _ = send(served, request("GET", "/api/v1/executions?limit=0"))
    assert status == 400 and "at least 1" in error_of(body)["message"]
    status, _, body, _ = send(served, request("GET", "/api/v1/executions/%ff%fe"))
    assert status == 400
