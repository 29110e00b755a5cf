"""Domain verification's DNS lookup: the TXT records of a domain, through dnspython, from the nameservers of
IDENTITY_DNS_NAMESERVERS ("ip" or "ip:port") or the system's resolver. Network only: callers look up outside
any transaction and hand what they found to the service."""

from __future__ import annotations

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings


class DomainLookupFailed(Exception):
    """The nameserver could not be asked or did not answer (not: the domain has no TXT record)."""


def _resolver() -> dns.resolver.Resolver:
    configured = [s.strip() for s in settings.IDENTITY_DNS_NAMESERVERS if s.strip()]
    if not configured:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        servers = []
        for entry in configured:
            host, _sep, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host or entry, int(port) if port else 53))
        resolver.nameservers = servers
    resolver.timeout = resolver.lifetime = settings.IDENTITY_DNS_TIMEOUT
    resolver.cache = None
    return resolver


def domain_txt_values(domain: str) -> list[str]:
    """The domain's TXT record values (each record's strings joined), [] when it has none or does not exist."""
    try:
        answer = _resolver().resolve(domain, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        raise DomainLookupFailed(str(exc)) from exc
    except dns.exception.DNSException as exc:
        raise DomainLookupFailed(str(exc)) from exc
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
