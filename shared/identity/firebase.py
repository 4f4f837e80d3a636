"""The Identity port on firebase-admin: Identity Platform in production, the Firebase Auth
emulator locally (FIREBASE_AUTH_EMULATOR_HOST, which firebase-admin reads itself).

Imported only when a request needs it (a person's token, an invitation): firebase-admin
stays out of an API-key request's cold start."""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs, urlsplit

from shared.identity import Identity, IdentityExists, IdentityUser
from shared.settings import Settings

_lock = threading.Lock()


class FirebaseIdentity(Identity):
    def __init__(self, settings: Settings):
        from shared.person_tokens import project_of

        self.project = project_of(settings)
        if settings.local and settings.auth_emulator_host:
            os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", settings.auth_emulator_host)
        self._app = None

    @property
    def app(self):
        import firebase_admin

        with _lock:
            if self._app is None:
                name = f"utio-{self.project}"
                try:
                    self._app = firebase_admin.get_app(name)
                except ValueError:
                    self._app = firebase_admin.initialize_app(
                        options={"projectId": self.project}, name=name)
            return self._app

    @staticmethod
    def _user(record) -> IdentityUser:
        after = record.tokens_valid_after_timestamp  # milliseconds, or None
        return IdentityUser(uid=record.uid, email=(record.email or "").lower() or None,
                            disabled=bool(record.disabled),
                            valid_since=after / 1000 if after else None)

    def get_user(self, uid: str) -> IdentityUser | None:
        from firebase_admin import auth

        try:
            return self._user(auth.get_user(uid, app=self.app))
        except auth.UserNotFoundError:
            return None

    def find_by_email(self, email: str) -> IdentityUser | None:
        from firebase_admin import auth

        try:
            return self._user(auth.get_user_by_email(email, app=self.app))
        except auth.UserNotFoundError:
            return None

    def create_user(self, email: str, *, password: str | None = None,
                    email_verified: bool = False) -> IdentityUser:
        from firebase_admin import auth

        options = {"email": email, "email_verified": email_verified}
        if password is not None:
            options["password"] = password
        try:
            return self._user(auth.create_user(app=self.app, **options))
        except auth.EmailAlreadyExistsError as exc:
            raise IdentityExists(email) from exc

    def delete_user(self, uid: str) -> None:
        from firebase_admin import auth

        try:
            auth.delete_user(uid, app=self.app)
        except auth.UserNotFoundError:
            pass

    def set_password(self, uid: str, password: str) -> bool:
        from firebase_admin import auth

        try:
            auth.update_user(uid, password=password, email_verified=True, app=self.app)
        except auth.UserNotFoundError:
            return False
        return True

    def password_setup_code(self, email: str) -> str:
        from firebase_admin import auth

        link = auth.generate_password_reset_link(email, app=self.app)
        codes = parse_qs(urlsplit(link).query).get("oobCode")
        if not codes:
            raise RuntimeError("Identity Platform answered a password link without a code")
        return codes[0]
