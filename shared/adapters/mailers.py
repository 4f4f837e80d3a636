"""Mailer adapters: SMTP in production, a file outbox locally and in tests (one JSON
object a line, which tests and developers read)."""

from __future__ import annotations

import json
import smtplib
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.ports import Mailer


class FileOutboxMailer(Mailer):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, body: str) -> None:
        line = json.dumps({"to": to, "subject": subject, "body": body,
                           "at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as outbox:
                outbox.write(line + "\n")

    def messages(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip()]


class SmtpMailer(Mailer):
    """Sends through an SMTP server given as smtp[s]://user:password@host:port; STARTTLS
    on plain smtp when the server offers it."""

    def __init__(self, url: str, sender: str, timeout: float = 20.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://user:password@host:587")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        factory = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with factory(self.host, self.port, timeout=self.timeout) as smtp:
            if not self.ssl and smtp.has_extn("starttls"):
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
