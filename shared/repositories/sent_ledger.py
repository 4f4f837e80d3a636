"""The WhatsApp transport's ledger of sends (collection "wa_sent", keyed by our wa_id):
WhatsApp's id of each message sent through it, so a repeated send is answered from the
ledger and receipts map back to ours (device_runner/whatsapp/sending.py)."""

from __future__ import annotations

from datetime import datetime

from shared.repositories.base import Collection


class SentLedgerEntries(Collection):
    name = "wa_sent"

    def record(self, wa_id: str, *, device_id: str, server_id: str, at: datetime) -> None:
        self.put_doc(wa_id, {"device_id": device_id, "server_id": server_id, "at": at})

    def server_id(self, wa_id: str) -> str | None:
        doc = self.doc(wa_id)
        return doc.get("server_id") if doc else None

    def wa_id_of(self, server_id: str) -> str | None:
        """Our wa_id of the message WhatsApp knows as `server_id`, if we sent it."""
        docs = self.docs([("server_id", "==", server_id)], limit=1)
        return docs[0]["id"] if docs else None
