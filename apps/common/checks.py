"""System checks of the shared helpers' settings."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.checks import Error, Tags, register

from .outbound import METADATA_ADDRESSES, is_public_address


def _opens_non_public(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether the network holds an address the guard would otherwise refuse: one of its ends is not public
    (private, loopback, link-local, reserved…; the non-public ranges are aligned blocks, so a range that holds
    one and is entirely public elsewhere cannot exist at a CIDR's ends only, except the metadata addresses)."""
    ends = (network.network_address, network.broadcast_address)
    return not all(is_public_address(ip) for ip in ends) or any(a in network for a in METADATA_ADDRESSES
                                                              if a.version == network.version)


@register(Tags.security, deploy=True)
def outbound_allow_list_check(app_configs, **kwargs):
    """In production (DEBUG off), OUTBOUND_ALLOWED_NETWORKS may not open private, loopback, link-local or other
    non-public ranges to server-side fetches: that list exists for local testing only."""
    if settings.DEBUG:
        return []
    networks = (ipaddress.ip_network(cidr, strict=False) for cidr in getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()))
    opened = [str(network) for network in networks if _opens_non_public(network)]
    if not opened:
        return []
    return [Error(
        f"OUTBOUND_ALLOWED_NETWORKS opens non-public networks to server-side fetches: {', '.join(opened)}.",
        hint="This list is for local testing only. Unset OUTBOUND_ALLOWED_NETWORKS in production; webhooks and "
             "OpenID Connect discovery must reach public addresses only.",
        id="common.E001",
    )]
