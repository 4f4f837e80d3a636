import { useEffect, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { api, problemOf, type Problem, type Schemas } from "../api/client";
import { Form, FormProblem, Notice, SelectField, TextArea, TextField } from "../components/Form";
import { when, words } from "../format";
import { useLive } from "../live";
import { useSession } from "../session";

type Device = Schemas["DeviceOut"];

const PLANS: { value: string; label: string }[] = [
  { value: "", label: "Default plan" },
  { value: "messaging-professional", label: "Professional" },
  { value: "messaging-business", label: "Business" },
  { value: "messaging-enterprise", label: "Enterprise" },
  { value: "platform-professional", label: "Platform Professional" },
  { value: "platform-business", label: "Platform Business" },
  { value: "platform-enterprise", label: "Platform Enterprise" },
];

export function StatusText({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{words(status)}</span>;
}

export function useDevices() {
  return useLive(() => api.GET("/v1/devices"), [], { events: ["device:status"] });
}

export function Devices() {
  const { data, problem, reload } = useDevices();
  const session = useSession();
  const agent = session.state === "signed-in" && session.person?.role === "agent";
  const [creating, setCreating] = useState(false);
  return (
    <section>
      <div class="title-row">
        <h1>Devices</h1>
        {!agent && <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>New device</button>}
      </div>
      {creating && <NewDevice onDone={() => { setCreating(false); void reload(); }} />}
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {!data ? <p aria-busy="true">Loading devices…</p> : data.data.length === 0 ? (
        <p>No devices yet. {agent ? "Ask an admin to give you access to one." : "Create one to link a WhatsApp number."}</p>
      ) : (
        <ul class="cards" aria-label="Devices">
          {data.data.map((d) => (
            <li key={d.id} class="card">
              <h2><a href={`/devices/${d.id}`}>{d.alias || d.id}</a></h2>
              <p>Status: <StatusText status={d.status} /></p>
              <p class="muted">{d.phone ?? "No number linked yet"} · {d.transport}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function NewDevice({ onDone }: { onDone: () => void }) {
  const [alias, setAlias] = useState("");
  const [plan, setPlan] = useState("");
  const [transport, setTransport] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  async function submit() {
    const { data, error, response } = await api.POST("/v1/devices", { body: {
      alias: alias.trim() || null,
      plan: (plan || null) as Schemas["PlanId"] | null,
      transport: (transport || null) as Schemas["Transport"] | null,
    } });
    if (data) {
      onDone();
      return;
    }
    setProblem(problemOf(error, response.status));
  }
  return (
    <div class="panel">
      <Form onSubmit={submit} label="New device">
        <TextField label="Alias" value={alias} onInput={setAlias} error={problem?.fields.alias}
          hint="A name you recognise, such as Sales or Support." />
        <SelectField label="Plan" value={plan} onChange={setPlan} options={PLANS} error={problem?.fields.plan} />
        <SelectField label="Transport" value={transport} onChange={setTransport} error={problem?.fields.transport}
          options={[{ value: "", label: "This server's default" }, { value: "whatsapp", label: "WhatsApp" },
            { value: "sandbox", label: "Sandbox (simulated)" }]} />
        <FormProblem problem={problem} fields={["alias", "plan", "transport"]} />
        <button type="submit">Create</button>
      </Form>
    </div>
  );
}

export function DeviceDetail() {
  const { params } = useRoute();
  const id = params.id;
  const { data: device, problem } = useLive(() => api.GET("/v1/devices/{device_id}", { params: { path: { device_id: id } } }), [id],
    { events: ["device:status"], device: id });
  const session = useSession();
  const agent = session.state === "signed-in" && session.person?.role === "agent";
  if (problem && !device) return <section><h1>Device</h1><p role="alert" class="error">{problem.message}</p><p><a href="/devices">All devices</a></p></section>;
  if (!device) return <p aria-busy="true">Loading…</p>;
  return (
    <section>
      <p><a href="/devices">All devices</a></p>
      <h1>{device.alias || device.id}</h1>
      <p>Status: <StatusText status={device.status} /> {device.phone && <>· {device.phone}</>}</p>
      {(device.warnings ?? []).map((w) => <p key={w.code} class="warning">{w.message}</p>)}
      {["pending", "linking", "logged_out", "disconnected"].includes(device.status) && <Link device={device} />}
      {!agent && <>
        <Usage id={id} />
        <Settings device={device} />
        <Profile id={id} />
        <Relink id={id} />
        <Delete device={device} />
      </>}
    </section>
  );
}

function Link({ device }: { device: Device }) {
  const [qr, setQr] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [phone, setPhone] = useState("");
  const [pairing, setPairing] = useState<string | null>(null);
  const [pairProblem, setPairProblem] = useState<Problem | null>(null);
  useEffect(() => {
    if (device.status === "connected") return;
    let stop = false;
    let url: string | null = null;
    async function load() {
      const { data, error, response } = await api.GET("/v1/devices/{device_id}/scan", {
        params: { path: { device_id: device.id }, query: { format: "svg" } }, parseAs: "text" });
      if (stop) return;
      if (data) {
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(new Blob([data as unknown as string], { type: "image/svg+xml" }));
        setQr(url);
        setMessage(null);
      } else {
        setQr(null);
        let body: unknown = error;
        if (typeof error === "string") { try { body = JSON.parse(error); } catch { body = undefined; } }
        setMessage(problemOf(body, response.status).message);
      }
    }
    void load();
    const timer = window.setInterval(load, 5000); // WhatsApp rotates the code about every 20 s
    return () => { stop = true; window.clearInterval(timer); if (url) URL.revokeObjectURL(url); };
  }, [device.id, device.status]);
  async function pair() {
    const { data, error, response } = await api.GET("/v1/devices/{device_id}/scan", {
      params: { path: { device_id: device.id }, query: { format: "json", phone } } });
    if (data && "pairing_code" in (data as object)) {
      setPairing((data as Schemas["ScanCode"]).pairing_code ?? null);
      setPairProblem(null);
    } else setPairProblem(problemOf(error, response.status));
  }
  return (
    <div class="panel">
      <h2>Link WhatsApp</h2>
      <p>On the phone, open WhatsApp › Settings › Linked devices › Link a device, and scan this code.</p>
      {qr ? <img class="qr" src={qr} alt={`QR code to link ${device.alias || device.id}`} width={240} height={240} />
        : <p role="status" class={message ? "warning" : ""}>{message ?? "Waiting for a QR code…"}</p>}
      <h3>Or link with a code</h3>
      <Form onSubmit={pair} label="Link with a pairing code">
        <TextField label="Phone number to link" value={phone} onInput={setPhone} type="tel"
          hint="In international format, such as +447911123456." error={pairProblem?.fields.phone} />
        <FormProblem problem={pairProblem} fields={["phone"]} />
        <button type="submit">Get a pairing code</button>
      </Form>
      {pairing && <Notice>Type this code on the phone: <strong class="code">{pairing}</strong></Notice>}
    </div>
  );
}

function Usage({ id }: { id: string }) {
  const { data } = useLive(() => api.GET("/v1/devices/{device_id}/usage", { params: { path: { device_id: id } } }), [id], { live: false });
  if (!data) return null;
  return (
    <div class="panel">
      <h2>Usage</h2>
      <p>{data.plan_name} plan, period {data.period} (resets {when(data.resets_at)}).</p>
      <p>Messages: {data.messages.used.toLocaleString("en")} of {data.messages.limit.toLocaleString("en")} ({data.messages.remaining.toLocaleString("en")} left).</p>
      <p>Delivery speed: {data.delivery_speed.effective} messages a minute (plan maximum {data.delivery_speed.plan_max}).</p>
    </div>
  );
}

function Settings({ device }: { device: Device }) {
  const [alias, setAlias] = useState(device.alias ?? "");
  const [speed, setSpeed] = useState(String(device.settings.delivery_speed ?? ""));
  const [days, setDays] = useState(String(device.settings.chat_cleanup?.inactive_days ?? ""));
  const [max, setMax] = useState(String(device.settings.chat_cleanup?.max_chats ?? ""));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  async function submit() {
    const number = (v: string) => (v.trim() === "" ? null : Number(v));
    const { data, error, response } = await api.PATCH("/v1/devices/{device_id}", {
      params: { path: { device_id: device.id } },
      body: { alias: alias.trim() || null, settings: { delivery_speed: number(speed),
        chat_cleanup: { inactive_days: number(days), max_chats: number(max) } } } });
    setSaved(Boolean(data));
    setProblem(data ? null : problemOf(error, response.status));
  }
  const f = problem?.fields ?? {};
  return (
    <div class="panel">
      <h2>Settings</h2>
      <Form onSubmit={submit} label="Device settings">
        <TextField label="Device alias" value={alias} onInput={setAlias} error={f.alias} />
        <TextField label="Delivery speed (messages a minute)" type="number" value={speed} onInput={setSpeed}
          error={f["settings.delivery_speed"]} />
        <TextField label="Delete chats inactive for (days)" type="number" value={days} onInput={setDays}
          error={f["settings.chat_cleanup.inactive_days"]} hint="Empty: never." />
        <TextField label="Keep at most (chats)" type="number" value={max} onInput={setMax}
          error={f["settings.chat_cleanup.max_chats"]} hint="Empty: no limit." />
        <FormProblem problem={problem} fields={Object.keys(f)} />
        <button type="submit">Save settings</button>
        {saved && <Notice>Saved.</Notice>}
      </Form>
    </div>
  );
}

function Profile({ id }: { id: string }) {
  const [name, setName] = useState("");
  const [about, setAbout] = useState("");
  const [image, setImage] = useState<File | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  async function submit() {
    let imageId: string | null = null;
    if (image) {
      const form = new FormData();
      form.append("file", image);
      const up = await api.POST("/v1/files", { body: form as never, bodySerializer: (b: unknown) => b as FormData });
      if (!up.data) return setProblem(problemOf(up.error, up.response.status));
      imageId = up.data.id;
    }
    const { data, error, response } = await api.PATCH("/v1/devices/{device_id}/profile", {
      params: { path: { device_id: id } },
      body: { name: name.trim() || null, description: about.trim() || null, image: imageId } });
    setSaved(Boolean(data));
    setProblem(data ? null : problemOf(error, response.status));
  }
  return (
    <div class="panel">
      <h2>WhatsApp profile</h2>
      <Form onSubmit={submit} label="WhatsApp profile">
        <TextField label="Profile name" value={name} onInput={setName} error={problem?.fields.name} />
        <TextArea label="Description" value={about} onInput={setAbout} rows={2} error={problem?.fields.description} />
        <div class="field">
          <label for="profile-image">Profile image</label>
          <input id="profile-image" type="file" accept="image/jpeg,image/png"
            onChange={(e) => setImage((e.target as HTMLInputElement).files?.[0] ?? null)} />
          {problem?.fields.image && <p class="field-error">{problem.fields.image}</p>}
        </div>
        <FormProblem problem={problem} fields={["name", "description", "image"]} />
        <button type="submit">Save profile</button>
        {saved && <Notice>Profile updated.</Notice>}
      </Form>
    </div>
  );
}

function Relink({ id }: { id: string }) {
  const [note, setNote] = useState<string | null>(null);
  async function relink() {
    if (!window.confirm("Unlink the current number and link another? The device keeps its chats and settings.")) return;
    const { error, response } = await api.POST("/v1/devices/{device_id}/relink", { params: { path: { device_id: id } } });
    setNote(response.ok ? "Unlinked. Scan the new QR code with the other phone." : problemOf(error, response.status).message);
  }
  return (
    <div class="panel">
      <h2>Change number</h2>
      <p>Link another WhatsApp number to this device. Changing the number keeps its chats, contacts and settings.</p>
      <button type="button" class="secondary" onClick={relink}>Link another number</button>
      {note && <Notice>{note}</Notice>}
    </div>
  );
}

function Delete({ device }: { device: Device }) {
  const [problem, setProblem] = useState<string | null>(null);
  async function remove() {
    if (!window.confirm(`Delete ${device.alias || device.id}? Its queued messages fail.`)) return;
    const { error, response } = await api.DELETE("/v1/devices/{device_id}", { params: { path: { device_id: device.id } } });
    if (response.ok) window.location.assign("/devices");
    else setProblem(problemOf(error, response.status).message);
  }
  return (
    <div class="panel danger">
      <h2>Delete device</h2>
      <p>Deleting unlinks the number and fails its queued messages. A device deleted within 24 hours
        of its free trial's start does not give a new trial to the same number.</p>
      <button type="button" class="danger" onClick={remove}>Delete device</button>
      {problem && <p role="alert" class="error">{problem}</p>}
    </div>
  );
}
