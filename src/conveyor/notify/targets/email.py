"""The email target: one message per delivery over SMTP submission (port 587) with STARTTLS.

    EmailTarget(spec, credentials).send(message)   # "SMTP 250 from smtp.example.com: 2 recipients"

Security: STARTTLS is required unless the target says `starttls: false` with `insecure: true`
(a local test relay; the config check then refuses a password). The server certificate is
verified against the system's CAs, or the CA in `caFile` (a private or test CA); a server that does
not offer STARTTLS is an error, never a silent fall back to clear text. The password comes from
the secret store at each send.

The message: subject "[Conveyor] <summary>", a plain-text and an HTML part saying the same (facts,
what to run for an approval, links), `Message-ID: <delivery-id@conveyor>` (the same on every
retry, so a mail system can drop a duplicate), `X-Conveyor-Event`/`X-Conveyor-Delivery`, and
`Auto-Submitted: auto-generated` (RFC 3834: auto-responders do not answer it).

Outcome: the server accepted it for at least one recipient: delivered. Authentication refused,
every recipient or the sender refused with a 5xx, no STARTTLS, a certificate that does not verify:
give up. A 4xx answer, a refused, reset or timed-out connection: try again.
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Mapping

from conveyor.notify.target import DeliveryError, Message
from conveyor.notify.targets import facts
from conveyor.notify.targets.credentials import Credentials

SUBJECT_LIMIT = 200


def subject(message: Message) -> str:
    text = " ".join((message.event.summary or facts.title(message.event.type)).split())
    text = text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"
    return f"[Conveyor] {text}"


def text_body(message: Message) -> str:
    event = message.event
    lines = [event.summary or facts.title(event.type), "", f"Event: {event.type} ({event.severity})"]
    lines += [f"{label}: {value}" for label, value in facts.facts(message)]
    head = facts.call_to_act(message)
    if head:
        lines += ["", head]
        lines += [f"  to {what}: {link}" for what, link in facts.actions(message)]
    others = facts.others(message)
    if others:
        lines += [""] + [f"{key}: {value}" for key, value in others]
    lines += ["", f"Rule {message.rule}, delivery {message.delivery_id}."]
    return "\n".join(lines) + "\n"


def html_body(message: Message) -> str:
    event, e = message.event, html.escape
    rows = "".join(f"<tr><th align=\"left\">{e(label)}</th><td>{e(value)}</td></tr>"
                   for label, value in [("Event", f"{event.type} ({event.severity})"), *facts.facts(message)])
    parts = [f"<p><strong>{e(event.summary or facts.title(event.type))}</strong></p>", f"<table>{rows}</table>"]
    head = facts.call_to_act(message)
    if head:
        items = "".join(f"<li>to {e(what)}: {_html_link(link)}</li>" for what, link in facts.actions(message))
        parts.append(f"<p><strong>{e(head)}</strong></p>" + (f"<ul>{items}</ul>" if items else ""))
    others = facts.others(message)
    if others:
        parts.append("<ul>" + "".join(f"<li>{e(k)}: {_html_link(v)}</li>" for k, v in others) + "</ul>")
    parts.append(f"<p><small>Rule {e(message.rule)}, delivery {e(message.delivery_id)}.</small></p>")
    return "<html><body>" + "".join(parts) + "</body></html>\n"


def _html_link(value: str) -> str:
    if value.startswith(("https://", "http://")):
        return f"<a href=\"{html.escape(value, quote=True)}\">{html.escape(value)}</a>"
    return f"<code>{html.escape(value)}</code>"


def build_message(message: Message, spec: Mapping[str, Any]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = spec["from"]
    mail["To"] = ", ".join(spec["to"])
    mail["Date"] = formatdate(message.event.at, usegmt=True)
    mail["Message-ID"] = f"<{message.delivery_id or message.event.id}@conveyor>"
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Conveyor-Event"] = message.event.type
    mail["X-Conveyor-Delivery"] = message.delivery_id
    mail.set_content(text_body(message))
    mail.add_alternative(html_body(message), subtype="html")
    return mail


class EmailTarget:
    kind = "email"

    def __init__(self, spec: Mapping[str, Any], credentials: Credentials):
        self.spec = spec
        self.credentials = credentials

    def send(self, message: Message) -> str:
        spec = self.spec
        host, port, timeout = spec["host"], int(spec["port"]), float(spec["timeoutSeconds"])
        where = f"{host}:{port}"
        password = self.credentials.get(spec["password"], "the SMTP password") if spec.get("password") else None
        mail = build_message(message, spec)
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as smtp:
                smtp.ehlo()
                if spec.get("starttls", True):
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError(f"{where} does not offer STARTTLS; refusing to send in clear text",
                                            retry=False)
                    smtp.starttls(context=ssl.create_default_context(cafile=spec.get("caFile") or None))
                    smtp.ehlo()
                if password is not None:
                    smtp.login(spec["username"], password)
                refused = smtp.send_message(mail)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{where}: login refused ({exc.smtp_code})", retry=False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(f"{where}: every recipient refused ({', '.join(map(str, codes))})",
                                retry=all(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryError(f"{where}: sender {spec['from']} refused ({exc.smtp_code})",
                                retry=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPResponseException as exc:
            said = self.credentials.mask(_said(exc.smtp_error))
            raise DeliveryError(f"{where}: SMTP {exc.smtp_code} {said}".rstrip(),
                                retry=exc.smtp_code < 0 or 400 <= exc.smtp_code < 500) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"{where}: TLS certificate not trusted ({exc.verify_message})", retry=False) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"{where}: the server does not support what was asked (AUTH?)", retry=False) from None
        except (TimeoutError, socket.timeout):
            raise DeliveryError(f"{where}: no answer within {timeout:g}s", retry=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}", retry=True) from None
        accepted = len(spec["to"]) - len(refused)
        note = f", {len(refused)} refused" if refused else ""
        return f"SMTP accepted by {where}: {accepted} recipient{'s' if accepted != 1 else ''}{note}"


def _said(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    line = " ".join(text.split())
    return line[:120]
