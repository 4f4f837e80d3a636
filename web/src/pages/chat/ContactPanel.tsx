// The contact panel: name, number, metadata (key and value), labels (add, remove, create;
// set on the contact and on its chat, so the chat list filters by them), read or unread,
// the agent who answers, and deleting the chat. Creating labels and deleting chats are an
// owner's or an admin's, as the API has it; agents use the labels there are.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../../api/client";
import type { Person } from "../../session";
import type { Chat, Device } from "./Inbox";

type Contact = Schemas["ContactOut"];
type Row = { key: string; value: string };

export function ContactPanel({ device, chatId, chat, labels, person, onLabelsChanged, onClose, onDeleted }: {
  device: Device; chatId: string; chat: Chat | null; labels: Schemas["LabelOut"][]; person: Person | null;
  onLabelsChanged: (l: Schemas["LabelOut"][]) => void; onClose: () => void; onDeleted: () => void;
}) {
  const isGroup = chatId.endsWith("@g.us");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []); // opened: the keyboard is in the panel
  const [contact, setContact] = useState<Contact | null>(null);
  const [loaded, setLoaded] = useState(isGroup); // no editing before the contact is read
  const [name, setName] = useState("");
  const [rows, setRows] = useState<Row[]>([]);
  const [removed, setRemoved] = useState<string[]>([]);
  const [agents, setAgents] = useState<Schemas["DeviceAgent"][]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [newLabel, setNewLabel] = useState("");
  const [labelsBusy, setLabelsBusy] = useState(false);
  const manager = person?.role === "owner" || person?.role === "admin";
  const contactPath = { device_id: device.id, phone: chatId };
  const chatPathParams = { device_id: device.id, chat_id: chatId };

  function show(c: Contact | null) {
    setContact(c);
    setName(c?.name ?? "");
    setRows(Object.entries(c?.metadata ?? {}).map(([key, value]) => ({ key, value })));
    setRemoved([]);
  }

  useEffect(() => {
    if (!isGroup) {
      void api.GET("/v1/devices/{device_id}/contacts/{phone}", { params: { path: contactPath } })
        .then(({ data }) => { show(data ?? null); setLoaded(true); });
    }
    void api.GET("/v1/devices/{device_id}/agents", { params: { path: { device_id: device.id } } })
      .then(({ data }) => setAgents(data?.data ?? []));
  }, [device.id, chatId]);

  async function patchContact(body: Schemas["UpdateContact"], done: string) {
    const { data, error, response } = await api.PATCH("/v1/devices/{device_id}/contacts/{phone}", {
      params: { path: contactPath }, body });
    if (data) { show(data); setProblem(null); setNote(done); }
    else { setProblem(problemOf(error, response.status)); setNote(null); }
    return data;
  }

  async function saveDetails() {
    const metadata: Record<string, string | null> = {};
    for (const key of removed) metadata[key] = null;
    for (const r of rows) if (r.key.trim()) metadata[r.key.trim()] = r.value;
    await patchContact({ name: name.trim() || null, metadata }, "Contact saved.");
  }

  // One label change at a time, shown once the chat (which the list filters by) and the
  // contact both have it: a second change made from a stale list would undo the first.
  async function setLabels(ids: string[]) {
    setLabelsBusy(true);
    try {
      if (chat) {
        const { error, response } = await api.PATCH("/v1/devices/{device_id}/chats/{chat_id}", {
          params: { path: chatPathParams }, body: { labels: ids } });
        if (error) return setProblem(problemOf(error, response.status));
      }
      if (!isGroup) await patchContact({ labels: ids }, "Labels saved.");
    } finally {
      setLabelsBusy(false);
    }
  }

  async function createLabel() {
    const label = newLabel.trim();
    if (!label) return;
    const { data, error, response } = await api.POST("/v1/labels", { body: { name: label } });
    if (!data) return setProblem(problemOf(error, response.status));
    setNewLabel("");
    onLabelsChanged([...labels, data].sort((a, b) => a.name.localeCompare(b.name)));
    await setLabels([...current, data.id]);
  }

  async function patchChat(body: Schemas["UpdateChat"], done: string) {
    const { error, response } = await api.PATCH("/v1/devices/{device_id}/chats/{chat_id}", {
      params: { path: chatPathParams }, body });
    if (error) { setProblem(problemOf(error, response.status)); setNote(null); }
    else { setProblem(null); setNote(done); }
  }

  async function deleteChat() {
    if (!window.confirm("Delete this chat and the messages Utio keeps of it? The phone keeps its own copy.")) return;
    const { error, response } = await api.DELETE("/v1/devices/{device_id}/chats/{chat_id}", { params: { path: chatPathParams } });
    if (error) setProblem(problemOf(error, response.status)); else onDeleted();
  }

  const current = isGroup ? chat?.labels ?? [] : contact?.labels ?? chat?.labels ?? [];
  const addable = labels.filter((l) => !current.includes(l.id));
  return (
    <aside class="contact-panel" aria-label="Contact"
      onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); onClose(); } }}>
      <div class="title-row">
        <h2 ref={heading} tabIndex={-1}>{isGroup ? "Group" : "Contact"}</h2>
        <button type="button" class="link" onClick={onClose}>Close</button>
      </div>
      <p><span class="muted">Number</span><br /><strong>{chatId}</strong></p>
      {problem && <p role="alert" class="error small">{problem.message}</p>}
      {note && <p role="status" class="notice small">{note}</p>}
      {!loaded && <p aria-busy="true">Loading…</p>}
      {!isGroup && loaded && (
        <form onSubmit={(e) => { e.preventDefault(); void saveDetails(); }}>
          <div class="field">
            <label for="contact-name">Name</label>
            <input id="contact-name" value={name} maxLength={100} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </div>
          <fieldset>
            <legend>Metadata</legend>
            {rows.map((r, i) => (
              <div class="meta-row" key={i}>
                <input aria-label={`Key ${i + 1}`} value={r.key} maxLength={40} placeholder="key"
                  onInput={(e) => setRows(rows.map((x, j) => j === i ? { ...x, key: (e.target as HTMLInputElement).value } : x))} />
                <input aria-label={`Value ${i + 1}`} value={r.value} maxLength={500} placeholder="value"
                  onInput={(e) => setRows(rows.map((x, j) => j === i ? { ...x, value: (e.target as HTMLInputElement).value } : x))} />
                <button type="button" class="link small" aria-label={`Remove ${r.key || `row ${i + 1}`}`}
                  onClick={() => { if (r.key && contact?.metadata[r.key] !== undefined) setRemoved([...removed, r.key]); setRows(rows.filter((_, j) => j !== i)); }}>Remove</button>
              </div>
            ))}
            <button type="button" class="link small" onClick={() => setRows([...rows, { key: "", value: "" }])}>Add field</button>
          </fieldset>
          <button type="submit">Save contact</button>
        </form>
      )}
      {loaded && <fieldset>
        <legend>Labels</legend>
        <ul class="labels" aria-label="Labels">
          {current.map((id) => {
            const l = labels.find((x) => x.id === id);
            return <li key={id} class={`label label-${l?.color ?? "grey"}`}>{l?.name ?? id}
              <button type="button" class="link small" aria-label={`Remove label ${l?.name ?? id}`}
                disabled={labelsBusy} onClick={() => void setLabels(current.filter((x) => x !== id))}>×</button></li>;
          })}
          {current.length === 0 && <li class="muted small">No labels</li>}
        </ul>
        {addable.length > 0 && (
          <div class="row">
            <label class="sr-only" for="add-label">Add a label</label>
            <select id="add-label" value="" disabled={labelsBusy} onChange={(e) => { const v = (e.target as HTMLSelectElement).value; if (v) void setLabels([...current, v]); }}>
              <option value="">Add a label…</option>
              {addable.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}
            </select>
          </div>
        )}
        {manager && (
          <form class="row" onSubmit={(e) => { e.preventDefault(); void createLabel(); }}>
            <label class="sr-only" for="new-label">New label</label>
            <input id="new-label" placeholder="New label" maxLength={50} value={newLabel}
              onInput={(e) => setNewLabel((e.target as HTMLInputElement).value)} />
            <button type="submit" class="secondary" disabled={labelsBusy}>Create label</button>
          </form>
        )}
      </fieldset>}
      {chat && (
        <>
          <div class="field">
            <label for="assignee">Assigned to</label>
            <select id="assignee" value={chat.assigned_to ?? ""}
              onChange={(e) => { const v = (e.target as HTMLSelectElement).value; void patchChat({ assigned_to: v || null }, v ? "Chat assigned." : "Chat unassigned."); }}>
              <option value="">Nobody</option>
              {agents.map((a) => <option key={a.id} value={a.id}>{a.name}{a.id === person?.agent_id ? " (me)" : ""}</option>)}
            </select>
          </div>
          <div class="row">
            <button type="button" class="secondary" onClick={() => void patchChat({ read: true }, "Marked read.")}>Mark read</button>
            <button type="button" class="secondary" onClick={() => void patchChat({ read: false }, "Marked unread.")}>Mark unread</button>
          </div>
          {manager && <p><button type="button" class="danger" onClick={() => void deleteChat()}>Delete chat</button></p>}
        </>
      )}
    </aside>
  );
}
