"""People's identities (Identity Platform, i.e. Firebase Authentication): the port the
services use, so that tests hand in a fake and production and the local stack the
firebase-admin adapter (shared/identity/firebase.py, on the Auth emulator locally)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityUser:
    uid: str
    email: str | None
    disabled: bool = False
    valid_since: float | None = None  # tokens issued before this time are revoked


class IdentityExists(Exception):
    """An identity with this email exists already."""


class Identity(ABC):
    @abstractmethod
    def get_user(self, uid: str) -> IdentityUser | None: ...

    @abstractmethod
    def find_by_email(self, email: str) -> IdentityUser | None: ...

    @abstractmethod
    def create_user(self, email: str, *, password: str | None = None,
                    email_verified: bool = False) -> IdentityUser:
        """Raises IdentityExists when the email is taken."""

    @abstractmethod
    def delete_user(self, uid: str) -> None:
        """Deleting a user that does not exist is no error."""

    def set_password(self, uid: str, password: str) -> bool:
        """Give the user this password (and a verified email); False when this backend
        cannot, or the user is gone."""
        return False

    @abstractmethod
    def password_setup_code(self, email: str) -> str:
        """A one-time code (oobCode) with which the user sets a password: what a password
        reset link carries. We mail it ourselves inside our own link."""
