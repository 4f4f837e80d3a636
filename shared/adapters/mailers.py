"""Mailers: SMTP in production; locally and in tests a file outbox, one JSON file a mail,
that people and tests read."""

from __future__ import annotations

import json
import smtplib
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from shared.ports import Mailer


class FileOutboxMailer(Mailer):
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, body: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        mail = {"to": to, "subject": subject, "body": body}
        with self._lock:
            tmp = self.directory / ("." + name)
            tmp.write_text(json.dumps(mail, ensure_ascii=False, indent=2))
            tmp.rename(self.directory / name)

    def sent(self) -> list[dict]:
        """Every mail in the outbox, oldest first."""
        if not self.directory.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.directory.glob("*.json"))]


class SmtpMailer(Mailer):
    def __init__(self, host: str, port: int, sender: str, *, user: str = "",
                 password: str = "", starttls: bool = True, timeout: float = 20.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, to: str, subject: str, body: str) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, subject
        mail.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(mail)
