// Small helpers of the web chat's screens.
import type { Schemas } from "../../api/client";

/** A number from a URL or a field: digits with an optional "+" (spaces, dashes allowed). */
export function parsePhone(raw: string): { ok: true; value: string } | { ok: false } {
  const text = raw.trim();
  if (text.endsWith("@g.us") && /^[0-9-]+@g\.us$/.test(text)) return { ok: true, value: text };
  if (!/^\+?[0-9 ().-]+$/.test(text)) return { ok: false };
  const digits = text.replace(/\D/g, "");
  if (digits.length < 8 || digits.length > 15 || digits.startsWith("0")) return { ok: false };
  return { ok: true, value: `+${digits}` };
}

export function chatPath(device: string, chat: string): string {
  return `/chat/${device}/${encodeURIComponent(chat)}`;
}

export function displayName(chat: { id: string; name?: string | null }): string {
  return chat.name || chat.id;
}

/** Today: the time; otherwise the date. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

export type MediaKind = "image" | "video" | "audio" | "document";

/** How the plan counts a file (its limits are per kind), from its browser type. */
export function kindOf(file: File): MediaKind {
  if (file.type.startsWith("image/")) return "image";
  if (file.type.startsWith("video/")) return "video";
  if (file.type.startsWith("audio/")) return "audio";
  return "document";
}

export type Entry = Schemas["ChatMessageOut"];
