// /chat/{device} and /chat/{device}/{phone}: the team inbox of one device. The chat list
// (newest activity first, unread counts, search and filters) beside the open chat and its
// contact panel. Everything is read through the API client and read again when the
// device's events say it changed (live.ts follows the event log); nothing is kept twice.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, type Schemas } from "../../api/client";
import { subscribe } from "../../live";
import { useSession } from "../../session";
import { ContactPanel } from "./ContactPanel";
import { Conversation } from "./Conversation";
import { chatPath, clock, displayName, parsePhone } from "./util";

export type Chat = Schemas["ChatOut"];
export type Device = Schemas["DeviceOut"];
const LIST_EVENTS = ["message:in:new", "message:out:*", "message:reaction", "chat:*", "contact:update"];

type Filters = { search: string; label: string; unread: boolean; mine: boolean };
const PAGE = 100; // chats a page of the list
const NO_FILTERS: Filters = { search: "", label: "", unread: false, mine: false };

export function Inbox({ device: deviceId, phone: rawPhone }: { device?: string; phone?: string }) {
  const { route } = useLocation();
  const session = useSession();
  const person = session.state === "signed-in" ? session.person : null;
  const [device, setDevice] = useState<Device | null | undefined>(undefined);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [labels, setLabels] = useState<Schemas["LabelOut"][]>([]);
  const [unreadTotal, setUnreadTotal] = useState(0);
  const [pages, setPages] = useState(1); // pages of the chat list shown ("More chats")
  const [more, setMore] = useState(false); // the list has chats past those shown
  const [panelOpen, setPanelOpen] = useState(false);
  function closePanel() { // (Close, Escape): the keyboard goes back to the Contact button
    setPanelOpen(false);
    window.setTimeout(() => document.querySelector<HTMLButtonElement>(".contact-toggle")?.focus(), 0);
  }
  const phone = rawPhone ? parsePhone(decodeURIComponent(rawPhone)) : null;
  const id = deviceId ?? "";

  useEffect(() => {
    setDevice(undefined);
    setChats(null);
    setUnreadTotal(0);
    setPages(1);
    void api.GET("/v1/devices/{device_id}", { params: { path: { device_id: id } } })
      .then(({ data }) => setDevice(data ?? null)).catch(() => setDevice(null));
    void api.GET("/v1/labels").then(({ data }) => setLabels(data?.data ?? []));
  }, [id]);

  const loadChats = useCallback(async (): Promise<Chat[] | null> => {
    if (!id) return null;
    const query: Record<string, string | number | boolean> = { limit: PAGE };
    if (filters.search.trim()) query.search = filters.search.trim();
    if (filters.label) query.label = filters.label;
    if (filters.unread) query.unread = true;
    if (filters.mine) query.assigned_to = "me";
    const filtered = Object.keys(query).length > 1;
    const unread = filtered ? api.GET("/v1/devices/{device_id}/chats", {
      params: { path: { device_id: id }, query: { unread: true, limit: 200 } } }) : null;
    // The pages shown, one after another by their cursors (the list's order is stable).
    const shown: Chat[] = [];
    let cursor: string | null | undefined;
    for (let page = 0; page < pages; page++) {
      const list = await api.GET("/v1/devices/{device_id}/chats", {
        params: { path: { device_id: id }, query: cursor ? { ...query, cursor } : query } });
      if (!list.data) {
        if (list.response.status === 422) { setChats([]); setMore(false); }
        return null;
      }
      shown.push(...list.data.data);
      cursor = list.data.next_cursor;
      if (!cursor) break;
    }
    setChats(shown);
    setMore(!!cursor);
    const counted = filtered ? (await unread)?.data?.data : shown;
    if (counted) setUnreadTotal(counted.reduce((n, c) => n + c.unread, 0));
    return shown;
  }, [id, filters, pages]);

  const loadRef = useRef(loadChats);
  loadRef.current = loadChats;
  useEffect(() => {
    if (!device) return;
    void loadChats();
  }, [device, loadChats]);
  useEffect(() => {
    if (!device) return;
    let pending: number | undefined;
    // An event is logged in the same commit as the change it reports (an inbound message's
    // entry and its chat's update included), so one read after it shows the change; events
    // in a burst are read once.
    const soon = () => {
      window.clearTimeout(pending);
      pending = window.setTimeout(() => void loadRef.current(), 50);
    };
    // Followed in a background tab too: its title's unread count is how a person with
    // several devices open sees which tab wants them.
    const stop = subscribe({ types: LIST_EVENTS, device: id, onEvent: soon, onResync: () => soon(),
      background: true });
    return () => { window.clearTimeout(pending); stop(); };
  }, [device, id]);

  useEffect(() => {
    const base = device ? `${device.alias || device.phone || "Chat"} · Utio` : "Web chat · Utio";
    document.title = unreadTotal > 0 ? `(${unreadTotal}) ${base}` : base;
    return () => { document.title = "Utio"; };
  }, [unreadTotal, device]);

  if (device === undefined) return <p aria-busy="true">Loading…</p>;
  if (device === null) {
    return (
      <section>
        <h1>Not found</h1>
        <p>There is no device here, or it is not one of yours. <a href="/chat">Choose a device</a>.</p>
      </section>
    );
  }
  const agentId = person?.role === "agent" || person?.role === "admin" ? person.agent_id ?? null : null;
  const open = phone && phone.ok ? phone.value : null;
  return (
    <div class={`inbox${open ? " has-chat" : ""}`}>
      <aside class="chat-side" aria-label="Chats">
        <div class="chat-side-head">
          <h1 class="chat-device">{device.alias || device.phone || device.id}</h1>
          <a href="/chat" class="muted small">Change device</a>
        </div>
        <ChatFilters filters={filters} setFilters={(f) => { setPages(1); setFilters(f); }} labels={labels} canMine={!!agentId} />
        <NewChat onOpen={(p) => route(chatPath(id, p))} />
        {chats === null ? <p aria-busy="true">Loading…</p> : chats.length === 0 ? (
          <p class="muted pad">{filters === NO_FILTERS ? "No chats yet." : "No chats match."}</p>
        ) : (
          <ul class="chat-list" aria-label="Chat list">
            {chats.map((c) => (
              <li key={c.id}>
                <a href={chatPath(id, c.id)} aria-current={open === c.id ? "page" : undefined}
                   class={c.unread > 0 ? "unread" : undefined}>
                  <span class="chat-name">{displayName(c)}</span>
                  <span class="chat-time">{c.last_message ? clock(c.last_message.at) : ""}</span>
                  <span class="chat-preview">{c.kind === "group" ? "👥 " : ""}{c.last_message?.direction === "outbound" ? "You: " : ""}{c.last_message?.message || (c.last_message ? c.last_message.type : "")}</span>
                  {c.unread > 0 && <span class="badge" aria-label={`${c.unread} unread`}>{c.unread}</span>}
                </a>
              </li>
            ))}
          </ul>
        )}
        {chats !== null && more && (
          <button type="button" class="secondary load-more" onClick={() => setPages(pages + 1)}>More chats</button>
        )}
      </aside>
      <div class="chat-main">
        {phone && !phone.ok ? (
          <section class="pad">
            <h2>Not a valid number</h2>
            <p role="alert" class="error">“{decodeURIComponent(rawPhone ?? "")}” is not a phone number with its country code, such as +447911123456.</p>
          </section>
        ) : open ? (
          <Conversation key={`${id}/${open}`} device={device} chatId={open}
            chat={chats?.find((c) => c.id === open) ?? null}
            onTogglePanel={() => setPanelOpen(!panelOpen)} panelOpen={panelOpen}
            onNotFound={() => route(`/chat/${id}`)} />
        ) : (
          <p class="muted pad empty-main">Choose a chat, or start one with a number.</p>
        )}
      </div>
      {open && panelOpen && (
        <ContactPanel key={`${id}/${open}/panel`} device={device} chatId={open} labels={labels}
          chat={chats?.find((c) => c.id === open) ?? null} person={person}
          onLabelsChanged={setLabels} onClose={closePanel}
          onDeleted={() => { setPanelOpen(false); route(`/chat/${id}`); void loadChats(); }} />
      )}
    </div>
  );
}

function ChatFilters({ filters, setFilters, labels, canMine }: {
  filters: Filters; setFilters: (f: Filters) => void; labels: Schemas["LabelOut"][]; canMine: boolean;
}) {
  const [text, setText] = useState(filters.search);
  useEffect(() => {
    const t = window.setTimeout(() => { if (text !== filters.search) setFilters({ ...filters, search: text }); }, 250);
    return () => window.clearTimeout(t);
  }, [text]);
  return (
    <div class="chat-filters" role="search">
      <label class="sr-only" for="chat-search">Search chats</label>
      <input id="chat-search" type="search" placeholder="Search name or number" value={text}
        onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      <div class="row small">
        <label class="check"><input type="checkbox" checked={filters.unread}
          onChange={(e) => setFilters({ ...filters, unread: (e.target as HTMLInputElement).checked })} />Unread</label>
        {canMine && <label class="check"><input type="checkbox" checked={filters.mine}
          onChange={(e) => setFilters({ ...filters, mine: (e.target as HTMLInputElement).checked })} />Assigned to me</label>}
        <label class="sr-only" for="chat-label">Label</label>
        <select id="chat-label" value={filters.label}
          onChange={(e) => setFilters({ ...filters, label: (e.target as HTMLSelectElement).value })}>
          <option value="">All labels</option>
          {labels.map((l) => <option key={l.id} value={l.id}>{l.name}</option>)}
        </select>
      </div>
    </div>
  );
}

function NewChat({ onOpen }: { onOpen: (phone: string) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <form class="new-chat" onSubmit={(e) => {
      e.preventDefault();
      const parsed = parsePhone(value);
      if (!parsed.ok) return setError("Enter a number with its country code, such as +447911123456.");
      setError(null); setValue(""); onOpen(parsed.value);
    }}>
      <label class="sr-only" for="new-chat">New chat with number</label>
      <input id="new-chat" inputMode="tel" placeholder="New chat: +44…" value={value}
        aria-invalid={error ? "true" : undefined} aria-describedby={error ? "new-chat-error" : undefined}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit" class="secondary">Open</button>
      {error && <p id="new-chat-error" class="field-error small">{error}</p>}
    </form>
  );
}
