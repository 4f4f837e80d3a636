// A message's picture, video, audio or document. The bytes come through the API client
// (it signs the request; an <img src> could not), as a blob URL the page's
// Content-Security-Policy allows: received media from the device's media route, media
// sent from the file Utio keeps.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import type { Device } from "./Inbox";
import { bytes } from "./util";

async function blobOf(device: Device, content: Record<string, unknown>): Promise<Blob | null> {
  const file = content.file as { id?: string } | undefined;
  if (file?.id) {
    const { data } = await api.GET("/v1/files/{file_id}/content", {
      params: { path: { file_id: file.id } }, parseAs: "blob" });
    return (data as Blob | undefined) ?? null;
  }
  const url = typeof content.url === "string" ? content.url : "";
  const name = url.split("/media/")[1];
  if (!name) return null;
  const { data } = await api.GET("/v1/devices/{device_id}/media/{name}", {
    params: { path: { device_id: device.id, name: decodeURIComponent(name) } }, parseAs: "blob" });
  return (data as Blob | undefined) ?? null;
}

export function MediaView({ device, kind, content, fallback }: {
  device: Device; kind: string; content: Record<string, unknown>; fallback: string;
}) {
  const [src, setSrc] = useState<string | null>(null);
  const [gone, setGone] = useState(false);
  useEffect(() => {
    let url: string | null = null;
    let live = true;
    void blobOf(device, content).then((blob) => {
      if (!live) return;
      if (!blob) return setGone(true);
      url = URL.createObjectURL(blob);
      setSrc(url);
    }).catch(() => live && setGone(true));
    return () => { live = false; if (url) URL.revokeObjectURL(url); };
  }, [device.id, JSON.stringify(content.file ?? content.url ?? null)]);
  const file = (content.file ?? {}) as { filename?: string | null; size?: number; mime?: string };
  const name = (content.filename as string | undefined) || file.filename || fallback || kind;
  const size = (content.size as number | undefined) ?? file.size;
  if (gone) return <p class="muted small">{kindWord(kind)} no longer available{name ? `: ${name}` : ""}</p>;
  if (!src) return <p class="muted small" aria-busy="true">Loading {kindWord(kind).toLowerCase()}…</p>;
  switch (kind) {
    case "image": case "sticker":
      return <img class="media" src={src} alt={(content.caption as string) || name || "Image"} />;
    case "video": case "gif":
      return <video class="media" src={src} controls preload="metadata" aria-label={name || "Video"} />;
    case "audio":
      return <audio src={src} controls preload="metadata" aria-label={name || "Audio"} />;
    default:
      return <a class="document" href={src} download={name}>📄 {name}{size ? ` (${bytes(size)})` : ""}</a>;
  }
}

function kindWord(kind: string): string {
  return ({ image: "Image", sticker: "Sticker", video: "Video", gif: "GIF", audio: "Audio" } as Record<string, string>)[kind] ?? "Document";
}
