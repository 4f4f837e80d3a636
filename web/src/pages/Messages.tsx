import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, problemOf, type Schemas } from "../api/client";
import { SelectField, TextField } from "../components/Form";
import { when, words } from "../format";
import { useLive } from "../live";
import { useDevices } from "./Devices";
import { MessageTimeline } from "./Send";

const STATUSES = ["", "queued", "sent", "delivered", "read", "failed", "cancelled"];
const PRIORITIES = ["", "urgent", "high", "normal", "low"];

export function Messages() {
  const { query, route } = useLocation();
  const devices = useDevices();
  const filters = { device: query.device ?? "", status: query.status ?? "", priority: query.priority ?? "",
    since: query.since ?? "", until: query.until ?? "" };
  const [cursor, setCursor] = useState<string | null>(null);
  const { data, problem, reload } = useLive(() => api.GET("/v1/messages", { params: { query: {
    device: filters.device || null, status: (filters.status || null) as Schemas["MessageStatus"] | null,
    since: filters.since ? new Date(filters.since).toISOString() : null,
    until: filters.until ? new Date(filters.until).toISOString() : null, cursor, limit: 50 } } }),
    [filters.device, filters.status, filters.since, filters.until, cursor],
    { events: ["message:out:*"], device: filters.device || null });
  const [note, setNote] = useState<string | null>(null);
  function filter(name: string, value: string) {
    const next = new URLSearchParams({ ...filters, [name]: value });
    for (const [k, v] of [...next.entries()]) if (!v) next.delete(k);
    setCursor(null);
    route(`/messages${next.toString() ? `?${next}` : ""}`, true);
  }
  async function cancel(id: string) {
    const { error, response } = await api.DELETE("/v1/messages/{message_id}", { params: { path: { message_id: id } } });
    setNote(response.ok ? `Message ${id} cancelled.` : problemOf(error, response.status).message);
    void reload();
  }
  const rows = (data?.data ?? []).filter((m) => !filters.priority || m.priority === filters.priority);
  return (
    <section>
      <div class="title-row"><h1>Messages</h1><a class="button" href="/send">Send a message</a></div>
      <div class="filters" role="group" aria-label="Filters">
        <SelectField label="Device" value={filters.device} onChange={(v) => filter("device", v)}
          options={[{ value: "", label: "All devices" }, ...(devices.data?.data ?? []).map((d) => ({ value: d.id, label: d.alias || d.id }))]} />
        <SelectField label="Status" value={filters.status} onChange={(v) => filter("status", v)}
          options={STATUSES.map((s) => ({ value: s, label: s ? words(s) : "Any status" }))} />
        <SelectField label="Priority" value={filters.priority} onChange={(v) => filter("priority", v)}
          options={PRIORITIES.map((s) => ({ value: s, label: s || "Any priority" }))} />
        <TextField label="From" type="date" value={filters.since} onInput={(v) => filter("since", v)} />
        <TextField label="To" type="date" value={filters.until} onInput={(v) => filter("until", v)} />
      </div>
      {note && <p role="status" class="notice">{note}</p>}
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {!data ? <p aria-busy="true">Loading…</p> : rows.length === 0 ? <p>No messages match.</p> : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Messages</caption>
            <thead><tr><th scope="col">To</th><th scope="col">Message</th><th scope="col">Priority</th>
              <th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id}>
                  <td><a href={`/messages/${m.id}`}>{m.phone ?? m.group}</a></td>
                  <td class="clip">{m.message || m.type}</td>
                  <td>{m.priority}</td>
                  <td><span class={`status status-${m.status}`}>{words(m.status)}</span>{m.failure_reason && ` (${words(m.failure_reason)})`}</td>
                  <td>{when(m.created_at)}</td>
                  <td>{m.status === "queued" && <button type="button" class="secondary" onClick={() => cancel(m.id)}
                    aria-label={`Cancel message to ${m.phone ?? m.group}`}>Cancel</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data?.next_cursor && <button type="button" class="secondary" onClick={() => setCursor(data.next_cursor ?? null)}>Older messages</button>}
    </section>
  );
}

export function MessageDetail() {
  const { params } = useRoute();
  const { data, problem } = useLive(() => api.GET("/v1/messages/{message_id}", { params: { path: { message_id: params.id } } }), [params.id],
    { events: ["message:out:*"], match: (e) => e.data.id === params.id });
  return (
    <section>
      <p><a href="/messages">All messages</a></p>
      <h1>Message {params.id}</h1>
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {data && <>
        <p>To {data.phone ?? data.group} from device <a href={`/devices/${data.device_id}`}>{data.device_id}</a>, priority {data.priority}.</p>
        <blockquote>{data.message}</blockquote>
        <MessageTimeline m={data} />
      </>}
    </section>
  );
}
