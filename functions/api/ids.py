"""Ids at the edge: the form each kind of id has, checked before any look-up and stated in
the OpenAPI document (the `pattern` of the field or path parameter)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# prefix -> hex digits after it (shared.ids.new_id makes 20; content-addressed ids 24)
ID_KINDS = {"device": ("dev", 20), "label": ("lbl", 20), "message": ("msg", 20),
            "webhook": ("wh", 20), "agent": ("agt", 20), "key": ("key", 20),
            "group operation": ("gop", 20), "group": ("grp", 20), "file": ("file", 24),
            "delivery": ("dlv", 24)}


def id_pattern(kind: str) -> str:
    prefix, digits = ID_KINDS[kind]
    return rf"^{prefix}_[0-9a-f]{{{digits}}}$"


def _checker(kind: str):
    form = re.compile(id_pattern(kind))
    prefix, digits = ID_KINDS[kind]

    def check(value: str) -> str:
        if not form.match(value):
            raise ValueError(f"not a {kind} id ({prefix}_ and {digits} hexadecimal digits)")
        return value

    return check


def object_id(kind: str, description: str | None = None):
    """A str field holding an id of `kind`, refused with a clear message when malformed."""
    prefix, digits = ID_KINDS[kind]
    return Annotated[str, Field(json_schema_extra={"pattern": id_pattern(kind)},
                                description=description,
                                examples=[f"{prefix}_" + "0a1b2c3d4e5f6a7b8c9d0e1f"[:digits]]),
                     AfterValidator(_checker(kind))]


DeviceId = object_id("device")
LabelId = object_id("label")
AgentId = object_id("agent")
