"""Refuse webhook and media URLs that point into our own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from shared.errors import ValidationFailed

METADATA_HOSTS = {"metadata.google.internal", "metadata", "169.254.169.254"}


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    # not is_global: also shared address space 100.64.0.0/10, which is_private misses
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified or not ip.is_global)


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    allowed_schemes = ("http", "https") if allow_private else ("https",)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", a port out of range or not a number
        parts, port = None, None
    if parts is None or parts.scheme not in allowed_schemes or not parts.hostname:
        raise ValidationFailed(f"{field}: must be an absolute {' or '.join(allowed_schemes)} URL",
                               details={"field": field}, code="invalid_url")
    if allow_private:
        return url
    host = parts.hostname.lower()
    if host in METADATA_HOSTS:
        raise ValidationFailed(f"{field}: cloud metadata addresses are refused",
                               details={"field": field}, code="forbidden_address")
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:  # ValueError: a label IDNA cannot encode
        raise ValidationFailed(f"{field}: host {host} does not resolve",
                               details={"field": field}, code="unresolvable_host") from exc
    for info in infos:
        if _refused(info[4][0]):
            raise ValidationFailed(
                f"{field}: host {host} resolves to a private or loopback address",
                details={"field": field}, code="forbidden_address")
    return url
