// One chat: its messages (newest 50 first, older pages as the person scrolls up), each
// with its time, ticks, media, quote and reactions; and the composer. New messages and
// status changes come from the device's events; what was just sent shows at once (as
// queued) until the chat history files it.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../../api/client";
import { subscribe, type LiveEvent } from "../../live";
import type { Chat, Device } from "./Inbox";
import { MediaView } from "./Media";
import { Composer, type ReplyTo } from "./Composer";
import { clock, displayName, type Entry } from "./util";

type Sent = Schemas["MessageOut"];
const PAGE = 50;
const CHAT_EVENTS = ["message:in:new", "message:out:*", "message:reaction", "chat:delete"];
const STATUS: Record<string, [string, string]> = {
  queued: ["🕓", "Queued"], sent: ["✓", "Sent"], delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"], failed: ["⚠", "Failed"], cancelled: ["✕", "Cancelled"],
};

function aboutChat(event: LiveEvent, chatId: string): boolean {
  const d = (event.data ?? {}) as Record<string, unknown>;
  return d.chat === chatId || d.group === chatId || (d.phone === chatId && !d.group) || d.id === chatId;
}

export function Conversation({ device, chatId, chat, onTogglePanel, panelOpen, onNotFound }: {
  device: Device; chatId: string; chat: Chat | null; onTogglePanel: () => void; panelOpen: boolean;
  onNotFound: () => void;
}) {
  const [entries, setEntries] = useState<Entry[] | null>(null); // newest first
  const [older, setOlder] = useState<string | null>(null); // the cursor of the next older page
  const [exists, setExists] = useState(true);
  const [pending, setPending] = useState<Sent[]>([]); // sent from here, not yet in the history
  const [problem, setProblem] = useState<Problem | null>(null);
  const [replyTo, setReplyTo] = useState<ReplyTo | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true); // keep the newest message in view
  const keepFrom = useRef<number | null>(null); // scrollHeight before older messages came
  const path = { device_id: device.id, chat_id: chatId };

  const loadNewest = useCallback(async (): Promise<Set<string>> => {
    const { data, response } = await api.GET("/v1/devices/{device_id}/chats/{chat_id}/messages", {
      params: { path, query: { limit: PAGE } } });
    if (data) {
      setExists(true);
      setEntries((now) => {
        if (!now) { setOlder(data.next_cursor ?? null); return data.data; }
        const fresh = new Map(data.data.map((e) => [e.id, e]));
        const oldest = data.data.length ? data.data[data.data.length - 1].seq : Infinity;
        const kept = now.filter((e) => !fresh.has(e.id) && e.seq < oldest);
        return [...data.data, ...kept];
      });
      const filed = new Set(data.data.map((e) => e.id));
      setPending((p) => p.filter((m) => !filed.has(m.id)));
      return filed;
    } else if (response.status === 404) {
      setExists(false);
      setEntries((now) => now ?? []);
    } else if (response.status === 422) {
      onNotFound();
    }
    return new Set();
  }, [device.id, chatId]);

  useEffect(() => {
    void loadNewest();
    void api.GET("/v1/devices/{device_id}/chats/{chat_id}", { params: { path } }).then(({ data }) => {
      if (data && data.unread > 0) {
        void api.PATCH("/v1/devices/{device_id}/chats/{chat_id}", { params: { path }, body: { read: true } });
      }
    });
    let timer: number | undefined;
    const stop = subscribe({
      types: CHAT_EVENTS, device: device.id, background: true,
      onResync: () => void loadNewest(),
      onEvent: (event) => {
        if (!aboutChat(event, chatId)) return;
        const d = event.data as Record<string, unknown>;
        if (event.event.startsWith("message:out:") && typeof d.id === "string") {
          const status = String(d.status ?? event.event.split(":")[2]);
          setPending((p) => p.map((m) => m.id === d.id ? { ...m, status: status as Sent["status"],
            failure_reason: (d.failure_reason as Sent["failure_reason"]) ?? m.failure_reason } : m));
          setEntries((now) => now && now.map((e) => e.id === d.id ? { ...e, status: status as Entry["status"] } : e));
        }
        if (event.event === "chat:delete") { setEntries([]); setExists(false); return; }
        // An inbound message's entry is committed with its event, so one read shows it; a
        // burst of events is read once. (A sent message shows from `pending` until filed.)
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void loadNewest(), 30);
      },
    });
    return () => { window.clearTimeout(timer); stop(); };
  }, [device.id, chatId]);

  const loadOlder = useCallback(async () => {
    if (!older || loadingOlder) return;
    setLoadingOlder(true);
    const { data } = await api.GET("/v1/devices/{device_id}/chats/{chat_id}/messages", {
      params: { path, query: { limit: PAGE, cursor: older } } });
    if (data) {
      // measured as these entries land, not before the request: a live update rendered
      // meanwhile took the measure, and the page stayed at the top with no scroll to come
      keepFrom.current = scroller.current?.scrollHeight ?? null;
      setEntries((now) => [...(now ?? []), ...data.data.filter((e) => !(now ?? []).some((n) => n.id === e.id))]);
      setOlder(data.next_cursor ?? null);
    }
    setLoadingOlder(false);
  }, [older, loadingOlder, device.id, chatId]);

  useLayoutEffect(() => {
    const box = scroller.current;
    if (!box) return;
    if (keepFrom.current !== null) {
      box.scrollTop += box.scrollHeight - keepFrom.current; // older messages above: stay put
      keepFrom.current = null;
    } else if (stick.current) {
      box.scrollTop = box.scrollHeight;
    }
  }, [entries, pending]);

  function onScroll() {
    const box = scroller.current;
    if (!box) return;
    stick.current = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    if (box.scrollTop < 120) void loadOlder();
  }

  async function react(entry: Entry, emoji: string) {
    const { error, response } = await api.POST("/v1/devices/{device_id}/chats/{chat_id}/messages", {
      params: { path }, body: { reaction: { message: entry.wa_id, emoji }, source: "web_chat" } });
    setProblem(error ? problemOf(error, response.status) : null);
  }

  function sent(message: Sent) {
    stick.current = true;
    setPending((p) => [...p, message]);
    setReplyTo(null);
    setExists(true);
  }

  const shown = (entries ?? []).slice().reverse();
  const reactions = reactionsOf(shown);
  const byWa = new Map(shown.map((e) => [e.wa_id, e]));
  const title = chat ? displayName(chat) : chatId;
  return (
    <section class="conversation" aria-label={`Chat with ${title}`}>
      <header class="conversation-head">
        <a class="back" href={`/chat/${device.id}`} aria-label="Back to the chat list">←</a>
        <div>
          <h2>{title}</h2>
          {chat?.name && <p class="muted small">{chatId}</p>}
        </div>
        <button type="button" class="secondary contact-toggle" aria-expanded={panelOpen}
          onClick={onTogglePanel}>Contact</button>
      </header>
      <div class="messages-scroll" ref={scroller} onScroll={onScroll}>
        {older && <button type="button" class="link load-older" onClick={() => void loadOlder()} disabled={loadingOlder}>
          {loadingOlder ? "Loading…" : "Load older messages"}</button>}
        {entries === null ? <p aria-busy="true">Loading…</p> : (!exists && pending.length === 0) ? (
          <p class="muted pad">No messages yet: write the first one below to start this chat.</p>
        ) : null}
        <div role="log" aria-label="Messages" aria-live="polite">
          <ol class="messages" aria-label="Messages">
            {shown.filter((e) => e.type !== "reaction").map((e) => (
              <MessageItem key={e.id} device={device} entry={e} quoted={quotedOf(e, byWa)}
                reactions={reactions.get(e.wa_id) ?? []} onReply={() => setReplyTo({ id: e.wa_id, text: e.message || e.type })}
                onReact={(emoji) => void react(e, emoji)} />
            ))}
            {pending.map((m) => <PendingItem key={m.id} message={m} />)}
          </ol>
        </div>
      </div>
      {problem && <p role="alert" class="error pad">{problem.message}</p>}
      <Composer device={device} chatId={chatId} replyTo={replyTo} onCancelReply={() => setReplyTo(null)} onSent={sent} />
    </section>
  );
}

function reactionsOf(entries: Entry[]): Map<string, string[]> {
  const latest = new Map<string, Map<string, string>>(); // target -> sender -> emoji
  for (const e of entries) {
    if (e.type !== "reaction") continue;
    const c = (e.content ?? {}) as { emoji?: string; target?: { wa_id?: string } };
    const target = c.target?.wa_id;
    if (!target) continue;
    const who = e.direction === "outbound" ? "me" : e.phone;
    const seen = latest.get(target) ?? new Map<string, string>();
    seen.set(who, c.emoji ?? e.message ?? "");
    latest.set(target, seen);
  }
  const out = new Map<string, string[]>();
  latest.forEach((by, target) => out.set(target, [...by.values()].filter(Boolean)));
  return out;
}

function quotedOf(entry: Entry, byWa: Map<string, Entry>): string | null {
  const q = ((entry.content ?? {}) as { quote?: { wa_id?: string; text?: string } }).quote;
  if (!q || !q.wa_id) return null;
  return byWa.get(q.wa_id)?.message || q.text || "A message";
}

const QUICK = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

function MessageItem({ device, entry, quoted, reactions, onReply, onReact }: {
  device: Device; entry: Entry; quoted: string | null; reactions: string[];
  onReply: () => void; onReact: (emoji: string) => void;
}) {
  const [picking, setPicking] = useState(false);
  const out = entry.direction === "outbound";
  const content = (entry.content ?? {}) as Record<string, unknown>;
  const text = typeof content.caption === "string" ? content.caption
    : entry.type === "text" ? entry.message : "";
  return (
    <li class={`message ${out ? "out" : "in"}`}>
      <div class="bubble">
        {entry.revoked_at ? <p class="text muted revoked">This message was deleted</p> : <>
          {quoted && <blockquote class="quoted"><span class="sr-only">Replying to: </span>{quoted}</blockquote>}
          <Body device={device} entry={entry} content={content} />
          {text && <p class="text">{text}</p>}
        </>}
        <p class="meta">
          {entry.edited_at && !entry.revoked_at && <span class="edited" title={`Edited ${clock(entry.edited_at)}`}>Edited </span>}
          <time dateTime={entry.at}>{clock(entry.at)}</time>
          {out && <Ticks status={entry.status ?? "sent"} />}
        </p>
        {reactions.length > 0 && <p class="reactions" aria-label={`Reactions: ${reactions.join(" ")}`}>{reactions.join(" ")}</p>}
      </div>
      <div class="message-actions">
        <button type="button" class="link small" onClick={onReply}>Reply</button>
        <button type="button" class="link small" aria-expanded={picking} onClick={() => setPicking(!picking)}>React</button>
        {picking && <span class="emoji-row" role="group" aria-label="Reactions">
          {QUICK.map((e) => <button type="button" key={e} class="emoji" aria-label={`React ${e}`}
            onClick={() => { setPicking(false); onReact(e); }}>{e}</button>)}
        </span>}
      </div>
    </li>
  );
}

function PendingItem({ message }: { message: Sent }) {
  const content = message.content as Record<string, unknown>;
  return (
    <li class="message out">
      <div class="bubble">
        {message.quote && <blockquote class="quoted"><span class="sr-only">Replying to: </span>{message.quote.text || "A message"}</blockquote>}
        {message.type === "text" ? <p class="text">{message.message}</p>
          : <p class="text">{typeof content.caption === "string" ? content.caption : message.message}</p>}
        <p class="meta"><Ticks status={message.status} reason={message.failure_reason} /></p>
      </div>
    </li>
  );
}

export function Ticks({ status, reason }: { status: string; reason?: string | null }) {
  const [mark, label] = STATUS[status] ?? ["", status];
  const full = status === "failed" && reason ? `${label}: ${reason.replace(/_/g, " ")}` : label;
  return <span class={`ticks ticks-${status}`} title={full}><span aria-hidden="true">{mark}</span>
    <span class="sr-only">{full}</span>{status === "failed" && <span class="fail-reason"> {full}</span>}</span>;
}

function Body({ device, entry, content }: { device: Device; entry: Entry; content: Record<string, unknown> }) {
  switch (entry.type) {
    case "image": case "video": case "audio": case "gif": case "document": case "sticker":
      return <MediaView device={device} kind={entry.type} content={content} fallback={entry.message} />;
    case "location": {
      const lat = Number(content.latitude), lon = Number(content.longitude);
      const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
      return <p class="location">📍 <a href={href} target="_blank" rel="noopener noreferrer">
        {String(content.name ?? "") || `${lat.toFixed(5)}, ${lon.toFixed(5)}`} (map)</a>
        {content.address ? <span class="muted small"> {String(content.address)}</span> : null}</p>;
    }
    case "contacts": {
      const cards = (content.contacts ?? []) as { name?: string; phone?: string | null }[];
      return <ul class="contact-cards" aria-label="Contact cards">{cards.map((c, i) => (
        <li key={i} class="contact-card">👤 <strong>{c.name}</strong>{c.phone && <> · <a href={`/chat/${device.id}/${encodeURIComponent(c.phone)}`}>{c.phone}</a></>}</li>))}</ul>;
    }
    case "text": return null;
    default: return <p class="muted small">{entry.message || `(${entry.type.replace(/_/g, " ")})`}</p>;
  }
}
