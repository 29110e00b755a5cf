"""A real DNS server on loopback for domain verification (dnslib's server in a thread, UDP and TCP on one port),
and the helper that verifies a claimed domain the way the primary owner does: publish the TXT record, look it up
through dnspython (identity.domain_check) and hand the answer to the service."""

from __future__ import annotations

import contextlib
import socket
from collections import defaultdict

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Zone(BaseResolver):
    """TXT records by name; any other name is NXDOMAIN."""

    def __init__(self):
        self.txt: dict[str, list[str]] = defaultdict(list)
        self.address = ""
        self.queries: list[str] = []

    def publish(self, name: str, value: str) -> None:
        self.txt[name.lower().rstrip(".")].append(value)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name not in self.txt:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.txt[name]:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


@contextlib.contextmanager
def dns_server():
    """Serve a Zone on 127.0.0.1 until the block ends; yields it (zone.address is "127.0.0.1:PORT")."""
    zone = Zone()
    logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    port = _free_port()
    servers = [DNSServer(zone, address="127.0.0.1", port=port, logger=logger),
               DNSServer(zone, address="127.0.0.1", port=port, tcp=True, logger=logger)]
    for server in servers:
        server.start_thread()
    zone.address = f"127.0.0.1:{port}"
    try:
        yield zone
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()


def verify_domain(*, organization, domain: str, zone: Zone, actor=None):
    """Claim `domain` for the organization, publish its TXT record in `zone`, and verify it through the DNS."""
    from apps.identity.domain_check import domain_txt_values
    from apps.identity.services import sso_domain_claim, sso_domain_verify

    claim = sso_domain_claim(organization=organization, domain=domain, actor=actor)
    zone.publish(domain, claim.txt_value)
    return sso_domain_verify(claim=claim, txt_values=domain_txt_values(domain), actor=actor)
