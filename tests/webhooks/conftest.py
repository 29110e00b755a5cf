"""A real HTTP receiver on 127.0.0.1 (a thread in the test process) and settings that let the portal reach it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from apps.common import outbound
from apps.organizations.models import PlanKind, Role
from apps.webhooks.models import EventType
from apps.webhooks.services import endpoint_create
from tests.factories import OrganizationFactory, member


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers with the next status of `statuses` (the last one repeats)."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver():
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            rec: Receiver = holder["receiver"]
            with rec.lock:
                rec.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = rec.answer()
            reply = b'{"ok": true}' if status < 300 else b"upstream exploded: " + b"x" * 900
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _reach_loopback(settings):
    """Tests deliver to a plain-HTTP server on 127.0.0.1: the outbound guard's allow-list opens exactly that
    address (as test_settings does) and the HTTPS rule is off here (the guard's own tests close both again)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOKS_REQUIRE_HTTPS = False


@pytest.fixture(autouse=True)
def _example_hosts_pass_the_save_check(monkeypatch):
    """Endpoints at the reserved example names (`*.example`, `*.example.com`; no network here to resolve them)
    may be saved as if they were public; a delivery to one still fails, at the connection's own resolution
    (apps/common/outbound.py)."""
    check = outbound.check_url_host
    monkeypatch.setattr(outbound, "check_url_host", lambda host, port: None if host.endswith(
        (".example", "example.com")) else check(host, port))


@pytest.fixture
def org():
    organization = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme")
    member(organization, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    member(organization, email="owner2@acme.example", role=Role.OWNER)
    member(organization, email="admin@acme.example", role=Role.ADMIN)
    return organization


def owner_of(organization):
    return organization.memberships.get(role=Role.PRIMARY_OWNER).user


def endpoint_for(organization, url: str, events=None, now=None):
    """An endpoint and its secret."""
    return endpoint_create(organization=organization, url=url, events=events or list(EventType.values),
                           actor=owner_of(organization), now=now or timezone.now())


def assert_body_matches_schema(event) -> dict:
    """The body the portal sends for `event` validates against the published schema of its type (formats
    checked too); returns the body's `data`."""
    import json

    from jsonschema import Draft202012Validator

    from apps.webhooks.schema import event_schema
    from apps.webhooks.transport import body_encode

    body = json.loads(body_encode(msg_id=event.public_id, event_type=event.event_type, created_at=event.created_at,
                                  data=event.payload))
    validator = Draft202012Validator(event_schema(event.event_type),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{event.event_type}: {errors}"
    assert body["data"]["organization"] == {"id": event.organization_id, "slug": event.organization.slug}
    return body["data"]
