import { useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../api/client";
import { Form, FormProblem, SelectField, TextArea, TextField } from "../components/Form";
import { when, words } from "../format";
import { useLive } from "../live";
import { useDevices } from "./Devices";

const PRIORITIES = ["low", "normal", "high", "urgent"].map((p) => ({ value: p, label: p[0].toUpperCase() + p.slice(1) }));

export function Send() {
  const devices = useDevices();
  const [device, setDevice] = useState("");
  const [to, setTo] = useState<"phone" | "group">("phone");
  const [phone, setPhone] = useState("");
  const [group, setGroup] = useState("");
  const [message, setMessage] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [lat, setLat] = useState("");
  const [lng, setLng] = useState("");
  const [place, setPlace] = useState("");
  const [priority, setPriority] = useState("normal");
  const [later, setLater] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The API sends from the account's device when it names none, and only when there is
  // one: with several, the page names one (a connected one first) rather than offer a
  // choice the API refuses with "device is required".
  const list = devices.data?.data ?? [];
  const fallback = list.length > 1 ? (list.find((d) => d.status === "connected") ?? list[0]).id : "";
  const chosen = device || fallback;
  const options = [...(list.length > 1 ? [] : [{ value: "", label: "The account's device" }]),
    ...list.map((d) => ({ value: d.id, label: `${d.alias || d.id} (${words(d.status)})` }))];
  async function submit() {
    setBusy(true);
    try {
      let media: Schemas["MediaIn"] | null = null;
      if (file) {
        const form = new FormData();
        form.append("file", file);
        const up = await api.POST("/v1/files", { body: form as never, bodySerializer: (b: unknown) => b as FormData });
        if (!up.data) return setProblem(problemOf(up.error, up.response.status));
        media = { file: up.data.id, caption: message || null } as Schemas["MediaIn"];
      }
      const location = lat || lng ? { latitude: lat.trim() === "" ? null : Number(lat), longitude: lng.trim() === "" ? null : Number(lng),
        name: place.trim() || null } as unknown as Schemas["Location"] : null;
      const body = {
        device: chosen || null,
        phone: to === "phone" ? phone.trim() || null : null,
        group: to === "group" ? group.trim() || null : null,
        message: media || location ? null : message || null,
        media, location,
        priority: priority as Schemas["Priority"],
        deliver_at: later ? new Date(later).toISOString() : null,
      } as Schemas["SendMessage"];
      const { data, error, response } = await api.POST("/v1/messages", { body });
      if (data) {
        setSent(data.id);
        setProblem(null);
        setMessage("");
      } else setProblem(problemOf(error, response.status));
    } finally {
      setBusy(false);
    }
  }
  const f = problem?.fields ?? {};
  return (
    <section>
      <h1>Send a message</h1>
      <Form onSubmit={submit} label="Send a message">
        <SelectField label="Device" value={chosen} onChange={setDevice} options={options} error={f.device} />
        <fieldset>
          <legend>Send to</legend>
          <div class="row">
            <label><input type="radio" name="to" checked={to === "phone"} onChange={() => setTo("phone")} /> A person</label>
            <label><input type="radio" name="to" checked={to === "group"} onChange={() => setTo("group")} /> A group chat</label>
          </div>
        </fieldset>
        {to === "phone"
          ? <TextField label="Phone" type="tel" value={phone} onInput={setPhone} error={f.phone}
              hint="International format, such as +447911123456." />
          : <TextField label="Group id" value={group} onInput={setGroup} error={f.group} hint="The group's id, such as 1203630...@g.us." />}
        <TextArea label="Message" value={message} onInput={setMessage} error={f.message ?? f["media.caption"]}
          hint={file ? "Sent as the caption of the file." : "Up to 6000 characters."} />
        <div class="field">
          <label for="send-media">Media</label>
          <input id="send-media" type="file" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
          {(f.media || f["media.file"]) && <p class="field-error">{f.media ?? f["media.file"]}</p>}
        </div>
        <details>
          <summary>Location</summary>
          <TextField label="Latitude" value={lat} onInput={setLat} error={f["location.latitude"]} />
          <TextField label="Longitude" value={lng} onInput={setLng} error={f["location.longitude"]} />
          <TextField label="Place name" value={place} onInput={setPlace} error={f["location.name"]} hint="Optional, such as London Eye." />
        </details>
        <SelectField label="Priority" value={priority} onChange={setPriority} options={PRIORITIES} error={f.priority} />
        <TextField label="Send later" type="datetime-local" step={1} value={later} onInput={setLater} error={f.deliver_at}
          hint="Empty: as soon as possible." />
        <FormProblem problem={problem} fields={Object.keys(f)} />
        <button type="submit" disabled={busy}>Send</button>
      </Form>
      {sent && <SentStatus id={sent} />}
    </section>
  );
}

export function SentStatus({ id }: { id: string }) {
  const { data } = useLive(() => api.GET("/v1/messages/{message_id}", { params: { path: { message_id: id } } }), [id],
    { events: ["message:out:*"], match: (e) => e.data.id === id });
  return (
    <div class="panel" aria-live="polite">
      <h2>Message <a href={`/messages/${id}`}>{id}</a></h2>
      {data ? <MessageTimeline m={data} /> : <p aria-busy="true">Loading…</p>}
    </div>
  );
}

export function MessageTimeline({ m }: { m: Schemas["MessageOut"] }) {
  return (
    <>
      <p>{words(m.type)[0].toUpperCase() + words(m.type).slice(1)} message to {m.phone ?? m.group}, priority {m.priority}.</p>
      <p role="status">Status: <strong class={`status status-${m.status}`}>{words(m.status)}</strong>
        {m.failure_reason && <> — {words(m.failure_reason)}</>}</p>
      <ul class="timeline">
        <li>Queued {when(m.created_at)}{m.deliver_at && `, for ${when(m.deliver_at)}`}</li>
        {m.sent_at && <li>Sent {when(m.sent_at)}</li>}
        {m.delivered_at && <li>Delivered {when(m.delivered_at)}</li>}
        {m.read_at && <li>Read {when(m.read_at)}</li>}
        {m.failed_at && <li>Failed {when(m.failed_at)}</li>}
        {m.cancelled_at && <li>Cancelled {when(m.cancelled_at)}</li>}
      </ul>
    </>
  );
}
