"""The email target against a real local SMTP server (aiosmtpd) with STARTTLS under a private CA
made in the test: the message as received, login with the password secret, and how failures are
classified (bad password, untrusted certificate, no STARTTLS, refused recipient, nobody listening)."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from target_fixtures import SECRETS, make_ca_and_cert, message, pipeline_event, secrets_from

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.target import DeliveryError
from conveyor.notify.targets import build_target

PASSWORD = SECRETS["smtp/conveyor"]


class Inbox:
    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, bool]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@nowhere.example"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or
                              envelope.content))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"conveyor" and \
            auth_data.password == PASSWORD.encode()
        self.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_ca_and_cert(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def smtp(pki):
    ca, cert, key = pki
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=ctx, require_starttls=True,
                            authenticator=inbox.authenticate, auth_require_tls=True)
    controller.start()
    try:
        yield inbox, controller.port, ca
    finally:
        controller.stop()


def target(port: int, ca, **extra) -> TargetDef:
    spec = {"to": ["team@example.com", "oncall@example.com"], "from": "conveyor@example.com", "host": "127.0.0.1",
            "port": port, "starttls": True, "insecure": False, "caFile": str(ca) if ca else None,
            "username": "conveyor", "password": "smtp/conveyor", "timeoutSeconds": 5}
    spec.update(extra)
    return TargetDef("email", spec)


def send(t: TargetDef, msg=None, secrets=None) -> str:
    return build_target(t, secrets_from(SECRETS if secrets is None else secrets),
                        allow_host_commands=False).send(msg or message())


def test_delivered_over_starttls_with_login(smtp):
    inbox, port, ca = smtp
    event = pipeline_event("manual-approval-needed", "orders #12: Approve/Review <waits> for approval")
    receipt = send(target(port, ca), message(event, links={"approve": "conveyor approve orders Approve Review",
                                                           "cli": "conveyor describe 1a2b"}))
    assert receipt == "SMTP accepted by 127.0.0.1:" + str(port) + ": 2 recipients"
    assert inbox.logins == [("conveyor", True)]
    (sender, rcpts, raw), = inbox.messages
    assert sender == "conveyor@example.com" and rcpts == ["team@example.com", "oncall@example.com"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "[Conveyor] orders #12: Approve/Review <waits> for approval"
    assert mail["Message-ID"] == "<dlv-0001@conveyor>" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Conveyor-Event"] == "manual-approval-needed" and mail["X-Conveyor-Delivery"] == "dlv-0001"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Approval needed." in text and "to approve: conveyor approve orders Approve Review" in text
    assert "Commit: 4f2a9c0 on main" in text and "By: alice" in text
    assert "&lt;waits&gt;" in html and "<waits>" not in html
    assert "<code>conveyor approve orders Approve Review</code>" in html
    assert PASSWORD not in raw.decode()


def test_wrong_password_gives_up(smtp):
    inbox, port, ca = smtp
    with pytest.raises(DeliveryError) as err:
        send(target(port, ca), secrets={**SECRETS, "smtp/conveyor": "wrong-password-123"})
    assert err.value.retry is False and "login refused (535)" in str(err.value)
    assert "wrong-password-123" not in str(err.value) and inbox.messages == []


def test_an_untrusted_certificate_gives_up(smtp):
    inbox, port, _ = smtp
    with pytest.raises(DeliveryError) as err:
        send(target(port, None))        # the system CAs do not know the test CA
    assert err.value.retry is False and "certificate not trusted" in str(err.value)
    assert inbox.logins == [] and inbox.messages == []


def test_a_refused_recipient_gives_up_when_all_are_refused(smtp):
    inbox, port, ca = smtp
    with pytest.raises(DeliveryError) as err:
        send(target(port, ca, to=["x@nowhere.example"]))
    assert err.value.retry is False and "every recipient refused (550)" in str(err.value)
    receipt = send(target(port, ca, to=["x@nowhere.example", "team@example.com"]))
    assert receipt.endswith("1 recipient, 1 refused")


def test_a_server_without_starttls_is_refused_not_used_in_clear():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), auth_require_tls=False)
    controller.start()
    try:
        with pytest.raises(DeliveryError) as err:
            send(target(controller.port, None))
        assert err.value.retry is False and "does not offer STARTTLS" in str(err.value)
        assert inbox.messages == []
        # a local relay, explicitly insecure and without a password, is allowed
        receipt = send(target(controller.port, None, starttls=False, insecure=True, username=None, password=None))
        assert receipt.endswith("2 recipients") and len(inbox.messages) == 1
    finally:
        controller.stop()


def test_nobody_listening_is_retried():
    with pytest.raises(DeliveryError) as err:
        send(target(free_port(), None))
    assert err.value.retry is True
