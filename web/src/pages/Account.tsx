import { useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../api/client";
import { Checkbox, Form, FormProblem, Notice, SelectField, TextArea, TextField } from "../components/Form";
import { when } from "../format";
import { useLive } from "../live";
import { useSession } from "../session";
import { useDevices } from "./Devices";
import { euros, PlansTable } from "./Pricing";

export function ApiKeys() {
  const { data, problem, reload } = useLive(() => api.GET("/v1/api-keys"), [], { live: false });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const [formProblem, setFormProblem] = useState<Problem | null>(null);
  async function create() {
    const { data: key, error, response } = await api.POST("/v1/api-keys", { body: { name: name.trim() } });
    if (key) { setCreated(key); setName(""); setFormProblem(null); void reload(); }
    else setFormProblem(problemOf(error, response.status));
  }
  async function revoke(id: string) {
    if (!window.confirm("Revoke this key? Programs that use it stop working at once.")) return;
    await api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: id } } });
    void reload();
  }
  return (
    <section>
      <h1>API keys</h1>
      <p>Programs call the API with a key: <code>Authorization: Bearer &lt;key&gt;</code>.</p>
      <div class="panel">
        <Form onSubmit={create} label="New API key">
          <TextField label="Key name" value={name} onInput={setName} error={formProblem?.fields.name} hint="What uses it, such as CRM sync." />
          <FormProblem problem={formProblem} fields={["name"]} />
          <button type="submit">Create key</button>
        </Form>
        {created && <div role="status" class="notice">
          <p>Your new key <strong>{created.name}</strong>. Copy it now: it is shown only once.</p>
          <p><code class="secret">{created.key}</code></p>
        </div>}
      </div>
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {data && (data.data.length === 0 ? <p>No API keys yet.</p> : (
        <div class="table-wrap"><table>
          <caption class="sr-only">API keys</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{data.data.map((k) => (
            <tr key={k.id}><td>{k.name}</td><td><code>{k.prefix}…</code></td><td>{when(k.created_at)}</td>
              <td><button type="button" class="secondary" onClick={() => revoke(k.id)} aria-label={`Revoke ${k.name}`}>Revoke</button></td></tr>
          ))}</tbody>
        </table></div>
      ))}
    </section>
  );
}

export function Team() {
  const { data, problem, reload } = useLive(() => api.GET("/v1/agents"), [], { live: false });
  const devices = useDevices();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("agent");
  const [grants, setGrants] = useState<string[]>([]);
  const [formProblem, setFormProblem] = useState<Problem | null>(null);
  const [note, setNote] = useState<string | null>(null);
  async function invite() {
    const { data: agent, error, response } = await api.POST("/v1/agents", { body: {
      name: name.trim(), email: email.trim(), role: role as Schemas["AgentRole"], devices: grants } });
    if (agent) {
      setNote(`Invitation sent to ${agent.email}.`);
      setName(""); setEmail(""); setGrants([]); setFormProblem(null);
      void reload();
    } else setFormProblem(problemOf(error, response.status));
  }
  async function remove(id: string) {
    if (!window.confirm("Remove this person from the team? They can no longer sign in.")) return;
    await api.DELETE("/v1/agents/{agent_id}", { params: { path: { agent_id: id } } });
    void reload();
  }
  const f = formProblem?.fields ?? {};
  return (
    <section>
      <h1>Team</h1>
      {data && <p>Seats: {data.seats.used} used of {data.seats.included} available.
        {data.seats.included === 0 && " Agents come with the Platform plans of paid or trialing devices."}</p>}
      <div class="panel">
        <h2>Invite an agent</h2>
        <Form onSubmit={invite} label="Invite an agent">
          <TextField label="Name" value={name} onInput={setName} error={f.name} />
          <TextField label="Email" type="email" value={email} onInput={setEmail} error={f.email} />
          <SelectField label="Role" value={role} onChange={setRole} error={f.role} options={[
            { value: "agent", label: "Agent: the chats of the devices granted" },
            { value: "admin", label: "Admin: every device, agents and labels" }]} />
          <fieldset>
            <legend>Devices</legend>
            {(devices.data?.data ?? []).map((d) => (
              <Checkbox key={d.id} label={d.alias || d.id} checked={grants.includes(d.id)}
                onChange={(on) => setGrants(on ? [...grants, d.id] : grants.filter((g) => g !== d.id))} />
            ))}
            {f.devices && <p class="field-error">{f.devices}</p>}
          </fieldset>
          <FormProblem problem={formProblem} fields={Object.keys(f)} />
          <button type="submit">Invite</button>
        </Form>
        {note && <Notice>{note}</Notice>}
      </div>
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {data && data.data.length > 0 && (
        <div class="table-wrap"><table>
          <caption class="sr-only">Team</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Devices</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{data.data.map((a) => (
            <tr key={a.id}><td>{a.name}</td><td>{a.email}</td><td>{a.role}{a.active ? "" : " (inactive)"}</td>
              <td>{a.role === "admin" ? "All" : a.devices.length}</td>
              <td><button type="button" class="secondary" onClick={() => remove(a.id)} aria-label={`Remove ${a.name}`}>Remove</button></td></tr>
          ))}</tbody>
        </table></div>
      )}
    </section>
  );
}

export function Billing() {
  const plans = useLive(() => api.GET("/v1/plans"), [], { live: false });
  const devices = useDevices();
  const details = useLive(() => api.GET("/v1/billing/details"), [], { live: false });
  const invoices = useLive(() => api.GET("/v1/billing/invoices"), [], { live: false });
  const [device, setDevice] = useState("");
  const [plan, setPlan] = useState("messaging-professional");
  const [country, setCountry] = useState("");
  const [vat, setVat] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [detailsProblem, setDetailsProblem] = useState<Problem | null>(null);
  async function subscribe() {
    if (!device) return setProblem({ code: "device", message: "Choose a device.", fields: { device: "Choose a device." } });
    const { data, error, response } = await api.POST("/v1/devices/{device_id}/subscription", {
      params: { path: { device_id: device } }, body: { plan: plan as Schemas["PlanId"] } });
    if (data?.checkout_url) window.location.assign(data.checkout_url);
    else if (data) setProblem({ code: "ok", message: `Subscription ${data.action}.`, fields: {} });
    else setProblem(problemOf(error, response.status));
  }
  async function portal() {
    const { data, error, response } = await api.POST("/v1/billing/portal", {});
    if (data) window.location.assign(data.url); else setProblem(problemOf(error, response.status));
  }
  async function saveDetails() {
    const { data, error, response } = await api.PUT("/v1/billing/details", { body: { country: country.trim().toUpperCase(), vat_number: vat.trim() || null } });
    setDetailsProblem(data ? null : problemOf(error, response.status));
    if (data) void details.reload();
  }
  return (
    <section>
      <h1>Billing</h1>
      <p>Each device has its own plan and subscription, paid through Stripe; Utio keeps no card data.</p>
      {plans.data && <PlansTable plans={plans.data.data} />}
      <div class="panel">
        <h2>Subscribe a device</h2>
        <Form onSubmit={subscribe} label="Subscribe a device">
          <SelectField label="Device" value={device} onChange={setDevice} error={problem?.fields.device}
            options={[{ value: "", label: "Choose a device" }, ...(devices.data?.data ?? []).map((d) => ({ value: d.id, label: d.alias || d.id }))]} />
          <SelectField label="Plan" value={plan} onChange={setPlan} error={problem?.fields.plan}
            options={(plans.data?.data ?? []).map((p) => ({ value: p.id, label: `${p.name} (${euros(p.price_eur_cents)})` }))} />
          <FormProblem problem={problem} fields={["device", "plan"]} />
          <button type="submit">Subscribe with Stripe</button>
        </Form>
        <p><button type="button" class="secondary" onClick={portal}>Open the customer portal</button></p>
      </div>
      <div class="panel">
        <h2>VAT details</h2>
        {details.data?.country && <p>Now: {details.data.country}{details.data.vat_number && `, ${details.data.vat_number}`}{details.data.tax_treatment && ` (${details.data.tax_treatment})`}</p>}
        <Form onSubmit={saveDetails} label="VAT details">
          <TextField label="Country" value={country} onInput={setCountry} error={detailsProblem?.fields.country} hint="Two letters, such as ES or DE." />
          <TextField label="VAT number" value={vat} onInput={setVat} error={detailsProblem?.fields.vat_number} hint="EU businesses only." />
          <FormProblem problem={detailsProblem} fields={["country", "vat_number"]} />
          <button type="submit">Save VAT details</button>
        </Form>
      </div>
      <div class="panel">
        <h2>Invoices</h2>
        {invoices.problem ? <p>{invoices.problem.message}</p> : !invoices.data ? <p aria-busy="true">Loading…</p>
          : invoices.data.data.length === 0 ? <p>No invoices yet.</p> : (
          <ul>{invoices.data.data.map((i) => (
            <li key={i.id}>{i.number ?? i.id}: {euros(i.total)} {i.status}{i.hosted_invoice_url && <> · <a href={i.hosted_invoice_url}>view</a></>}</li>
          ))}</ul>
        )}
      </div>
    </section>
  );
}

export function Numbers() {
  const devices = useDevices();
  const [text, setText] = useState("");
  const [device, setDevice] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [valid, setValid] = useState<Schemas["NumberValidation"] | null>(null);
  const [exists, setExists] = useState<Schemas["NumberExistence"] | null>(null);
  const numbers = () => text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
  async function validate() {
    const { data, error, response } = await api.POST("/v1/numbers/validate", { body: { numbers: numbers() } });
    setValid(data ?? null); setExists(null);
    setProblem(data ? null : problemOf(error, response.status));
  }
  async function check() {
    const { data, error, response } = await api.POST("/v1/numbers/exists", { body: { numbers: numbers(), device: device || null } });
    setExists(data ?? null);
    setProblem(data ? null : problemOf(error, response.status));
  }
  return (
    <section>
      <h1>Numbers</h1>
      <Form onSubmit={validate} label="Check numbers">
        <TextArea label="Numbers" value={text} onInput={setText} rows={6} error={problem?.fields.numbers}
          hint="Up to 500, one a line, in international format (+447911123456)." />
        <SelectField label="Device for the WhatsApp check" value={device} onChange={setDevice} error={problem?.fields.device}
          options={[{ value: "", label: "Any connected device" }, ...(devices.data?.data ?? []).map((d) => ({ value: d.id, label: d.alias || d.id }))]} />
        <FormProblem problem={problem} fields={["numbers", "device"]} />
        <div class="row">
          <button type="submit">Validate</button>
          <button type="button" class="secondary" onClick={check}>Check on WhatsApp</button>
        </div>
      </Form>
      {valid && <pre class="result">{JSON.stringify(valid, null, 1)}</pre>}
      {exists && <pre class="result">{JSON.stringify(exists, null, 1)}</pre>}
    </section>
  );
}

export function Profile() {
  const session = useSession();
  const person = session.state === "signed-in" ? session.person : null;
  return (
    <section>
      <h1>Your profile</h1>
      {person && <dl class="facts">
        <dt>Email</dt><dd>{person.email}</dd>
        <dt>Account</dt><dd>{person.account_name} ({person.account_id})</dd>
        <dt>Role</dt><dd>{person.role}</dd>
      </dl>}
      <p><a href="/forgot-password">Change your password</a></p>
    </section>
  );
}

export function Docs() {
  return (
    <section>
      <h1>Docs</h1>
      <p>The API is described by its OpenAPI document: <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>
    </section>
  );
}


