// The composer: text (emoji welcome, up to 6000 characters, the counter shown near the
// limit), a file to attach (checked against the plan's size limit for its kind before
// anything is uploaded, then uploaded through POST /v1/files), a reply to a message.
// Everything it sends says `source: web_chat`: it goes out next on the device.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../../api/client";
import type { Device } from "./Inbox";
import { bytes, kindOf } from "./util";

export const MAX_TEXT = 6000;
const COUNTER_FROM = 5000;
const EMOJI = ["😀", "😂", "😊", "😍", "🙏", "👍", "👋", "🎉", "❤️", "✅", "🚚", "📦", "💬", "🙂", "😉", "🤔"];
export type ReplyTo = { id: string; text: string };

let limitsCache: Record<string, { limits: Record<string, number>; plan: string }> = {};

async function limitsOf(device: string) {
  if (limitsCache[device]) return limitsCache[device];
  const { data } = await api.GET("/v1/devices/{device_id}/usage", { params: { path: { device_id: device } } });
  if (!data) return null;
  limitsCache[device] = { limits: data.media_limits, plan: data.plan_name };
  return limitsCache[device];
}

export function Composer({ device, chatId, replyTo, onCancelReply, onSent }: {
  device: Device; chatId: string; replyTo: ReplyTo | null; onCancelReply: () => void;
  onSent: (m: Schemas["MessageOut"]) => void;
}) {
  const [text, setText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [emoji, setEmoji] = useState(false);
  const [limits, setLimits] = useState<{ limits: Record<string, number>; plan: string } | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  useEffect(() => { void limitsOf(device.id).then(setLimits); }, [device.id]);
  useEffect(() => { if (replyTo) field.current?.focus(); }, [replyTo]);

  const kind = file ? kindOf(file) : null;
  const cap = kind && limits ? limits.limits[kind] : null;
  const tooBig = file && cap !== null && cap !== undefined && file.size > cap;

  function choose(chosen: File | null) {
    setProblem(null);
    setFile(chosen);
    if (chosen && !limits) void limitsOf(device.id).then(setLimits);
  }

  async function send() {
    if (busy) return;
    const body = text.trim();
    if (!file && !body) return;
    if (body.length > MAX_TEXT) return setProblem({ code: "long", message: `A message has at most ${MAX_TEXT} characters.`, fields: {} });
    if (tooBig) return;
    setBusy(true);
    setProblem(null);
    try {
      let media: { file: string; caption?: string } | undefined;
      if (file) {
        const form = new FormData();
        form.append("file", file, file.name);
        const up = await api.POST("/v1/files", { body: form as never });
        if (!up.data) { setProblem(problemOf(up.error, up.response.status)); return; }
        media = { file: up.data.id, ...(body ? { caption: body.slice(0, 1024) } : {}) };
      }
      const { data, error, response } = await api.POST("/v1/devices/{device_id}/chats/{chat_id}/messages", {
        params: { path: { device_id: device.id, chat_id: chatId } },
        body: media ? { media, source: "web_chat", ...(replyTo ? { quote: replyTo.id } : {}) }
          : { message: body, source: "web_chat", ...(replyTo ? { quote: replyTo.id } : {}) },
      });
      if (!data) { setProblem(problemOf(error, response.status)); return; }
      setText(""); setFile(null);
      if (input.current) input.current.value = "";
      onSent(data);
    } catch {
      setProblem(problemOf(undefined));
    } finally {
      setBusy(false);
    }
  }

  const left = MAX_TEXT - text.length;
  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); void send(); }}>
      {replyTo && (
        <div class="replying" role="status">
          <span>Replying to: <q>{replyTo.text.slice(0, 120)}</q></span>
          <button type="button" class="link small" onClick={onCancelReply}>Cancel reply</button>
        </div>
      )}
      {file && (
        <div class={`attachment${tooBig ? " invalid" : ""}`}>
          <span>📎 {file.name} · {bytes(file.size)}{cap ? ` (your plan sends ${kind === "image" ? "images" : kind === "document" ? "documents" : kind} up to ${bytes(cap)})` : ""}</span>
          <button type="button" class="link small" onClick={() => choose(null)}>Remove file</button>
        </div>
      )}
      {tooBig && cap && (
        <p role="alert" class="error small">{file!.name} is {bytes(file!.size)}: too large to send. Your plan ({limits?.plan}) sends {kind === "image" ? "images" : kind === "document" ? "documents" : kind} up to {bytes(cap)}.</p>
      )}
      {problem && <p role="alert" class="error small">{problem.message}</p>}
      {emoji && <div class="emoji-row" role="group" aria-label="Emoji">
        {EMOJI.map((e) => <button type="button" key={e} class="emoji" aria-label={`Insert ${e}`}
          onClick={() => { setText((t) => t + e); field.current?.focus(); }}>{e}</button>)}
      </div>}
      <div class="composer-row">
        <button type="button" class="secondary icon" aria-label="Emoji" aria-expanded={emoji} onClick={() => setEmoji(!emoji)}>🙂</button>
        <button type="button" class="secondary" onClick={() => input.current?.click()}>Attach</button>
        <input ref={input} type="file" hidden
          accept="image/*,video/*,audio/*,application/pdf,application/*,text/*"
          onChange={(e) => choose((e.target as HTMLInputElement).files?.[0] ?? null)} />
        <label class="sr-only" for="composer-text">Message</label>
        <textarea id="composer-text" ref={field} rows={2} value={text} maxLength={MAX_TEXT}
          placeholder={file ? "Caption (optional)" : "Write a message"}
          aria-describedby={left <= MAX_TEXT - COUNTER_FROM ? "composer-count" : undefined}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); void send(); } }} />
        <button type="submit" disabled={busy || !!tooBig || (!file && !text.trim())}>Send</button>
      </div>
      {text.length >= COUNTER_FROM && <p id="composer-count" class={`counter small${left < 0 ? " error" : ""}`} aria-live="polite">{text.length} / {MAX_TEXT}</p>}
    </form>
  );
}
