"""Groups through whatsmeow's calls, with WhatsApp's rules (device_runner/group_rules.py,
the sandbox's too) checked against the group's current state first, so the participants'
outcomes read the same on both transports."""

from __future__ import annotations

import logging

from device_runner import group_rules
from device_runner.transport import GroupAction, GroupError, GroupInfo, ParticipantChange
from device_runner.whatsapp import group_convert, jids
from device_runner.whatsapp.lifecycle import Client
from shared.inbox import GroupFailure, ParticipantFailure

log = logging.getLogger(__name__)


class GroupCalls:
    """Part of WhatsAppTransport (device_runner/whatsapp/adapter.py)."""

    clients: dict[str, Client]

    def _group_session(self, device_id: str) -> tuple[Client, str | None]:
        s = self._ready(device_id)
        if s is None:
            raise GroupError(GroupFailure.device_not_connected, "the device is not connected")
        me = s.client.get_me().JID
        return s, jids.phone(me) if me is not None else None

    @staticmethod
    def _call(what: str, fn, *args):
        try:
            return fn(*args)
        except GroupError:
            raise
        except Exception as exc:
            raise GroupError(group_convert.group_failure(exc), f"{what}: {exc}") from exc

    def _info(self, s: Client, me: str | None, raw) -> GroupInfo:
        """The port's GroupInfo, with the invite code when the device is an admin."""
        info = group_convert.group_info(raw)
        if me is None or dict(info.participants).get(me) not in group_rules.ADMINS:
            return info
        try:
            link = s.client.get_group_invite_link(raw.JID, False)
        except Exception:
            log.info("device %s: no invite link for %s", s.device_id, info.wa_id, exc_info=True)
            return info
        return group_convert.group_info(raw, invite=link)

    def _admin_info(self, s: Client, me: str | None, wa_id: str):
        raw = self._call("group info", s.client.get_group_info, jids.jid(wa_id))
        info = group_convert.group_info(raw)
        if me is None or dict(info.participants).get(me) not in group_rules.ADMINS:
            raise GroupError(GroupFailure.not_group_admin, "only group admins can do this")
        return raw, info

    def _on_whatsapp(self, s: Client, phones: list[str]) -> tuple[list[str], list[ParticipantChange]]:
        """The phones to ask WhatsApp about, and the changes already known to fail."""
        unknown = [p for p in phones if not self._exists(s, p)]
        return ([p for p in phones if p not in unknown],
                [ParticipantChange(p, False, ParticipantFailure.not_on_whatsapp) for p in unknown])

    def list_groups(self, device_id):
        s, me = self._group_session(device_id)
        joined = self._call("joined groups", s.client.get_joined_groups)
        return [self._info(s, me, raw) for raw in joined]

    def get_group(self, device_id, wa_id):
        s, me = self._group_session(device_id)
        raw = self._call("group info", s.client.get_group_info, jids.jid(wa_id))
        return self._info(s, me, raw)

    def create_group(self, device_id, subject, participants):
        s, me = self._group_session(device_id)
        phones = list(dict.fromkeys(p for p in participants if p != me))
        try:
            ask, failed = self._on_whatsapp(s, phones)
        except Exception as exc:
            raise GroupError(GroupFailure.transport_error, f"number check: {exc}") from exc
        raw = self._call("create group", s.client.create_group, subject,
                         [jids.jid(p) for p in ask])
        known = {c.phone: c for c in failed + group_convert.participant_changes(ask, raw.Participants)}
        return self._info(s, me, raw), [known[p] for p in phones]

    def update_group(self, device_id, wa_id, *, subject=None, description=None, announce=None):
        s, me = self._group_session(device_id)
        raw, info = self._admin_info(s, me, wa_id)
        group = raw.JID
        if subject is not None and subject != info.subject:
            self._call("group subject", s.client.set_group_name, group, subject)
        if description is not None and (description or None) != info.description:
            # whatsmeow fills in the topic's previous id and a new one when given ""
            self._call("group description", s.client.set_group_topic, group, "", "", description)
        if announce is not None and announce != info.announce:
            self._call("announcement mode", s.client.set_group_announce, group, announce)
        return self.get_group(device_id, wa_id)

    def change_participants(self, device_id, wa_id, action, phones):
        from neonize.utils.enum import ParticipantChange as NeonizeChange

        s, me = self._group_session(device_id)
        raw, info = self._admin_info(s, me, wa_id)
        roles = dict(info.participants)
        known: dict[str, ParticipantChange] = {}
        ask = []
        for phone in dict.fromkeys(phones):
            reason = group_rules.refusal(action, roles.get(phone), phone == me)
            if reason is not None:
                known[phone] = ParticipantChange(phone, False, reason)
            else:
                ask.append(phone)
        if action == GroupAction.add and ask:
            try:
                ask, failed = self._on_whatsapp(s, ask)
            except Exception as exc:
                raise GroupError(GroupFailure.transport_error, f"number check: {exc}") from exc
            known.update((c.phone, c) for c in failed)
        if ask:
            answered = self._call(f"{action.value} participants", s.client.update_group_participants,
                                  raw.JID, [jids.jid(p) for p in ask],
                                  NeonizeChange(action.value))
            known.update((c.phone, c) for c in group_convert.participant_changes(ask, answered))
        return [known[p] for p in dict.fromkeys(phones)]

    def reset_invite(self, device_id, wa_id):
        s, me = self._group_session(device_id)
        raw, _ = self._admin_info(s, me, wa_id)
        link = self._call("reset invite link", s.client.get_group_invite_link, raw.JID, True)
        code = group_convert.invite_code(link)
        if code is None:
            raise GroupError(GroupFailure.transport_error, "WhatsApp returned no invite link")
        return code


