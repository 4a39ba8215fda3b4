"""The Slack target: Block Kit structure within Slack's limits, what an approval request says,
and real HTTP to a local stand-in for the incoming webhook (its answers: ok, error codes, 429)."""

from __future__ import annotations

import json

import pytest
from target_fixtures import NOW, clock, message, pipeline_event, secrets_from

from conveyor.config.notification_targets import TargetDef
from conveyor.events.types import EVENT_TYPES, Event, Subject
from conveyor.notify.receiver import Receiver
from conveyor.notify.target import DeliveryError
from conveyor.notify.targets import build_target
from conveyor.notify.targets.slack import slack_payload


def check_blocks(payload: dict) -> None:
    """Slack's documented Block Kit limits for the block types used."""
    blocks = payload["blocks"]
    assert isinstance(payload["text"], str) and payload["text"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in ("header", "section", "context")
        if kind == "header":
            assert block["text"]["type"] == "plain_text" and 1 <= len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn" and 1 <= len(block["text"]["text"]) <= 3000
            if "fields" in block:
                assert 1 <= len(block["fields"]) <= 10
                assert all(1 <= len(f["text"]) <= 2000 for f in block["fields"])
        else:
            assert 1 <= len(block["elements"]) <= 10
            assert all(e["type"] == "mrkdwn" and len(e["text"]) <= 2000 for e in block["elements"])


def texts(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_failure_message_has_status_summary_fields_and_links():
    payload = slack_payload(message(links={"cli": "conveyor describe 1a2b3c4d",
                                           "dashboard": "http://127.0.0.1:8080/executions/1a2b"}))
    check_blocks(payload)
    header, summary, fields, context = payload["blocks"]
    assert header["text"]["text"] == ":x: Pipeline execution failed"
    assert summary["text"]["text"] == "orders #12: stage Deploy failed"
    shown = [f["text"] for f in fields["fields"]]
    assert shown == ["*Pipeline*\norders", "*Execution*\n#12 (1a2b3c4d)", "*Stage*\nDeploy",
                     "*Commit*\n`4f2a9c0 on main`", "*By*\nalice"]
    elements = [e["text"] for e in context["elements"]]
    assert elements[0] == "cli: `conveyor describe 1a2b3c4d`"
    assert elements[1] == "dashboard: <http://127.0.0.1:8080/executions/1a2b|open>"
    assert "delivery dlv-0001" in elements[-1] and "rule team-alerts" in elements[-1]


def test_approval_request_says_how_to_approve_or_reject():
    event = pipeline_event("manual-approval-needed", "orders #12: Approve/Review waits for approval")
    payload = slack_payload(message(event, links={"approve": "conveyor approve orders Approve Review --execution 1a2b",
                                                  "reject": "conveyor reject orders Approve Review --execution 1a2b",
                                                  "cli": "conveyor describe 1a2b"}))
    check_blocks(payload)
    assert payload["blocks"][0]["text"]["text"].startswith(":raised_hand: Manual approval needed")
    act = payload["blocks"][3]["text"]["text"]
    assert act.startswith("*Approval needed.*")
    assert "• to approve: `conveyor approve orders Approve Review --execution 1a2b`" in act
    assert "• to reject: `conveyor reject orders Approve Review --execution 1a2b`" in act
    # the action links are not repeated in the context line
    assert all("approve" not in e["text"] for e in payload["blocks"][4]["elements"])


def test_deployment_waiting_says_how_to_continue():
    event = Event("deployment-waiting", NOW, Subject(environment="production", service="web", deployment_id="d-7"),
                  {}, "web in production waits before rerouting traffic")
    payload = slack_payload(message(event, links={"continue": "conveyor deploy continue d-7"}))
    check_blocks(payload)
    act = payload["blocks"][3]["text"]["text"]
    assert act.startswith("*The deployment is waiting for you.*")
    assert "continue the deployment: `conveyor deploy continue d-7`" in act
    fields = [f["text"] for f in payload["blocks"][2]["fields"]]
    assert fields == ["*Environment*\nproduction", "*Service*\nweb", "*Deployment*\nd-7"]


def test_every_event_type_and_oversized_text_stay_within_limits():
    long = "x" * 5000
    for event_type in EVENT_TYPES:
        event = Event(event_type, NOW, Subject(pipeline=long, execution_id=long, stage=long, action=long,
                                               environment=long, service=long, deployment_id=long),
                      {"revision": {"commit": "a" * 40, "branch": long}, "who": long}, long)
        links = {f"link{i}": long for i in range(15)} | {"approve": long, "continue": long}
        check_blocks(slack_payload(message(event, links=links)))


def test_text_from_events_is_escaped():
    event = pipeline_event(summary="<!channel> deploy & <https://evil.example|click>")
    payload = slack_payload(message(event))
    assert payload["blocks"][1]["text"]["text"] == "&lt;!channel&gt; deploy &amp; &lt;https://evil.example|click&gt;"


SLACK_URL_SECRET = "slack/deploys"


def slack(url_value: str):
    target = TargetDef("slack", {"url": SLACK_URL_SECRET, "channel": None, "username": None, "timeoutSeconds": 5})
    return build_target(target, secrets_from({SLACK_URL_SECRET: url_value}), allow_host_commands=False)


def test_sent_to_the_webhook_url_from_the_secret_store():
    with Receiver(clock=clock) as rx:
        url = rx.url + "services/T000/B000/XXXXsecretXXXX"
        receipt = slack(url).send(message())
        assert receipt == "Slack: ok"
        (got,) = rx.deliveries()
        assert got.path == "/services/T000/B000/XXXXsecretXXXX"
        check_blocks(got.json())


@pytest.mark.parametrize("status, body, retry", [(404, "no_service", False), (403, "invalid_token", False),
                                                 (400, "invalid_payload", False), (410, "channel_is_archived", False),
                                                 (429, "rate_limited", True), (500, "rollup_error", True)])
def test_slack_errors_are_classified_and_the_url_never_shown(status, body, retry):
    import http.server
    import threading

    class Slack(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXXsecretXXXX"
        with pytest.raises(DeliveryError) as err:
            slack(url).send(message())
        assert err.value.retry is retry
        assert str(err.value) == f"127.0.0.1:{server.server_address[1]}: HTTP {status}: {body}"
        assert "XXXXsecretXXXX" not in str(err.value)
    finally:
        server.shutdown()
        server.server_close()


def test_a_secret_that_is_not_a_url_gives_up():
    with pytest.raises(DeliveryError) as err:
        slack("xoxb-not-a-url-value").send(message())
    assert err.value.retry is False and "does not hold a URL" in str(err.value)
    assert "xoxb-not-a-url-value" not in str(err.value)
