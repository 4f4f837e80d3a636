"""Refuse webhook and media URLs that point into our own network (SSRF).

Outside local mode a URL must be https, and its host must resolve only to public
addresses: no private, loopback, link-local (cloud metadata), shared, reserved or
multicast ones, also when an IPv6 address embeds one. The check runs when a webhook is
saved and again before every delivery and every media fetch hop, which then connect to
the very address that was checked (`Target.address`), so a DNS answer that changes in
between (DNS rebinding) cannot redirect them. Redirects are never followed
(shared.adapters.http_client); the media fetcher checks each hop afresh.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import ValidationFailed

METADATA_HOSTS = {"metadata.google.internal", "metadata", "169.254.169.254",
                  "metadata.goog"}
_REFUSED_SUFFIXES = (".internal", ".localhost", ".local")

# host, port -> the addresses it resolves to
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as it goes in the Host header and TLS SNI
    port: int
    address: str  # the checked IP address to connect to


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour  # (NAT64, 64:ff9b::/96, is reserved)
        if embedded is not None and refused_address(str(embedded)):
            return True
    # not is_global also covers shared address space (100.64.0.0/10), which is_private misses
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
            or ip.is_reserved or ip.is_multicast or ip.is_unspecified)


def _fail(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details={"field": field}, code=code)


def _parse(url: str, allow_private: bool, field: str) -> tuple[str, str, int]:
    schemes = ("http", "https") if allow_private else ("https",)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", a port out of range or not a number
        parts, port = None, None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise _fail(field, f"must be an absolute {' or '.join(schemes)} URL", "invalid_url")
    if parts.username is not None or parts.password is not None:
        raise _fail(field, "must not carry credentials; send them in a custom header "
                    "such as Authorization", "invalid_url")
    try:
        host = parts.hostname.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _fail(field, "host is not a valid domain name", "invalid_url") from exc
    if not host:
        raise _fail(field, "host is missing", "invalid_url")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def resolve_target(url: str, *, allow_private: bool, field: str = "url",
                   resolver: Resolver | None = None) -> Target:
    """The address to deliver `url` to, or ValidationFailed saying why not."""
    scheme, host, port = _parse(url, allow_private, field)
    if not allow_private and (host in METADATA_HOSTS or host == "localhost"
                              or host.endswith(_REFUSED_SUFFIXES)):
        raise _fail(field, f"host {host} is a cloud metadata or internal name; it is refused",
                    "forbidden_address")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError, ValueError) as exc:  # ValueError: a label IDNA refuses
            raise _fail(field, f"host {host} does not resolve", "unresolvable_host") from exc
    if not addresses:
        raise _fail(field, f"host {host} does not resolve", "unresolvable_host")
    if not allow_private:
        bad = [a for a in addresses if refused_address(a)]
        if bad:
            raise _fail(field, f"host {host} is or resolves to a private, loopback, link-local or "
                        f"metadata address ({bad[0]}); it is refused", "forbidden_address")
    address = next((a for a in addresses if ":" not in a), addresses[0])  # IPv4 first
    return Target(url=url, scheme=scheme, host=host, port=port, address=address)


def check_url(url: str, *, allow_private: bool, field: str = "url",
              resolver: Resolver | None = None) -> str:
    """Check a URL as it is saved: in local mode only its form (the host need not be up
    yet), elsewhere also where it resolves to."""
    if allow_private:
        _parse(url, True, field)
    else:
        resolve_target(url, allow_private=False, field=field, resolver=resolver)
    return url
