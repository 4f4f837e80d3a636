"""Mailer adapters: SMTP in production, a directory of .eml files locally and in tests."""

from __future__ import annotations

import os
import smtplib
import ssl
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.ports import Mailer


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="utio")
    message.set_content(body)
    return message


class FileOutboxMailer(Mailer):
    """Writes each mail as an .eml file in `directory`; open them with any mail client."""

    def __init__(self, directory: str | os.PathLike, sender: str):
        self.directory = Path(directory)
        self.sender = sender
        self._lock = threading.Lock()

    def send(self, to, subject, body):
        message = build_message(self.sender, to, subject, body)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            temp = self.directory / f".{name}.tmp"
            temp.write_bytes(bytes(message))
            temp.rename(self.directory / name)  # readers never see half a file

    def sent(self) -> list[EmailMessage]:
        from email import policy
        from email.parser import BytesParser

        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes())
                for path in sorted(self.directory.glob("*.eml"))] if self.directory.exists() else []


class SmtpMailer(Mailer):
    """smtps://user:password@host:465 (TLS), or smtp://…:587 (STARTTLS when offered)."""

    def __init__(self, url: str, sender: str, timeout: float = 20.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("UTIO_SMTP_URL must look like smtps://user:password@host:465")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def send(self, to, subject, body):
        message = build_message(self.sender, to, subject, body)
        context = ssl.create_default_context()
        if self.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if not self.tls:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)
