"""SSRF: refused addresses at every delivery (DNS rebinding included), the address that
was checked is the one connected to, redirects are not followed; the HTTP client's
limits, against real local servers."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.adapters.http_client import EXCERPT, PinnedHttpClient
from shared.domain import Event
from shared.ids import new_id
from shared.services.webhooks import delivery as webhook_delivery
from shared.services.webhooks import fanout as webhook_fanout
from shared.services.webhooks import registration
from shared.urlguard import refused_address, resolve_target
from tests.unit.webhooks.conftest import build, settings


class Server:
    """A local HTTP(S) server that records requests and answers from `handler`."""

    def __init__(self, handler=None, tls: ssl.SSLContext | None = None):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.handler = handler or (lambda h: (204, {}, b""))
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append((self.path, dict(self.headers), body))
                status, headers, payload = outer.handler(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made = []

    def make(*args, **kwargs):
        server = Server(*args, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def event(account="acc_1") -> Event:
    return Event(id=new_id("evt"), event="message:in:new", created_at=dt.datetime.now(dt.UTC),
                 account=account, device="dev_1", data={})


# --- at delivery, outside local mode ---------------------------------------------------------


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"],
                                    ["93.184.215.14", "172.16.5.4"], ["::ffff:10.0.0.1"],
                                    ["fe80::1"], ["100.64.0.9"]])
def test_dns_rebinding_is_caught_at_delivery(tmp_path, answer):
    """Public when the webhook was saved, private when it is delivered: refused, and
    nothing is posted."""
    c = build(tmp_path, settings_=settings(env="production", allow_private_webhooks=False))
    dns = {"hooks.acme.example": ["93.184.215.14"]}
    resolver = lambda host, port: dns[host]  # noqa: E731
    webhook = registration.create_webhook(c, "acc_1",
                                      url="https://hooks.acme.example/h", events=["*"],
                                      devices=None, resolver=resolver)
    [dlv] = webhook_fanout.fan_out(c, event())
    dns["hooks.acme.example"] = answer
    status = webhook_delivery.deliver(c, dlv, 0,
                              resolver=resolver)
    assert status == "pending" and c.http.posts == []
    [attempt] = c.store.get("deliveries", dlv)["attempts"]
    assert "refused" in attempt["error"] and attempt["status_code"] is None
    assert webhook.url == "https://hooks.acme.example/h"


@pytest.mark.parametrize("url", ["https://metadata.google.internal/computeMetadata/v1/",
                                 "https://169.254.169.254/", "https://127.0.0.1/",
                                 "https://10.0.0.1/"])
def test_urls_changed_in_the_store_are_refused_at_delivery(tmp_path, url):
    c = build(tmp_path, settings_=settings(env="production", allow_private_webhooks=False))
    webhook = registration.create_webhook(c, "acc_1",
                                      url="https://93.184.215.14/h", events=["*"], devices=None)
    c.store.update("webhooks", webhook.id, {"url": url})
    [dlv] = webhook_fanout.fan_out(c, event())
    webhook_delivery.deliver(c, dlv, 0)
    assert c.http.posts == []


def test_delivery_connects_to_the_address_it_checked(tmp_path):
    c = build(tmp_path, settings_=settings(env="production", allow_private_webhooks=False))
    answers = iter([["93.184.215.14"], ["93.184.215.15"]])
    resolver = lambda host, port: next(answers)  # noqa: E731  (changes on every lookup)
    registration.create_webhook(c, "acc_1", url="https://hooks.example/h",
                            events=["*"], devices=None, resolver=resolver)
    [dlv] = webhook_fanout.fan_out(c, event())
    webhook_delivery.deliver(c, dlv, 0, resolver=resolver)
    [post] = c.http.posts
    assert post.address == "93.184.215.15"  # the delivery's own lookup, checked, then used


def test_refused_addresses():
    for address in ("127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1",
                    "fd00::1", "::ffff:127.0.0.1", "2002:c0a8:101::1", "64:ff9b::a00:1", "::",
                    "64:ff9b::808:808"):  # NAT64 could reach anything: all refused
        assert refused_address(address), address
    for address in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2002:5db8:d70e::1"):
        assert not refused_address(address), address


def test_hostname_resolving_to_a_private_address_via_getaddrinfo(monkeypatch):
    monkeypatch.setattr("socket.getaddrinfo",
                        lambda host, port, *a, **k: [(2, 1, 6, "", ("10.1.2.3", port))])
    with pytest.raises(Exception) as refused:
        resolve_target("https://innocent.example/h", allow_private=False)
    assert refused.value.code == "forbidden_address"


# --- redirects, with real servers ------------------------------------------------------------


def test_a_redirect_to_a_private_address_is_not_followed(tmp_path, servers):
    """The receiver answers 302 to the metadata server (here: another local server that
    must never be hit). The attempt fails with 302 and is retried later, at the
    webhook's own URL."""
    metadata = servers()
    redirector = servers(lambda h: (302, {"Location": f"http://127.0.0.1:{metadata.port}/"
                                                       "computeMetadata/v1/"}, b""))
    c = build(tmp_path)
    c.http = PinnedHttpClient()
    registration.create_webhook(c, "acc_1",
                            url=f"http://127.0.0.1:{redirector.port}/h", events=["*"],
                            devices=None)
    [dlv] = webhook_fanout.fan_out(c, event())
    assert webhook_delivery.deliver(c, dlv, 0) == "pending"
    assert len(redirector.requests) == 1 and metadata.requests == []
    [attempt] = c.store.get("deliveries", dlv)["attempts"]
    assert attempt["status_code"] == 302


# --- the client's limits ------------------------------------------------------------------


def test_client_pins_the_address_and_keeps_the_host_header(servers):
    server = servers()
    answer = PinnedHttpClient().post(f"http://receiver.invalid:{server.port}/in?x=1", b"{}",
                                     {"content-type": "application/json"}, 5,
                                     address="127.0.0.1")
    assert answer.status == 204
    [(path, headers, body)] = server.requests
    assert path == "/in?x=1" and body == b"{}"
    assert headers["Host"] == f"receiver.invalid:{server.port}"


def test_client_reads_a_small_excerpt_of_a_huge_answer(servers):
    """The answer says 5 MB and sends 64 KiB, then nothing: a client that read the whole
    body would wait out its timeout and fail; one that reads an excerpt answers at once."""
    server = servers(lambda h: (200, {"Content-Length": "5000000"}, b"x" * 65536))
    answer = PinnedHttpClient().post(f"http://127.0.0.1:{server.port}/", b"{}", {}, 5)
    assert answer.status == 200 and answer.body == "x" * EXCERPT


def test_client_times_out(servers):
    server = servers(lambda h: (time.sleep(2), (200, {}, b""))[1])
    with pytest.raises(OSError, match="Timeout"):  # not the answer 2 s later
        PinnedHttpClient().post(f"http://127.0.0.1:{server.port}/", b"{}", {}, 0.3)


def test_client_reports_a_refused_connection():
    with pytest.raises(OSError):
        PinnedHttpClient().post("http://127.0.0.1:9/", b"{}", {}, 1)


def _certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_tls_to_a_pinned_address_checks_the_host_name(tmp_path, servers):
    cert_file, key_file = _certificate(tmp_path, "hooks.acme.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    server = servers(tls=tls)
    client = PinnedHttpClient(ca_certs=str(cert_file))
    answer = client.post(f"https://hooks.acme.test:{server.port}/h", b"{}", {}, 5,
                         address="127.0.0.1")
    assert answer.status == 204
    assert server.requests[0][1]["Host"] == f"hooks.acme.test:{server.port}"
    with pytest.raises(OSError):  # the certificate is not for this name
        client.post(f"https://other.acme.test:{server.port}/h", b"{}", {}, 5,
                    address="127.0.0.1")


def test_client_reaches_an_ipv6_address():
    import socket

    class V6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = V6(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert PinnedHttpClient().post(f"http://[::1]:{port}/", b"{}", {}, 5,
                                       address="::1").status == 204
        assert PinnedHttpClient().post(f"http://v6.invalid:{port}/", b"{}", {}, 5,
                                       address="::1").status == 204
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [f"[::1]:{port}", f"v6.invalid:{port}"]
