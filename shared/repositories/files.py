"""Files of media messages (collection "files"): the record of each stored blob, keyed
by a digest of the account and the bytes, so identical bytes are kept once."""

from __future__ import annotations

from shared.repositories.base import Collection


class Files(Collection):
    name = "files"
