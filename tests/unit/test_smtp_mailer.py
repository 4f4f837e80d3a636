"""SmtpMailer speaks EHLO before asking for STARTTLS, and never sends a password in clear."""

from __future__ import annotations

import pytest

from shared.adapters import mailers


class Server:
    """Stands in for smtplib.SMTP: records the conversation."""

    offers_starttls = True
    instances: list[Server] = []

    def __init__(self, host, port, timeout):
        self.calls: list[str] = []
        self.greeted = False
        Server.instances.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def ehlo(self):
        self.greeted = True
        self.calls.append("ehlo")

    def has_extn(self, name):
        return self.greeted and name == "starttls" and self.offers_starttls

    def starttls(self):
        self.calls.append("starttls")

    def login(self, user, password):
        self.calls.append("login")

    def send_message(self, message):
        self.calls.append("send")


@pytest.fixture
def server(monkeypatch):
    Server.instances = []
    Server.offers_starttls = True
    monkeypatch.setattr(mailers.smtplib, "SMTP", Server)
    return Server


def test_starttls_comes_before_the_password(server):
    mailers.SmtpMailer("smtp://user:secret@mail.example:587", "Utio <a@b.c>").send("x@y.z", "s", "b")
    assert server.instances[0].calls == ["ehlo", "starttls", "ehlo", "login", "send"]


def test_no_password_in_clear(server):
    server.offers_starttls = False
    with pytest.raises(OSError, match="STARTTLS"):
        mailers.SmtpMailer("smtp://user:secret@mail.example:587", "Utio <a@b.c>").send("x@y.z", "s", "b")
    assert "login" not in server.instances[0].calls
