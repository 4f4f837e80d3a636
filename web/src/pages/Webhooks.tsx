import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, problemOf, type Problem, type Schemas } from "../api/client";
import { Checkbox, Form, FormProblem, Notice, TextArea, TextField } from "../components/Form";
import { when, words } from "../format";
import { useLive } from "../live";

type Webhook = Schemas["WebhookOut"];

function parseHeaders(text: string): Record<string, string> | null {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return null;
  return Object.fromEntries(lines.map((l) => {
    const at = l.indexOf(":");
    return at < 0 ? [l, ""] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
  }));
}

function WebhookForm({ initial, onSaved, submitLabel }: {
  initial?: Webhook; onSaved: (w: Webhook & { secret?: string }) => void; submitLabel: string;
}) {
  const [url, setUrl] = useState(initial?.url ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [events, setEvents] = useState((initial?.events ?? ["*"]).join(", "));
  const [devices, setDevices] = useState((initial?.devices ?? []).join(", "));
  const [headers, setHeaders] = useState(Object.entries(initial?.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n"));
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [problem, setProblem] = useState<Problem | null>(null);
  const catalog = useLive(() => api.GET("/v1/webhooks/events"), [], { live: false });
  async function submit() {
    const list = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
    // What the person typed; the API names an unknown event at its field.
    const typed = list(events) as NonNullable<Schemas["CreateWebhook"]["events"]>;
    const body = { url: url.trim(), description: description.trim() || null, events: typed,
      devices: list(devices).length ? list(devices) : null, headers: parseHeaders(headers), enabled };
    const answer = initial
      ? await api.PATCH("/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: initial.id } }, body })
      : await api.POST("/v1/webhooks", { body });
    if (answer.data) {
      setProblem(null);
      onSaved(answer.data as Webhook);
    } else setProblem(problemOf(answer.error, answer.response.status));
  }
  const f = problem?.fields ?? {};
  const fieldOf = (prefix: string) => Object.entries(f).find(([k]) => k === prefix || k.startsWith(`${prefix}.`))?.[1];
  return (
    <Form onSubmit={submit} label={submitLabel}>
      <TextField label="URL" type="url" value={url} onInput={setUrl} error={f.url} hint="Where Utio POSTs each event, such as https://example.com/utio." />
      <TextField label="Description" value={description} onInput={setDescription} error={f.description} />
      <TextField label="Events" value={events} onInput={setEvents} error={fieldOf("events")}
        hint={`Comma-separated: * for all, message:*, or names such as ${(catalog.data?.data ?? []).slice(0, 3).map((e) => e.name).join(", ") || "message:out:sent"}.`} />
      <TextField label="Devices" value={devices} onInput={setDevices} error={fieldOf("devices")} hint="Device ids, comma-separated. Empty: all devices." />
      <TextArea label="Custom headers" value={headers} onInput={setHeaders} rows={3} error={fieldOf("headers")}
        hint="One per line, such as Authorization: Bearer abc. Stored encrypted." />
      <Checkbox label="Enabled" checked={enabled} onChange={setEnabled} />
      <FormProblem problem={problem} fields={Object.keys(f)} />
      <button type="submit">{submitLabel}</button>
    </Form>
  );
}

export function Webhooks() {
  const { data, problem, reload } = useLive(() => api.GET("/v1/webhooks"), [], { live: false });
  const { route } = useLocation();
  const [creating, setCreating] = useState(false);
  return (
    <section>
      <div class="title-row">
        <h1>Webhooks</h1>
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>New webhook</button>
      </div>
      {creating && <div class="panel"><WebhookForm submitLabel="Create webhook" onSaved={(w) => {
        void reload();
        route(`/webhooks/${w.id}?created=1`);
      }} /></div>}
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {!data ? <p aria-busy="true">Loading…</p> : data.data.length === 0 ? <p>No webhooks yet.</p> : (
        <ul class="cards" aria-label="Webhooks">
          {data.data.map((w) => (
            <li key={w.id} class="card">
              <h2><a href={`/webhooks/${w.id}`}>{w.description || w.url}</a></h2>
              <p class="muted clip">{w.url}</p>
              <p>{w.enabled ? "Enabled" : `Disabled${w.disabled_reason ? ` (${words(w.disabled_reason)})` : ""}`} · {w.events.join(", ")}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function WebhookDetail() {
  const { params } = useRoute();
  const id = params.id;
  const { data: webhook, problem, reload } = useLive(() => api.GET("/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: id } } }), [id], { live: false });
  const [secret, setSecret] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [since, setSince] = useState("");
  const [sinceError, setSinceError] = useState<string | undefined>();
  const path = { params: { path: { webhook_id: id } } };
  async function reveal() {
    const { data, error, response } = await api.GET("/v1/webhooks/{webhook_id}/secret", path);
    if (data) setSecret(data.secret); else setNote(problemOf(error, response.status).message);
  }
  async function rotate() {
    if (!window.confirm("Make a new secret? For 24 hours deliveries carry signatures of both.")) return;
    const { data, error, response } = await api.POST("/v1/webhooks/{webhook_id}/rotate-secret", path);
    if (data) { setSecret(data.secret); setNote("New secret made. The old one works for 24 more hours."); }
    else setNote(problemOf(error, response.status).message);
  }
  async function test() {
    const { error, response } = await api.POST("/v1/webhooks/{webhook_id}/test", path);
    setNote(response.ok ? "Test event sent. Its delivery shows below." : problemOf(error, response.status).message);
  }
  async function recover() {
    if (!since) return setSinceError("Choose the time from which to retry failed deliveries.");
    setSinceError(undefined);
    const { data, error, response } = await api.POST("/v1/webhooks/{webhook_id}/recover", { ...path, body: { since: new Date(since).toISOString() } });
    if (data) setNote(`${data.retried} failed deliveries sent again${data.more ? "; more remain, recover again" : ""}.`);
    else { const p = problemOf(error, response.status); if (p.fields.since) setSinceError(p.fields.since); else setNote(p.message); }
  }
  async function remove() {
    if (!window.confirm("Delete this webhook?")) return;
    const { response } = await api.DELETE("/v1/webhooks/{webhook_id}", path);
    if (response.ok) window.location.assign("/webhooks");
  }
  if (problem && !webhook) return <section><h1>Webhook</h1><p role="alert" class="error">{problem.message}</p></section>;
  if (!webhook) return <p aria-busy="true">Loading…</p>;
  return (
    <section>
      <p><a href="/webhooks">All webhooks</a></p>
      <h1>Webhook {webhook.description || webhook.url}</h1>
      {note && <Notice>{note}</Notice>}
      <div class="panel">
        <h2>Signing secret</h2>
        <p>Verify each delivery's signature with this secret (Standard Webhooks).</p>
        {secret ? <p><code class="secret">{secret}</code></p> : null}
        <div class="row">
          <button type="button" class="secondary" onClick={reveal}>Reveal secret</button>
          <button type="button" class="secondary" onClick={rotate}>Rotate secret</button>
          <button type="button" onClick={test}>Send test event</button>
        </div>
      </div>
      <Deliveries id={id} />
      <div class="panel">
        <h2>Recover</h2>
        <Form onSubmit={recover} label="Recover failed deliveries">
          <TextField label="Retry failed deliveries since" type="datetime-local" value={since} onInput={setSince} error={sinceError} />
          <button type="submit" class="secondary">Recover</button>
        </Form>
      </div>
      <div class="panel">
        <h2>Edit</h2>
        <WebhookForm initial={webhook} submitLabel="Save webhook" onSaved={() => { setNote("Saved."); void reload(); }} />
      </div>
      <button type="button" class="danger" onClick={remove}>Delete webhook</button>
    </section>
  );
}

function Deliveries({ id }: { id: string }) {
  const { data, reload } = useLive(() => api.GET("/v1/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: id }, query: { limit: 20 } } }), [id],
    { live: false, every: 3000 }); // deliveries and their retries have no event of their own
  async function retry(delivery: string) {
    await api.POST("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", { params: { path: { webhook_id: id, delivery_id: delivery } } });
    void reload();
  }
  return (
    <div class="panel">
      <h2>Delivery log</h2>
      {!data ? <p aria-busy="true">Loading…</p> : data.data.length === 0 ? <p>No deliveries yet.</p> : (
        <ul class="log" aria-label="Deliveries">
          {data.data.map((d) => (
            <li key={d.id}>
              <p><strong>{String((d.event as { event?: string }).event ?? d.event_id)}</strong> — {words(d.status)}
                {d.reason && ` (${words(d.reason)})`} · {when(d.created_at)}
                {d.status !== "pending" && <> <button type="button" class="link" onClick={() => retry(d.id)}>Retry</button></>}</p>
              <ol class="attempts">
                {d.attempts.map((a, i) => (
                  <li key={i}>{when(a.at)}: {a.status_code ? `HTTP ${a.status_code}` : a.error ?? "no answer"}
                    {a.latency_ms != null && ` in ${a.latency_ms} ms`}{a.manual && " (manual)"}</li>
                ))}
              </ol>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
