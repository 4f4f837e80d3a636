"""A stand-in for neonize's NewClient: the same methods the adapter calls, and events of
neonize's REAL types (its protobufs) emitted to the handlers registered the neonize way
(`client.event(EventType)(handler)`, `client.event.qr(handler)`). No Go, no network."""

from __future__ import annotations

import hashlib
import itertools
import threading

from neonize.events import ConnectedEv, MessageEv, PairStatusEv, QREv, ReceiptEv
from neonize.proto.Neonize_pb2 import (
    JID,
    Device,
    GroupAnnounce,
    GroupInfo,
    GroupName,
    GroupParticipant,
    GroupTopic,
    IsOnWhatsAppResponse,
    MessageInfo,
    MessageSource,
    PairStatus,
    SendResponse,
    UploadResponse,
)
from neonize.proto.Neonize_pb2 import Receipt as ReceiptProto
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, PollVoteMessage


def user(phone: str) -> JID:
    return JID(User=phone.lstrip("+"), Server="s.whatsapp.net", Device=0, RawAgent=0,
               Integrator=0, IsEmpty=False)


class Events:
    """neonize's Event registry, as the adapter uses it."""

    def __init__(self):
        self.handlers: dict[type, object] = {}
        self.on_qr = None
        self.on_paircode = None

    def __call__(self, event_type):
        def register(handler):
            self.handlers[event_type] = handler

        return register

    def qr(self, handler):
        self.on_qr = handler

    def paircode(self, handler):
        self.on_paircode = handler


class StandInClient:
    _ids = itertools.count(1)

    def __init__(self, world: StandInWhatsApp, device_id: str, saved_jid: str | None):
        self.world, self.device_id, self.saved_jid = world, device_id, saved_jid
        self.event = Events()
        self.running = threading.Event()
        self.ended = threading.Event()
        self.sent: list[tuple[JID, Message]] = []
        self.edits: list[tuple[JID, str, Message]] = []  # (chat, WhatsApp id, new message)
        self.revokes: list[tuple[JID, JID, str]] = []  # (chat, sender, WhatsApp id)
        self.uploads: list[bytes] = []
        self.reads: list[tuple] = []  # mark_read calls: (chat, sender, ids, receipt type)
        self.presences: list[tuple] = []  # send_chat_presence calls: (chat, state, media)
        self.profile: dict = {}
        self.logged_out = False
        self.me = user(world.phone) if saved_jid else None

    # --- what the adapter calls --------------------------------------------------

    def connect(self):
        self.running.set()
        outcome = self.world.next_outcome()
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "return":
            return
        self.ended.wait(30)

    def disconnect(self):
        self.ended.set()

    def stop(self):
        self.ended.set()

    def logout(self):
        self.logged_out = True

    def get_me(self):
        return Device(JID=self.me or JID())

    def send_message(self, to, message):
        self.sent.append((to, message))
        return SendResponse(ID=f"3EB0WA{next(self._ids):010d}", Timestamp=1_700_000_000)

    def upload(self, data, media_type=None):
        self.uploads.append(data)
        digest = hashlib.sha256(data).digest()
        return UploadResponse(url="https://mmg.whatsapp.net/d/f/x.enc", DirectPath="/v/t62/x",
                              MediaKey=b"k" * 32, FileSHA256=digest, FileEncSHA256=digest[::-1],
                              FileLength=len(data))

    def download_any(self, message):
        return self.world.media

    def edit_message(self, chat, message_id, new_message):
        self.edits.append((chat, message_id, new_message))
        return SendResponse(ID=f"3EB0WA{next(self._ids):010d}", Timestamp=1_700_000_000)

    def revoke_message(self, chat, sender, message_id):
        self.revokes.append((chat, sender, message_id))
        return SendResponse(ID=f"3EB0WA{next(self._ids):010d}", Timestamp=1_700_000_000)

    def mark_read(self, *message_ids, chat, sender, receipt, timestamp=None):
        self.reads.append((chat, sender, list(message_ids), receipt))

    def send_chat_presence(self, jid, state, media):
        self.presences.append((jid, state, media))

    def get_pn_from_lid(self, jid):
        """whatsmeow's LID store: the number behind an anonymous id, if it knows it."""
        found = self.world.lid_numbers.get(jid.User)
        return user(found) if found else JID()

    def decrypt_poll_vote(self, message):
        """neonize's decryption of a vote: the SHA-256 of each option chosen (what the
        test put in world.poll_votes under the vote's message id)."""
        return PollVoteMessage(selectedOptions=self.world.poll_votes.get(message.Info.ID, []))

    def is_on_whatsapp(self, *numbers):
        self.world.number_checks.append(numbers)
        return [IsOnWhatsAppResponse(Query=n, IsIn=not n.endswith("0000"), JID=user(n))
                for n in numbers]

    def PairPhone(self, phone, show_push_notification, *args):
        self.world.paired.append(phone)
        return "WXYZ-1234"

    def set_profile_name(self, name):
        self.profile["name"] = name

    def set_status_message(self, text):
        self.profile["about"] = text

    def set_profile_photo(self, data):
        self.profile["photo"] = data
        return "picture-1"

    # groups: neonize's signatures, answering its GroupInfo / GroupParticipant protobufs;
    # errors are raised with whatsmeow's texts, as neonize raises them
    def create_group(self, name, participants=(), linked_parent=None, group_parent=None):
        return self.world.create_group(self.me, name, list(participants))

    def get_group_info(self, jid):
        return self.world.group(jid, "get_group_info")

    def get_joined_groups(self):
        self.world.group_calls.append(("get_joined_groups",))
        return [g for g in self.world.groups.values()
                if any(p.JID.User == self.me.User for p in g.Participants)]

    def set_group_name(self, jid, name):
        self.world.group(jid, "set_group_name", name).GroupName.Name = name

    def set_group_topic(self, jid, previous_id, new_id, topic):
        group = self.world.group(jid, "set_group_topic", previous_id, new_id, topic)
        group.GroupTopic.Topic, group.GroupTopic.TopicDeleted = topic, not topic

    def set_group_announce(self, jid, announce):
        self.world.group(jid, "set_group_announce", announce).GroupAnnounce.IsAnnounce = announce

    def update_group_participants(self, jid, participants_changes, action):
        group = self.world.group(jid, "update_group_participants",
                                 [j.User for j in participants_changes], action.value)
        return self.world.change(group, list(participants_changes), action.value)

    def get_group_invite_link(self, jid, revoke=False):
        self.world.group(jid, "get_group_invite_link", revoke)
        if revoke:
            self.world.invites[jid.User] = f"NEW{next(self._ids):05d}"
        return "https://chat.whatsapp.com/" + self.world.invites.setdefault(jid.User, "FIRST0001")

    # --- what WhatsApp does -------------------------------------------------------

    def emit(self, event) -> None:
        self.event.handlers[type(event)](self, event)

    def show_qr(self, code: str) -> None:
        self.event.on_qr(self, code.encode())

    def qr_event(self, *codes: str) -> None:
        """whatsmeow's events.QR as neonize passes it on when QREv is subscribed: every code
        of the pairing at once (its QR channel then hands them to the QR callback in turn)."""
        self.emit(QREv(Codes=list(codes)))

    def scan(self, phone: str) -> None:
        """The phone scans the QR code: paired, then connected."""
        self.me = user(phone)
        self.emit(PairStatusEv(ID=self.me, Status=PairStatus.PStatus.SUCCESS))
        self.emit(ConnectedEv(status=True))

    def receipt(self, server_ids: list[str], kind, sender: str, from_me: bool = False) -> None:
        self.emit(ReceiptEv(MessageSource=MessageSource(Chat=user(sender), Sender=user(sender),
                                                        IsFromMe=from_me),
                            MessageIDs=server_ids, Timestamp=1_700_000_100, Type=kind))

    def deliver(self, message: Message, *, sender: str, wa_id: str, group: str | None = None,
                push_name: str = "Ann", from_me: bool = False, sender_alt: str | None = None,
                lid: str | None = None, hide_number: bool = False):
        """`lid` ("<digits>@lid"): the sender presented by that anonymous id, with their
        number as SenderAlt unless `hide_number`."""
        chat = JID(User=group.split("@")[0], Server="g.us") if group else user(sender)
        who = JID(User="123456789", Server="lid") if sender_alt else user(sender)
        if lid:
            who = JID(User=lid.split("@")[0], Server="lid")
            if not hide_number:
                sender_alt = sender
            if not group:
                chat = who
        source = MessageSource(Chat=chat, Sender=who, IsFromMe=from_me, IsGroup=bool(group))
        if sender_alt:
            source.SenderAlt.CopyFrom(user(sender_alt))
        self.emit(MessageEv(Info=MessageInfo(MessageSource=source, ID=wa_id, Pushname=push_name,
                                             Timestamp=1_700_000_200),
                            Message=message))


DELIVERED = ReceiptProto.ReceiptType.DELIVERED
READ = ReceiptProto.ReceiptType.READ


class StandInWhatsApp:
    """The world the clients talk to; the adapter's client factory."""

    def __init__(self, phone: str = "+34600555111"):
        self.phone = phone
        self.clients: dict[str, list[StandInClient]] = {}
        self.outcomes: list = []  # what each connect() does: "block", "return" or an exception
        self.media = b"\x89PNG\r\n\x1a\n" + b"x" * 64
        self.number_checks: list[tuple] = []
        self.poll_votes: dict[str, list[bytes]] = {}  # vote id -> option hashes
        self.lid_numbers: dict[str, str] = {}  # LID digits -> E.164 that whatsmeow learnt
        self.paired: list[str] = []
        self.groups: dict[str, GroupInfo] = {}  # by the group JID's user
        self.invites: dict[str, str] = {}
        self.group_calls: list[tuple] = []
        self.participant_errors: dict[str, int] = {}  # phone -> the error WhatsApp answers
        self._lock = threading.Lock()

    # --- groups ----------------------------------------------------------------------

    def create_group(self, me: JID, name: str, participants: list[JID]) -> GroupInfo:
        self.group_calls.append(("create_group", name, [j.User for j in participants]))
        wa_id = f"120363{len(self.groups) + 1:012d}"
        group = GroupInfo(JID=JID(User=wa_id, Server="g.us"), OwnerJID=me,
                          GroupName=GroupName(Name=name), GroupTopic=GroupTopic(),
                          GroupAnnounce=GroupAnnounce(IsAnnounce=False), GroupCreated=1_700_000_000,
                          Participants=[GroupParticipant(JID=me, IsAdmin=True, IsSuperAdmin=True)])
        self.groups[wa_id] = group
        self.change(group, participants, "add")
        group.Participants.extend(GroupParticipant(JID=j, Error=self.participant_errors[j.User])
                                  for j in participants if j.User in self.participant_errors)
        answer = GroupInfo()
        answer.CopyFrom(group)
        del group.Participants[:]  # refused ones are not members
        group.Participants.extend(p for p in answer.Participants if not p.Error)
        return answer

    def group(self, jid: JID, call: str, *args) -> GroupInfo:
        self.group_calls.append((call, jid.User, *args))
        group = self.groups.get(jid.User)
        if group is None:
            raise RuntimeError("info query returned status 404: item-not-found")
        return group

    def change(self, group: GroupInfo, jids: list[JID], action: str) -> list[GroupParticipant]:
        answered = []
        for j in jids:
            error = self.participant_errors.get(j.User, 0)
            found = next((p for p in group.Participants if p.JID.User == j.User), None)
            if not error:
                if action == "add" and found is None:
                    group.Participants.append(GroupParticipant(JID=user(j.User)))
                elif action == "remove" and found is not None:
                    group.Participants.remove(found)
                elif found is not None:
                    found.IsAdmin = action == "promote"
            answered.append(GroupParticipant(JID=user(j.User), IsAdmin=action == "promote",
                                             Error=error))
        return answered

    def next_outcome(self):
        with self._lock:
            return self.outcomes.pop(0) if self.outcomes else "block"

    def __call__(self, device_id: str, saved_jid: str | None) -> StandInClient:
        client = StandInClient(self, device_id, saved_jid)
        with self._lock:
            self.clients.setdefault(device_id, []).append(client)
        return client

    def client(self, device_id: str, *, running: bool = True) -> StandInClient:
        """The device's newest client (waiting for the adapter's thread to start it)."""
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                clients = self.clients.get(device_id)
            if clients and (not running or clients[-1].running.is_set()):
                return clients[-1]
            time.sleep(0.002)
        raise AssertionError(f"no running client for {device_id}")
