"""Email an account's owner (the account's address), the one way every notice goes:
limits reached, a device that stopped working or sending, a webhook disabled."""

from __future__ import annotations

import logging

from shared.ports import DocumentStore, Mailer
from shared.repositories.accounts import Accounts

log = logging.getLogger(__name__)


def mail_owner(store: DocumentStore, mailer: Mailer | None, account_id: str, subject: str,
               body: str) -> bool:
    """Send the mail; False (nothing sent) when there is no mailer or the account has no
    address. A failure of the mailer raises: each caller decides what it means."""
    email = Accounts(store).email_of(account_id)
    if mailer is None or email is None:
        if email is None:
            log.info("account %s has no email address; not sent: %s", account_id, subject)
        return False
    mailer.send(email, subject, body)
    return True
