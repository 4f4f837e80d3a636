"""The device runner's shards (collection "shards"): each running instance's lease, its
URL and capacity, and the shards the provisioner is making."""

from __future__ import annotations

from shared.repositories.base import Collection


class Shards(Collection):
    name = "shards"
