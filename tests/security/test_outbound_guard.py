"""Hole 5 of issue 26: an owner set the OIDC issuer to http://127.0.0.1:PORT/ and the portal fetched
/.well-known/openid-configuration from it; the webhook guard resolved DNS once to check and let httpx resolve
again to connect (a DNS-rebinding window). Now one guard (apps/common/outbound.py) serves every server-side
fetch: it resolves once, refuses private, loopback, link-local and metadata addresses, and connects to the
address it checked, keeping the URL's host name for the Host header and TLS. Tests reach loopback peers only
through the explicit allow-list OUTBOUND_ALLOWED_NETWORKS."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.utils import timezone

from apps.common import outbound
from apps.identity.models import OrganizationIdentity
from apps.organizations.models import PlanKind, Role
from apps.webhooks.models import EventType
from apps.webhooks.services import delivery_attempt, endpoint_create, webhook_event_emit
from tests.factories import OrganizationFactory, member
from tests.oidc.conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider

pytestmark = pytest.mark.django_db
REAL_GETADDRINFO = socket.getaddrinfo


class Recorder:
    """An HTTP server on one loopback address that records each request's path and Host header."""

    def __init__(self, host: str, port: int = 0, tls: ssl.SSLContext | None = None):
        self.requests: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.path, self.headers.get("host", "")))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _answer  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _pair(tls: ssl.SSLContext | None = None) -> tuple[Recorder, Recorder]:
    """A "public" server on 127.0.0.2 and an "internal" one on 127.0.0.1, on the same port."""
    for _ in range(20):
        public = Recorder("127.0.0.2", tls=tls)
        try:
            return public, Recorder("127.0.0.1", public.port, tls=tls)
        except OSError:
            public.close()
    raise AssertionError("no port free on both loopback addresses")


@pytest.fixture
def rebinding_dns(monkeypatch):
    """`rebind.example` answers 127.0.0.2 (allowed: it stands for a public address) to the first question and
    127.0.0.1 to every later one, as an attacker's DNS server with a zero TTL would. Returns the questions asked."""
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.2" if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def public_is_127_0_0_2(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    settings.WEBHOOKS_REQUIRE_HTTPS = False


def test_the_connection_goes_to_the_address_that_was_checked(rebinding_dns, public_is_127_0_0_2):
    public, internal = _pair()
    try:
        with outbound.httpx_client() as client:
            response = client.get(f"http://rebind.example:{public.port}/httpx")
        session = outbound.requests_session(timeout=5)
        rebinding_dns.clear()
        assert session.get(f"http://rebind.example:{public.port}/requests").status_code == 200
    finally:
        public.close()
        internal.close()
    assert response.status_code == 200
    assert public.requests == [("/httpx", f"rebind.example:{public.port}"),
                               ("/requests", f"rebind.example:{public.port}")]
    assert internal.requests == []


def test_a_webhook_rebinding_to_loopback_between_check_and_send_is_refused(rebinding_dns, public_is_127_0_0_2):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme")
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER).user
    public, internal = _pair()
    try:
        # Saved: the name's first answer is "public".
        endpoint_create(organization=org, url=f"http://rebind.example:{internal.port}/hooks",
                        events=[EventType.INVOICE_PAID], actor=owner, now=timezone.now())
        event = webhook_event_emit(organization=org, event_type=EventType.INVOICE_PAID, payload={})
        attempt = delivery_attempt(delivery_id=event.deliveries.get().pk)
    finally:
        public.close()
        internal.close()
    # The name now answers 127.0.0.1: the connection checks what it connects to, and refuses.
    assert internal.requests == []
    assert not attempt.succeeded and attempt.status_code is None
    assert "private or local network address" in attempt.error
    assert "rebind.example resolves to 127.0.0.1" in attempt.error


def _certificate_for(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_https_keeps_the_host_name_for_sni_and_the_certificate(tmp_path, rebinding_dns, public_is_127_0_0_2):
    cert, key = _certificate_for("rebind.example")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: sni.append(name)
    public, internal = _pair(tls=server_tls)
    try:
        with outbound.httpx_client(verify=ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))) as client:
            response = client.get(f"https://rebind.example:{public.port}/tls")
    finally:
        public.close()
        internal.close()
    assert response.status_code == 200  # the certificate of rebind.example was verified for that name
    assert sni == ["rebind.example"]
    assert public.requests == [("/tls", f"rebind.example:{public.port}")] and internal.requests == []


class CountingForwarder:
    """A TCP forwarder on 127.0.0.1 in front of the OIDC provider, counting the connections it accepts."""

    def __init__(self, target_port: int):
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.listener.close()


def test_an_oidc_issuer_on_loopback_is_never_fetched(settings):
    """Against npm oidc-provider on 127.0.0.1 (as tests/oidc/): with production's empty allow-list the portal
    never connects to the issuer, and the person signing in is told why; the allow-list opening 127.0.0.1/32
    (as the test settings do) lets the same discovery through the guard."""
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="acme", name="Acme")
    member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    with oidc_provider(redirect_uri="http://testserver/sso/oidc/org-acme/login/callback/") as issuer:
        forwarder = CountingForwarder(int(issuer.rsplit(":", 1)[1]))
        try:
            OrganizationIdentity.objects.update_or_create(organization=org, defaults={
                "sso_issuer_url": f"http://127.0.0.1:{forwarder.port}", "sso_client_id": CLIENT_ID,
                "sso_client_secret": CLIENT_SECRET})
            settings.OUTBOUND_ALLOWED_NETWORKS = []
            response = Client().post("/sso/oidc/org-acme/login/")
            assert response.status_code == 400
            assert "127.0.0.1 is not a public address" in response.content.decode()
            assert forwarder.connections == 0
            settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
            response = Client().post("/sso/oidc/org-acme/login/")
            # oidc-provider names its endpoints after the address it was reached at: the forwarder's.
            assert response.status_code == 302
            assert response["Location"].startswith(f"http://127.0.0.1:{forwarder.port}/auth?")
            assert forwarder.connections == 1
        finally:
            forwarder.close()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fd00::1", "fd00:ec2::254", "::ffff:127.0.0.1",
    "64:ff9b::a01:203", "2002:7f00:1::", "fe80::1%eth0", "192.0.2.1",
])
def test_non_public_addresses_are_refused(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not outbound.address_allowed(address)


def test_the_allow_list_opens_exactly_its_networks_and_never_metadata(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32", "169.254.0.0/16"]
    assert outbound.address_allowed("127.0.0.1") and outbound.address_allowed("93.184.215.14")
    assert not outbound.address_allowed("127.0.0.2")
    assert outbound.address_allowed("169.254.1.1") and not outbound.address_allowed("169.254.169.254")
    assert not outbound.address_allowed("168.63.129.16")  # Azure's metadata address is public, and refused


def test_a_name_with_any_refused_address_is_refused_whole(monkeypatch, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))])
    with pytest.raises(outbound.OutboundRefused, match="resolves to 10.0.0.5"):
        outbound.resolve("mixed.example", 443)
