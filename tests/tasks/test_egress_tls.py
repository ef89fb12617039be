"""PinnedTransport over real TLS, with no network: a local HTTPS server whose certificate a test
CA issued for a host name. The connection goes to the address resolved once and vetted, while
TLS sends the name as SNI and verifies the certificate against the name, not the address."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jobqueue import PermanentError
from tasks.clients.egress import PinnedTransport

HOST = "api.jobqueue.test"  # .test is reserved (RFC 2606): no real DNS answers for it
OTHER = "other.jobqueue.test"


def _certificate(subject: str, public_key: Any, issuer: str) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


class Authority:
    """A throw-away CA that issues server certificates, written as PEM files under `folder`."""

    def __init__(self, folder: Path, name: str = "jobqueue test CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.name = folder, name
        self.key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            _certificate(name, self.key.public_key(), issuer=name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, host: str) -> tuple[Path, Path]:
        """A certificate and key for `host` (its only subject alternative name), as files."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _certificate(host, key.public_key(), issuer=self.name)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = self.folder / f"{host}.pem", self.folder / f"{host}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_file, key_file

    def client_context(self) -> ssl.SSLContext:
        """What a client trusting only this CA verifies with (host names checked)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


@dataclass
class Seen:
    """What the HTTPS server saw: the SNI names of handshakes, the Host headers of requests."""

    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def https_server(authority: Authority) -> Iterator[Callable[[str], tuple[int, Seen]]]:
    """Start HTTPS servers on 127.0.0.1 presenting a certificate for a given name; each answers
    every GET with 200 and the Host header it got."""
    servers: list[tuple[HTTPServer, threading.Thread]] = []

    def start(name: str) -> tuple[int, Seen]:
        seen = Seen()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*authority.issue(name))
        context.sni_callback = lambda _sock, server_name, _ctx: seen.sni.append(server_name)  # type: ignore[assignment,misc]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.hosts.append(self.headers["Host"])
                body = f"hello from {name}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.server_address[1], seen

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test names resolve to 127.0.0.1 (the answer a DNS server would give, without one);
    every lookup of them is recorded. Other names go to the system's resolver."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (HOST, OTHER):
            asked.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def get(url: str, transport: PinnedTransport) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            return await client.get(url)

    return asyncio.run(call())


LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def test_tls_goes_to_the_vetted_address_and_verifies_the_host_name(
    authority: Authority, https_server: Callable[[str], tuple[int, Seen]], lookups: list[str]
) -> None:
    port, seen = https_server(HOST)
    response = get(f"https://{HOST}:{port}/ping", PinnedTransport(allowed=LOOPBACK, verify=authority.client_context()))

    assert response.status_code == 200
    assert response.text == f"hello from {HOST}"
    assert response.request.url.host == "127.0.0.1"  # the socket went to the vetted address
    assert lookups == [HOST]  # resolved once, by the check; the connection did not look it up again
    assert seen.sni == [HOST]  # TLS named the host, not the address
    assert seen.hosts == [f"{HOST}:{port}"]


def test_a_certificate_for_another_name_is_refused(
    authority: Authority, https_server: Callable[[str], tuple[int, Seen]], lookups: list[str]
) -> None:
    # The server at the vetted address holds a valid certificate of the same CA, for OTHER.
    port, seen = https_server(OTHER)
    with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        get(f"https://{HOST}:{port}/ping", PinnedTransport(allowed=LOOPBACK, verify=authority.client_context()))
    assert seen.sni == [HOST]
    assert seen.hosts == []  # the request was never sent


def test_the_address_itself_is_not_a_name_the_certificate_covers(
    authority: Authority, https_server: Callable[[str], tuple[int, Seen]]
) -> None:
    # Why the SNI matters: verified against the address it connects to, the same certificate fails.
    port, seen = https_server(HOST)
    with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        get(f"https://127.0.0.1:{port}/ping", PinnedTransport(allowed=LOOPBACK, verify=authority.client_context()))
    assert seen.hosts == []


def test_a_certificate_from_an_unknown_authority_is_refused(
    authority: Authority, https_server: Callable[[str], tuple[int, Seen]], lookups: list[str], tmp_path: Path
) -> None:
    port, seen = https_server(HOST)
    stranger = Authority(tmp_path / "stranger", name="another CA")
    with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        get(f"https://{HOST}:{port}/ping", PinnedTransport(allowed=LOOPBACK, verify=stranger.client_context()))
    assert seen.hosts == []


def test_the_address_policy_still_applies_over_tls(
    authority: Authority, https_server: Callable[[str], tuple[int, Seen]], lookups: list[str]
) -> None:
    port, seen = https_server(HOST)
    with pytest.raises(PermanentError, match="non-public address"):
        get(f"https://{HOST}:{port}/ping", PinnedTransport(allowed=[], verify=authority.client_context()))
    assert lookups == [HOST]
    assert seen.sni == []  # refused before any connection
