"""E-mail over a secured, authenticated connection, as a clinic's mail provider asks: a real SMTP server (aiosmtpd)
with a certificate from a test authority, STARTTLS on the submission port or TLS from the first byte (MAIL_SECURITY
"starttls" / "ssl"), and a login (MAIL_USERNAME, MAIL_PASSWORD) it accepts only over TLS.

The app verifies the server's certificate against the system's authorities (ssl.create_default_context); here
SSL_CERT_FILE names the test authority instead, as OpenSSL reads it. A server whose certificate no trusted authority
signed, a wrong password and a login the server will not take without TLS each end in a MailError that says what to
fix (in Dutch: no request, so the clinic's language), never with the password in it."""

from __future__ import annotations

import email
import ipaddress
import socket
import ssl
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.mail import transport
from backoffice.models import Practice

USER, PASSWORD = "praktijk@mailprovider.example", "s3cret-smtp-wachtwoord"
SENDER = "info@huidtherapie-utrecht.nl"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: str, public_key, signing_key, *, authority: bool):
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True))
    if not authority:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A test authority and a server certificate it signed for 127.0.0.1, plus a self-signed one nobody trusts."""
    folder = tmp_path_factory.mktemp("pki")
    authority_key, server_key, stranger_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    authority = _certificate("Backoffice test CA", "Backoffice test CA", authority_key.public_key(), authority_key,
                             authority=True)
    server = _certificate("127.0.0.1", "Backoffice test CA", server_key.public_key(), authority_key, authority=False)
    stranger = _certificate("127.0.0.1", "127.0.0.1", stranger_key.public_key(), stranger_key, authority=False)
    files = {"authority": folder / "ca.pem", "server": folder / "server.pem", "server_key": folder / "server.key",
             "stranger": folder / "stranger.pem", "stranger_key": folder / "stranger.key"}
    files["authority"].write_bytes(_pem(authority))
    files["server"].write_bytes(_pem(server))
    files["server_key"].write_bytes(_key_pem(server_key))
    files["stranger"].write_bytes(_pem(stranger))
    files["stranger_key"].write_bytes(_key_pem(stranger_key))
    return files


class Mailbox:
    """What the server received, and the logins it saw (and whether each came over TLS)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.logins: list[tuple[str, bool]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        # STARTTLS sets session.ssl; TLS from the first byte shows on the connection itself
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.logins.append((login, encrypted))
        # handled=False: the server answers the failure itself (535)
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_context(pki: dict[str, Path], certificate: str = "server") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki[certificate], pki[f"{certificate}_key"])
    return context


@pytest.fixture
def mail_server(pki, monkeypatch):
    """Start a server: `start(security, certificate)`; the app trusts the test authority (SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["authority"]))
    started: list[Controller] = []

    def start(security: str = "starttls", certificate: str = "server") -> tuple[int, Mailbox]:
        mailbox, port = Mailbox(), _free_port()
        context = _server_context(pki, certificate)
        options = {"authenticator": mailbox.authenticate, "auth_required": True, "auth_require_tls": True}
        if security == "ssl":  # TLS from the first byte: aiosmtpd's auth_require_tls only knows STARTTLS
            controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=30, ssl_context=context,
                                    **(options | {"auth_required": False, "auth_require_tls": False}))
        else:
            controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=30, tls_context=context,
                                    require_starttls=(security == "starttls"), **options)
        controller.start()
        started.append(controller)
        return port, mailbox

    yield start
    for controller in started:
        controller.stop()


def _send(app, port: int, security: str, password: str = PASSWORD) -> str:
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SECURITY=security,
                      MAIL_USERNAME=USER, MAIL_PASSWORD=password, MAIL_TIMEOUT=10.0, MAIL_FROM="")
    with app.app_context():
        if db.session.scalar(select(Practice)) is None:
            db.session.add(Practice(name="Huidtherapie Utrecht", email=SENDER))
            db.session.commit()
        return transport.send("anna@example.nl", "Uw factuur", "Beste Anna,\n\nIn de bijlage uw factuur.",
                              [transport.Attachment("factuur.pdf", b"%PDF-1.7 test")])


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_a_message_goes_out_over_tls_after_a_login(app, mail_server, security):
    port, mailbox = mail_server(security)
    message_id = _send(app, port, security)
    [(recipients, message)] = mailbox.messages
    assert recipients == ["anna@example.nl"] and message["Message-ID"] == message_id
    assert message["From"] == f"Huidtherapie Utrecht <{SENDER}>"
    assert [part.get_filename() for part in message.iter_attachments()] == ["factuur.pdf"]
    assert mailbox.logins == [(USER, True)]  # logged in once, over the encrypted connection


def test_a_wrong_password_is_refused_without_showing_it(app, mail_server):
    port, mailbox = mail_server("starttls")
    with pytest.raises(transport.MailError) as refused:
        _send(app, port, "starttls", password="not-the-password")
    assert "weigerde de gebruikersnaam of het wachtwoord (MAIL_USERNAME, MAIL_PASSWORD)" in str(refused.value)
    assert "not-the-password" not in str(refused.value) and PASSWORD not in str(refused.value)
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN): every try over the encrypted connection
    assert mailbox.messages == [] and mailbox.logins and set(mailbox.logins) == {(USER, True)}


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_a_certificate_no_trusted_authority_signed_is_refused(app, mail_server, security):
    port, mailbox = mail_server(security, certificate="stranger")
    with pytest.raises(transport.MailError) as refused:
        _send(app, port, security)
    assert "Geen beveiligde verbinding met de mailserver 127.0.0.1" in str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert mailbox.messages == [] and mailbox.logins == []  # the password never went to it


def test_no_login_in_the_clear(app, mail_server):
    """MAIL_SECURITY=none against a server that logs in only over TLS: refused before any password is sent."""
    port, mailbox = mail_server("optional")
    with pytest.raises(transport.MailError) as refused:
        _send(app, port, "none")
    assert "127.0.0.1" in str(refused.value) and PASSWORD not in str(refused.value)
    assert mailbox.messages == [] and mailbox.logins == []
