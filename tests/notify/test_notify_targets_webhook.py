"""The webhook target over real HTTP on 127.0.0.1 against conveyor.notify.receiver: headers,
body, signature verified with the secret; CDEvents envelope; how each failure is classified; no
secret value in any receipt or error."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest
from target_fixtures import NOW, SECRETS, clock, message, pipeline_event, secrets_from

from conveyor.config.notification_targets import TargetDef
from conveyor.events.types import Event, Subject
from conveyor.notify.receiver import Receiver
from conveyor.notify.target import DeliveryError, event_payload
from conveyor.notify.targets import build_target
from conveyor.notify.targets.cdevents import cloudevent_type

SECRET = SECRETS["hooks/conveyor"]


def webhook(url: str, **extra) -> TargetDef:
    spec = {"url": url, "secret": "hooks/conveyor", "format": "conveyor", "headers": {}, "timeoutSeconds": 5}
    spec.update(extra)
    return TargetDef("webhook", spec)


def build(target: TargetDef, secrets=None):
    return build_target(target, secrets_from(SECRETS if secrets is None else secrets), allow_host_commands=False,
                        source="conveyor://test-host", clock=clock)


def test_delivered_signed_with_every_header():
    with Receiver(SECRET, clock=clock) as rx:
        msg = message()
        receipt = build(webhook(rx.url, headers={"X-Team": "web"})).send(msg)
        assert receipt.startswith("HTTP 200 from 127.0.0.1")
        (got,) = rx.deliveries()
        assert got.verified is True and got.problem is None
        assert got.header("Content-Type") == "application/json"
        assert got.header("X-Conveyor-Event") == "pipeline-execution-failed"
        assert got.header("X-Conveyor-Delivery") == "dlv-0001"
        assert got.header("X-Conveyor-Timestamp") == str(int(NOW))
        assert got.header("X-Conveyor-Signature-256").startswith("sha256=")
        assert got.header("X-Team") == "web"
        assert got.json() == json.loads(json.dumps(event_payload(msg)))
        assert SECRET not in got.body.decode() and SECRET not in json.dumps(got.headers)


def test_basic_detail_leaves_the_detail_out():
    with Receiver(SECRET, clock=clock) as rx:
        build(webhook(rx.url)).send(message(detail_type="BASIC"))
        body = rx.deliveries()[0].json()
        assert "detail" not in body and body["summary"] == "orders #12: stage Deploy failed"


def test_a_receiver_with_another_secret_refuses_and_the_target_gives_up():
    with Receiver("not-the-same-secret", clock=clock) as rx:
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url)).send(message())
        assert err.value.retry is False and "HTTP 401" in str(err.value)


def test_a_retry_keeps_the_delivery_id_and_the_receiver_deduplicates():
    with Receiver(SECRET, clock=clock) as rx:
        target = build(webhook(rx.url))
        rx.fail_next(1, status=502)
        with pytest.raises(DeliveryError) as err:
            target.send(message())
        assert err.value.retry is True and "HTTP 502" in str(err.value)
        target.send(message())
        target.send(message())        # e.g. resent after a crash before the receipt was stored
        assert rx.attempts["dlv-0001"] == 3 and rx.accepted["dlv-0001"] == 2
        assert len(rx.deliveries()) == 1


@pytest.mark.parametrize("status, retry", [(500, True), (503, True), (408, True), (429, True),
                                           (400, False), (404, False), (410, False), (422, False)])
def test_status_classification(status, retry):
    with Receiver(SECRET, clock=clock) as rx:
        rx.fail_next(1, status=status)
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url)).send(message())
        assert err.value.retry is retry and f"HTTP {status}" in str(err.value)


def test_timeout_and_reset_and_refused_are_retried():
    with Receiver(SECRET, clock=clock) as rx:
        rx.delay_next(1, 30)
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url, timeoutSeconds=0.3)).send(message())
        assert err.value.retry is True and "no answer within 0.3s" in str(err.value)
        rx.reset_next(1)
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url)).send(message())
        assert err.value.retry is True and "connection closed" in str(err.value)
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        build(webhook(f"http://127.0.0.1:{port}/")).send(message())
    assert err.value.retry is True and "connection refused" in str(err.value)


class _Redirector(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):
        self.hits.append(self.path)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_redirects_are_not_followed():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(DeliveryError) as err:
            build(webhook(f"http://127.0.0.1:{server.server_address[1]}/hook")).send(message())
        assert err.value.retry is False and "HTTP 307" in str(err.value) and "not followed" in str(err.value)
        assert _Redirector.hits == ["/hook"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_missing_secret_gives_up_without_sending():
    with Receiver(SECRET, clock=clock) as rx:
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url), secrets={}).send(message())
        assert err.value.retry is False and "secret 'hooks/conveyor'" in str(err.value)
        assert rx.requests == []


def test_no_secret_in_receipts_or_errors_even_when_the_receiver_echoes_it():
    class Echo(http.server.BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = f"your key is {SECRET}".encode()
            self.send_response(self.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/?token={SECRET}"
        receipt = build(webhook(url)).send(message())
        assert SECRET not in receipt and "***" in receipt
        Echo.status = 500
        with pytest.raises(DeliveryError) as err:
            build(webhook(url)).send(message())
        assert SECRET not in str(err.value)
    finally:
        server.shutdown()
        server.server_close()


def test_cdevents_envelope():
    with Receiver(SECRET, clock=clock) as rx:
        build(webhook(rx.url, format="cdevents")).send(message(links={"dashboard": "http://127.0.0.1:8080/e/1a2b"}))
        got = rx.deliveries()[0]
        assert got.verified is True
        assert got.header("Content-Type") == "application/cloudevents+json"
        ce = got.json()
    assert ce["specversion"] == "1.0" and ce["id"] == "dlv-0001" and ce["source"] == "conveyor://test-host"
    assert ce["type"] == "dev.cdevents.pipelinerun.finished.0.2.0" and ce["subject"] == "orders"
    assert ce["time"].endswith("Z") and ce["datacontenttype"] == "application/json"
    cd = ce["data"]
    assert cd["context"]["type"] == ce["type"] and cd["context"]["version"] == "0.4.1"
    assert cd["context"]["id"] == "dlv-0001"
    assert cd["subject"] == {"id": "orders/1a2b3c4d5e6f", "source": "conveyor://test-host", "type": "pipelineRun",
                             "content": {"pipelineName": "orders", "outcome": "failure",
                                         "errors": "orders #12: stage Deploy failed",
                                         "url": "http://127.0.0.1:8080/e/1a2b"}}
    assert cd["customData"]["type"] == "pipeline-execution-failed"


def test_cdevents_type_mapping():
    assert cloudevent_type("pipeline-execution-started") == "dev.cdevents.pipelinerun.started.0.2.0"
    assert cloudevent_type("pipeline-execution-canceled") == "dev.cdevents.pipelinerun.finished.0.2.0"
    assert cloudevent_type("action-execution-failed") == "dev.cdevents.taskrun.finished.0.2.0"
    assert cloudevent_type("deployment-succeeded") == "dev.cdevents.service.deployed.0.2.0"
    assert cloudevent_type("deployment-rolled-back") == "dev.cdevents.service.rolledback.0.2.0"
    assert cloudevent_type("manual-approval-needed") == "dev.conveyor.manual-approval-needed"


def test_cdevents_unmapped_and_service_events():
    from conveyor.notify.targets.cdevents import envelope
    approval = message(pipeline_event("manual-approval-needed", "orders #12 waits for approval"))
    ce = envelope(approval, source="conveyor://h")
    assert ce["type"] == "dev.conveyor.manual-approval-needed" and ce["data"]["type"] == "manual-approval-needed"
    rolled = Event("deployment-rolled-back", NOW, Subject(environment="production", service="web"),
                   {"image": "127.0.0.1:5000/web@sha256:abcd"}, "web rolled back", id="ev-9")
    ce = envelope(message(rolled), source="conveyor://h")
    content = ce["data"]["subject"]["content"]
    assert ce["subject"] == "web" and ce["data"]["subject"]["type"] == "service"
    assert content["environment"] == {"id": "production", "source": "conveyor://h"}
    assert content["artifactId"] == "pkg:oci/web@sha256%3Aabcd"
    canceled = envelope(message(pipeline_event("pipeline-execution-canceled", "stopped by bob")), source="s")
    assert canceled["data"]["subject"]["content"]["errors"] == "canceled: stopped by bob"


def test_https_certificates_are_verified(tmp_path):
    from target_fixtures import make_ca_and_cert
    _, cert, key = make_ca_and_cert(tmp_path)
    with Receiver(SECRET, clock=clock, tls=(str(cert), str(key))) as rx:
        assert rx.url.startswith("https://127.0.0.1:")
        with pytest.raises(DeliveryError) as err:
            build(webhook(rx.url)).send(message())
        assert err.value.retry is False and "certificate not trusted" in str(err.value)
        assert rx.deliveries() == []
