"""The one guard for everything the server fetches from an address someone else typed: webhook deliveries
(httpx) and OpenID Connect discovery, JWKS, token and userinfo requests (requests, through allauth's adapter).

Each connection resolves its host once, checks every address the name resolved to, and connects to the first of
them: the address checked is the address connected to, so a name that answers "public" to the check and
"127.0.0.1" to the connection (DNS rebinding) gets nowhere. The URL keeps its host name, so the Host header, TLS
SNI and certificate check are the name's, as without the guard.

Refused: loopback, private (RFC 1918, unique-local), carrier-grade NAT, link-local, multicast, reserved,
unspecified and every other non-global address, IPv6 forms embedding one (IPv4-mapped, 6to4, Teredo, NAT64),
and the cloud metadata addresses, which no setting opens. A name that resolves to any refused address is refused
whole. Local testing opens exact networks with OUTBOUND_ALLOWED_NETWORKS (a list of CIDRs, e.g. 127.0.0.1/32),
never an off-switch; a deploy check (apps/common/checks.py) refuses one that opens private ranges in production.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl

import httpcore
import httpx
import requests
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (AWS, ECS task metadata, GCP and Azure share 169.254.169.254; AWS IPv6; Alibaba;
# Azure's WireServer, a public address): refused even when an allow-list would include them.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The guard refused to connect; `message` says why (names the host, never the allow-list)."""

    def __init__(self, message: str, *, host: str = "", address: str = ""):
        super().__init__(message)
        self.message, self.host, self.address = message, host, address


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """OUTBOUND_ALLOWED_NETWORKS, parsed (settings.py already refused a malformed one at start)."""
    return _networks(tuple(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ())))


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address and the IPv4 addresses an IPv6 form carries (mapped, 6to4, Teredo, NAT64)."""
    found = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public_address(ip: IPAddress) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback
                                 or ip.is_private or ip.is_unspecified)


def address_allowed(address: str | IPAddress) -> bool:
    """Whether the guard connects to this address: public, or inside OUTBOUND_ALLOWED_NETWORKS; never a
    metadata address."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:  # e.g. a scoped link-local "fe80::1%eth0"
        return False
    candidates = _embedded(ip)
    if any(c in METADATA_ADDRESSES for c in candidates):
        return False
    networks = allowed_networks()
    if any(ip in network for network in networks if network.version == ip.version):
        return True
    return all(is_public_address(c) for c in candidates)


def resolve(host: str, port: int) -> str:
    """The one resolution of a connection: the first address `host` resolves to, after checking them all.
    OutboundRefused when it does not resolve or any address is refused."""
    host = (host or "").strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise OutboundRefused(f"{host} does not resolve", host=host) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve", host=host)
    for address in addresses:
        if not address_allowed(address):
            raise OutboundRefused(f"{host} resolves to {address}, a private, local or reserved address",
                                  host=host, address=address)
    return addresses[0]


def check_url_host(host: str, port: int) -> None:
    """The same check as a connection makes, without connecting (a form saving a URL). OutboundRefused."""
    resolve(host, port)


# --- httpx (webhooks) -------------------------------------------------------------------------------------------

class _GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting to the address `resolve` checked. TLS is started afterwards by
    httpcore with the URL's host name as SNI and for the certificate check."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return super().connect_tcp(resolve(host, port), port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with its connection pool on the guarded backend (httpx has no public parameter for
    httpcore's `network_backend`: the pool is rebuilt here with the transport's own SSL context)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trust_env", False)
        super().__init__(**kwargs)
        self._pool = httpcore.ConnectionPool(ssl_context=self._pool._ssl_context,
                                             network_backend=_GuardedNetworkBackend())


def httpx_client(*, verify: ssl.SSLContext | bool = True, **kwargs) -> httpx.Client:
    """An httpx client whose every connection goes through the guard: no redirects, no proxy from the
    environment. `verify` is the TLS verification of httpx (True: the system's CA bundle)."""
    kwargs.setdefault("follow_redirects", False)
    return httpx.Client(transport=GuardedTransport(verify=verify), trust_env=False, **kwargs)


# --- requests (allauth's OpenID Connect client) -----------------------------------------------------------------

class _GuardedConnectionMixin:
    """urllib3's connection, connecting to the address `resolve` checked. `self.host` (Host header, SNI and the
    certificate's name) stays the URL's host name."""

    def _new_conn(self) -> socket.socket:
        address = resolve(self._dns_host, self.port)
        try:
            return urllib3.util.connection.create_connection(
                (address, self.port), self.timeout, source_address=self.source_address,
                socket_options=self.socket_options)
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedHTTPAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def requests_session(*, timeout: float) -> requests.Session:
    """A requests session whose every connection (redirects included) goes through the guard, with a timeout on
    every request and no proxy from the environment."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedHTTPAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.request = functools.partial(session.request, timeout=timeout)
    return session
