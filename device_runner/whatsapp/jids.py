"""WhatsApp's addresses (JIDs) in Utio's terms: a phone "+<digits>", a group
"<digits>@g.us", an anonymous id "<digits>@lid", the status broadcast. Pure, like
convert.py, which builds and reads the messages sent to and from them."""

from __future__ import annotations

from neonize.proto.Neonize_pb2 import JID

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"
STATUS_BROADCAST = "status@broadcast"


class Unsupported(ValueError):
    """Content or an address that cannot be expressed as a WhatsApp message."""


def jid(to: str) -> JID:
    """A recipient as WhatsApp addresses it: "+<digits>" or "<digits>@g.us"."""
    if to == STATUS_BROADCAST:
        return JID(User="status", Server="broadcast", Device=0, RawAgent=0, Integrator=0,
                   IsEmpty=False)
    if to.endswith("@" + LID_SERVER):  # a contact known only by its anonymous id
        return JID(User=to.split("@", 1)[0], Server=LID_SERVER, Device=0, RawAgent=0,
                   Integrator=0, IsEmpty=False)
    if to.endswith("@" + GROUP_SERVER):
        return JID(User=to.split("@", 1)[0], Server=GROUP_SERVER, Device=0, RawAgent=0,
                   Integrator=0, IsEmpty=False)
    digits = to.lstrip("+")
    if not digits.isdigit():
        raise Unsupported(f"not a phone number or group id: {to!r}")
    return JID(User=digits, Server=USER_SERVER, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


def parse_jid(text: str) -> JID:
    """"user[.agent][:device]@server" as whatsmeow writes it."""
    user, _, server = text.partition("@")
    device = 0
    if ":" in user:
        user, _, number = user.partition(":")
        device = int(number or 0)
    agent = 0
    if "." in user:
        user, _, raw = user.partition(".")
        agent = int(raw or 0)
    return JID(User=user, Server=server or USER_SERVER, Device=device, RawAgent=agent,
               Integrator=0, IsEmpty=False)


def jid_text(value: JID) -> str:
    return f"{value.User}@{value.Server}" if value.User else value.Server


def phone(value: JID) -> str | None:
    """E.164 of a user JID (device suffixes dropped); None for groups, lids, broadcasts."""
    if value.Server != USER_SERVER or not value.User.isdigit():
        return None
    return "+" + value.User


def lid_text(value: JID) -> str | None:
    """"<digits>@lid" of an anonymous-id JID; None for any other."""
    if value.Server != LID_SERVER or not value.User.isdigit():
        return None
    return f"{value.User}@{LID_SERVER}"
