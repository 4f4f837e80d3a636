import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, problemOf, type Problem, type Schemas } from "../api/client";
import { Checkbox, Form, FormProblem, Notice, SelectField, TextArea, TextField } from "../components/Form";
import { when, words } from "../format";
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

type Subscription = Schemas["SubscriptionOut"];

/** Each device's plan and subscription (GET /v1/devices/{id}/subscription, one a device). */
function useSubscriptions(ids: string[], every?: number) {
  return useLive(async () => {
    const answers = await Promise.all(ids.map((id) => api.GET("/v1/devices/{device_id}/subscription", { params: { path: { device_id: id } } })));
    const failed = answers.find((a) => !a.data);
    return failed ? { ...failed, data: undefined } : { data: answers.map((a) => a.data as Subscription), response: answers[0]?.response ?? new Response(null) };
  }, [ids.join(",")], { live: false, every });
}

export function Billing() {
  const { query } = useLocation();
  const plans = useLive(() => api.GET("/v1/plans"), [], { live: false });
  const devices = useDevices();
  const details = useLive(() => api.GET("/v1/billing/details"), [], { live: false });
  const invoices = useLive(() => api.GET("/v1/billing/invoices"), [], { live: false, every: query.checkout === "success" ? 3000 : undefined });
  // back from Stripe Checkout: the webhook makes the subscription active within seconds
  const subscriptions = useSubscriptions((devices.data?.data ?? []).map((d) => d.id), query.checkout === "success" ? 2000 : undefined);
  const [device, setDevice] = useState(query.device ?? "");
  const [plan, setPlan] = useState("messaging-professional");
  const [country, setCountry] = useState("");
  const [vat, setVat] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [detailsProblem, setDetailsProblem] = useState<Problem | null>(null);
  const [detailsNote, setDetailsNote] = useState<string | null>(null);
  const back = `${window.location.origin}/billing`;
  async function subscribe() {
    setNote(null);
    if (!device) return setProblem({ code: "device", message: "Choose a device.", fields: { device: "Choose a device." } });
    const { data, error, response } = await api.POST("/v1/devices/{device_id}/subscription", {
      params: { path: { device_id: device } }, body: { plan: plan as Schemas["PlanId"],
        success_url: `${back}?checkout=success&device=${device}`, cancel_url: `${back}?checkout=cancel&device=${device}` } });
    if (data?.checkout_url) return window.location.assign(data.checkout_url);
    if (data) {
      setProblem(null);
      setNote(`Plan changed: ${data.subscription.plan}.`);
      void subscriptions.reload();
    } else setProblem(problemOf(error, response.status));
  }
  async function portal() {
    const { data, error, response } = await api.POST("/v1/billing/portal", {});
    if (data) window.location.assign(data.url); else setProblem(problemOf(error, response.status));
  }
  async function saveDetails() {
    setDetailsNote(null);
    const { data, error, response } = await api.PUT("/v1/billing/details", { body: { country: country.trim().toUpperCase() as Schemas["BillingDetailsIn"]["country"], vat_number: vat.trim() || null } });
    setDetailsProblem(data ? null : problemOf(error, response.status));
    if (data) {
      setDetailsNote("VAT details saved.");
      void details.reload();
    }
  }
  const alias = (id: string) => devices.data?.data.find((d) => d.id === id)?.alias || id;
  const d = details.data;
  return (
    <section>
      <h1>Billing</h1>
      <p>Each device has its own plan and subscription, paid through Stripe; Utio keeps no card data.</p>
      {query.checkout === "success" && <Notice>Payment received. The subscription becomes active as soon as Stripe confirms it, within seconds.</Notice>}
      {query.checkout === "cancel" && <Notice>Checkout cancelled: nothing was charged.</Notice>}
      {plans.data && <PlansTable plans={plans.data.data} />}
      <div class="panel">
        <h2>Your devices' plans</h2>
        {subscriptions.problem ? <p role="alert" class="error">{subscriptions.problem.message}</p>
          : !subscriptions.data ? <p aria-busy="true">Loading…</p> : subscriptions.data.length === 0 ? <p>No devices yet.</p> : (
          <div class="table-wrap"><table>
            <caption class="sr-only">Your devices' plans</caption>
            <thead><tr><th scope="col">Device</th><th scope="col">Plan</th><th scope="col">Billing</th><th scope="col">Subscription</th></tr></thead>
            <tbody>{subscriptions.data.map((s) => (
              <tr key={s.device_id}><td>{alias(s.device_id)}</td><td>{s.plan}</td>
                <td>{words(s.billing_status)}{s.trial_ends_at && s.billing_status === "trialing" && `, until ${when(s.trial_ends_at)}`}</td>
                <td>{s.status ? words(s.status) : "none"}{s.cancel_at_period_end && " (ends with the period)"}</td></tr>
            ))}</tbody>
          </table></div>
        )}
      </div>
      <div class="panel">
        <h2>Subscribe a device</h2>
        <Form onSubmit={subscribe} label="Subscribe a device">
          <SelectField label="Device" value={device} onChange={setDevice} error={problem?.fields.device}
            options={[{ value: "", label: "Choose a device" }, ...(devices.data?.data ?? []).map((x) => ({ value: x.id, label: x.alias || x.id }))]} />
          <SelectField label="Plan" value={plan} onChange={setPlan} error={problem?.fields.plan}
            options={(plans.data?.data ?? []).map((p) => ({ value: p.id, label: `${p.name} (${euros(p.price_eur_cents)})` }))} />
          <FormProblem problem={problem} fields={["device", "plan"]} />
          <button type="submit">Subscribe with Stripe</button>
        </Form>
        {note && <Notice>{note}</Notice>}
        <p><button type="button" class="secondary" onClick={portal}>Open the customer portal</button></p>
      </div>
      <div class="panel">
        <h2>VAT details</h2>
        {d?.country ? <p>Now: {d.country}{d.vat_number && `, ${d.vat_number}`}{d.tax_treatment && ` (${words(d.tax_treatment)}${d.vat_rate ? `, ${d.vat_rate}%` : ""})`}</p>
          : <p>Set the billing country before the first subscription: it decides the VAT.</p>}
        <Form onSubmit={saveDetails} label="VAT details">
          <TextField label="Country" value={country} onInput={setCountry} error={detailsProblem?.fields.country} hint="Two letters, such as ES or DE." />
          <TextField label="VAT number" value={vat} onInput={setVat} error={detailsProblem?.fields.vat_number} hint="EU businesses only." />
          <FormProblem problem={detailsProblem} fields={["country", "vat_number"]} />
          <button type="submit">Save VAT details</button>
        </Form>
        {detailsNote && <Notice>{detailsNote}</Notice>}
      </div>
      <div class="panel">
        <h2>Invoices</h2>
        {invoices.problem ? <p>{invoices.problem.message}</p> : !invoices.data ? <p aria-busy="true">Loading…</p>
          : invoices.data.data.length === 0 ? <p>No invoices yet.</p> : (
          <div class="table-wrap"><table>
            <caption class="sr-only">Invoices</caption>
            <thead><tr><th scope="col">Invoice</th><th scope="col">Date</th><th scope="col">Net</th><th scope="col">VAT</th><th scope="col">Total</th><th scope="col">Status</th></tr></thead>
            <tbody>{invoices.data.data.map((i) => (
              <tr key={i.id}><td>{i.hosted_invoice_url ? <a href={i.hosted_invoice_url}>{i.number ?? i.id}</a> : i.number ?? i.id}</td>
                <td>{when(i.created)}</td><td>{euros(i.subtotal)}</td><td>{euros(i.tax)}</td><td>{euros(i.total)}</td><td>{i.status ?? ""}</td></tr>
            ))}</tbody>
          </table></div>
        )}
      </div>
    </section>
  );
}

const MAX_EXISTS = 50; // numbers per POST /v1/numbers/exists

export function Numbers() {
  const devices = useDevices();
  const [text, setText] = useState("");
  const [device, setDevice] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [valid, setValid] = useState<Schemas["NumberValidation"] | null>(null);
  const [exists, setExists] = useState<Schemas["NumberExistence"] | null>(null);
  const [busy, setBusy] = useState(false);
  const numbers = () => text.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
  async function validate() {
    setBusy(true);
    const { data, error, response } = await api.POST("/v1/numbers/validate", { body: { numbers: numbers() } });
    setBusy(false);
    setValid(data ?? null); setExists(null);
    setProblem(data ? null : problemOf(error, response.status));
  }
  async function check() {
    // the valid numbers in E.164 once validated, else what was pasted (the API says what is wrong)
    const list = valid ? valid.data.filter((n) => n.valid && n.e164).map((n) => n.e164 as string) : numbers();
    if (list.length === 0) return setProblem({ code: "numbers", message: "No valid number to check.", fields: { numbers: "Paste at least one valid number." } });
    if (list.length > MAX_EXISTS) return setProblem({ code: "numbers", message: `At most ${MAX_EXISTS} numbers at a time are checked on WhatsApp.`, fields: { numbers: `Check at most ${MAX_EXISTS} numbers on WhatsApp at a time (each counts against the plan's monthly checks).` } });
    setBusy(true);
    const { data, error, response } = await api.POST("/v1/numbers/exists", { body: { numbers: list, device: device || null } });
    setBusy(false);
    setExists(data ?? null);
    setProblem(data ? null : problemOf(error, response.status));
  }
  return (
    <section>
      <h1>Numbers</h1>
      <Form onSubmit={validate} label="Check numbers">
        <TextArea label="Numbers" value={text} onInput={(v) => { setText(v); setValid(null); setExists(null); }} rows={6} error={problem?.fields.numbers}
          hint="Up to 500, one a line, in international format (+447911123456). Validating is free; each WhatsApp check counts against the plan." />
        <SelectField label="Device for the WhatsApp check" value={device} onChange={setDevice} error={problem?.fields.device}
          options={[{ value: "", label: "Any connected device" }, ...(devices.data?.data ?? []).map((d) => ({ value: d.id, label: d.alias || d.id }))]} />
        <FormProblem problem={problem} fields={["numbers", "device"]} />
        <div class="row">
          <button type="submit" disabled={busy}>Validate</button>
          <button type="button" class="secondary" onClick={check} disabled={busy}>Check on WhatsApp</button>
        </div>
      </Form>
      {valid && (
        <div class="panel">
          <h2>Validation</h2>
          <p role="status">{valid.summary.valid} valid, {valid.summary.invalid} invalid, of {valid.summary.total}.</p>
          <div class="table-wrap"><table>
            <caption class="sr-only">Validation</caption>
            <thead><tr><th scope="col">Number</th><th scope="col">Result</th><th scope="col">E.164</th><th scope="col">Country</th><th scope="col">Line</th></tr></thead>
            <tbody>{valid.data.map((n, i) => (
              <tr key={i}><td>{n.input}</td><td>{n.valid ? "valid" : `invalid: ${words(n.reason ?? "")}`}</td>
                <td>{n.e164 ?? ""}</td><td>{n.country ?? ""}</td><td>{n.type ? words(n.type) : ""}</td></tr>
            ))}</tbody>
          </table></div>
        </div>
      )}
      {exists && (
        <div class="panel">
          <h2>On WhatsApp</h2>
          <p role="status">{exists.data.filter((n) => n.exists).length} of {exists.data.length} on WhatsApp
            {" "}(checks this month: {exists.usage.used}{exists.usage.limit != null && ` of ${exists.usage.limit}`}).</p>
          <div class="table-wrap"><table>
            <caption class="sr-only">On WhatsApp</caption>
            <thead><tr><th scope="col">Number</th><th scope="col">On WhatsApp</th></tr></thead>
            <tbody>{exists.data.map((n) => (
              <tr key={n.phone}><td>{n.phone}</td><td>{n.exists ? "yes" : "no"}{n.cached && " (checked in the last day)"}</td></tr>
            ))}</tbody>
          </table></div>
        </div>
      )}
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


