"""Shared pieces of the notification target tests: events and messages, a fake clock, a secret
store as a dict, and a private CA with a certificate for 127.0.0.1 (for STARTTLS tests)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conveyor.events.types import Event, Subject
from conveyor.notify.target import Message

NOW = 1_767_000_000.0
SECRETS = {"hooks/conveyor": "whsec-0123456789abcdef", "slack/deploys": "",
           "smtp/conveyor": "smtp-pa55word-xyz", "github/token": "ghp_testtoken0123456789",
           "gitlab/token": "glpat-testtoken-0123456789"}
COMMIT = "4f2a9c0e1b7d3a5c6e8f0a1b2c3d4e5f60718293"


def clock() -> float:
    return NOW


def secrets_from(values: dict[str, str]):
    def read(name: str) -> str:
        if name not in values:
            raise KeyError(f"no secret named '{name}'")
        return values[name]
    return read


def pipeline_event(event_type: str = "pipeline-execution-failed", summary: str = "orders #12: stage Deploy failed",
                   **detail) -> Event:
    base = {"revision": {"repository": "/srv/git/orders.git", "branch": "main", "commit": COMMIT},
            "execution": {"id": "1a2b3c4d5e6f", "number": 12}, "who": "alice"}
    base.update(detail)
    return Event(event_type, NOW - 5, Subject(pipeline="orders", execution_id="1a2b3c4d5e6f", stage="Deploy"),
                 base, summary, seq=41, id="ev-41")


def message(event: Event | None = None, *, delivery_id: str = "dlv-0001", links=None, detail_type: str = "FULL"
            ) -> Message:
    return Message(event or pipeline_event(), "team-alerts", detail_type, delivery_id, 1,
                   links if links is not None else {"cli": "conveyor describe 1a2b3c4d"})


def make_ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server cert.pem, server key.pem): a private CA and a certificate it signed for
    127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Conveyor test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path
