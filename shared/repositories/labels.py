"""An account's labels (collection "labels"), the tags of its chats and contacts."""

from __future__ import annotations

from shared.inbox import Label
from shared.repositories.base import Repository


class Labels(Repository[Label]):
    name = "labels"
    model = Label
    missing = "label"
