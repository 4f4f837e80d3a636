import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { problemOf } from "../api/client";
import { Form, Notice, TextField } from "../components/Form";
import * as session from "../session";

function nextPath(): string {
  const next = new URLSearchParams(window.location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/devices";
}

export function Login() {
  const { route } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<{ email?: string; password?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  async function submit() {
    const found: typeof errors = {};
    if (!email.trim()) found.email = "Enter your email address.";
    if (!password) found.password = "Enter your password.";
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await session.signIn(email.trim(), password);
      route(nextPath(), true);
    } catch (error) {
      const { field, message } = session.authProblem(error);
      setErrors(field ? { [field]: message } : { form: message });
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="narrow">
      <h1>Sign in to Utio</h1>
      <Form onSubmit={submit} label="Sign in">
        <TextField label="Email" type="email" autoComplete="email" value={email} onInput={setEmail} error={errors.email} />
        <TextField label="Password" type="password" autoComplete="current-password" value={password}
          onInput={setPassword} error={errors.password} />
        {errors.form && <p role="alert" class="error">{errors.form}</p>}
        <button type="submit" disabled={busy}>Sign in</button>
      </Form>
      <p><a href="/forgot-password">Forgot your password?</a></p>
      {session.signupOpen() && <p>New to Utio? <a href="/signup">Create an account</a></p>}
    </section>
  );
}

export function Signup() {
  const { route } = useLocation();
  const current = session.useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [company, setCompany] = useState("");
  const [errors, setErrors] = useState<{ email?: string; password?: string; company?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const finishing = current.state === "signed-in" && !current.person;
  if (!session.signupOpen()) {
    return (
      <section class="narrow">
        <h1>Create an account</h1>
        <p>Sign-up is closed on this server. Ask its operator for an account, then <a href="/login">sign in</a>.</p>
      </section>
    );
  }
  async function submit() {
    const found: typeof errors = {};
    if (!finishing) {
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim())) found.email = "Enter an email address such as name@example.com.";
      if (password.length < 8) found.password = "Choose a password of at least 8 characters.";
    }
    if (!company.trim()) found.company = "Enter the name of your company or project.";
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const { error, response } = finishing
        ? await session.finishSignUp(company.trim())
        : await session.signUp(email.trim(), password, company.trim()).then((r) => ({ error: r.error, response: { status: r.status } }));
      if (error) {
        const problem = problemOf(error, response.status);
        setErrors(problem.fields.account_name ? { company: problem.fields.account_name } : { form: problem.message });
        return;
      }
      route("/verify-email", true);
    } catch (error) {
      const { field, message } = session.authProblem(error);
      setErrors(field ? { [field]: message } : { form: message });
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="narrow">
      <h1>{finishing ? "Finish creating your account" : "Create your Utio account"}</h1>
      <Form onSubmit={submit} label="Create account">
        {!finishing && <>
          <TextField label="Email" type="email" autoComplete="email" value={email} onInput={setEmail} error={errors.email} />
          <TextField label="Password" type="password" autoComplete="new-password" value={password} onInput={setPassword}
            error={errors.password} hint="At least 8 characters." />
        </>}
        <TextField label="Company or project" autoComplete="organization" value={company} onInput={setCompany} error={errors.company} />
        {errors.form && <p role="alert" class="error">{errors.form}</p>}
        <button type="submit" disabled={busy}>Create account</button>
      </Form>
      {!finishing && <p>Have an account? <a href="/login">Sign in</a></p>}
    </section>
  );
}

export function VerifyEmail() {
  const current = session.useSession();
  const { route } = useLocation();
  const [note, setNote] = useState<string | null>(null);
  const email = current.state === "signed-in" ? current.user.email : null;
  async function check() {
    const person = await session.refresh();
    if (!person?.email_verified) setNote("Not verified yet. Open the link in the email we sent, then try again.");
  }
  if (current.state === "signed-in" && current.person?.email_verified) {
    route("/devices", true);
    return null;
  }
  return (
    <section class="narrow">
      <h1>Verify your email</h1>
      <p>We sent a link to <strong>{email ?? "your email address"}</strong>. Open it to finish
        creating your account; this page then lets you in.</p>
      <div class="row">
        <button type="button" onClick={check}>I have verified my email</button>
        <button type="button" class="secondary" onClick={async () => {
          await session.resendVerification();
          setNote("We sent the link again.");
        }}>Send the link again</button>
        <button type="button" class="secondary" onClick={async () => { await session.signOut(); route("/login"); }}>Sign out</button>
      </div>
      {note && <Notice>{note}</Notice>}
    </section>
  );
}

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [sent, setSent] = useState(false);
  async function submit() {
    if (!email.trim()) return setError("Enter your email address.");
    try {
      await session.sendReset(email.trim());
      setSent(true);
      setError(undefined);
    } catch (e) {
      const problem = session.authProblem(e);
      if ((e as { code?: string }).code === "auth/user-not-found") setSent(true);
      else setError(problem.message);
    }
  }
  return (
    <section class="narrow">
      <h1>Reset your password</h1>
      {sent ? <Notice>If an account uses {email}, we sent it a link to choose a new password.</Notice> : (
        <Form onSubmit={submit} label="Reset password">
          <TextField label="Email" type="email" autoComplete="email" value={email} onInput={setEmail} error={error} />
          <button type="submit">Send the link</button>
        </Form>
      )}
      <p><a href="/login">Back to sign in</a></p>
    </section>
  );
}

/** Where the links of our emails land: verify an email, or set a (new) password. */
export function Action() {
  const params = new URLSearchParams(window.location.search);
  const mode = params.get("mode");
  const code = params.get("oobCode") ?? "";
  if (mode === "verifyEmail") return <VerifyLink code={code} />;
  if (mode === "resetPassword") return <SetPassword code={code} invite={params.get("invite") === "1"} />;
  return (
    <section class="narrow"><h1>This link is not valid</h1><p><a href="/login">Sign in</a></p></section>
  );
}

function VerifyLink({ code }: { code: string }) {
  const [state, setState] = useState<"done" | "working" | string>("working");
  useEffect(() => {
    session.verifyEmail(code).then(() => setState("done"), (e) => setState(session.authProblem(e).message));
  }, [code]);
  return (
    <section class="narrow">
      <h1>Verify your email</h1>
      {state === "done" ? <><Notice>Your email is verified.</Notice><p><a href="/devices">Go to your devices</a></p></>
        : state === "working" ? <p aria-busy="true">Verifying…</p> : <p role="alert" class="error">{state}</p>}
    </section>
  );
}

function SetPassword({ code, invite }: { code: string; invite: boolean }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [form, setForm] = useState<string | undefined>();
  const [done, setDone] = useState(false);
  async function submit() {
    if (password.length < 8) return setError("Choose a password of at least 8 characters.");
    setError(undefined);
    try {
      await session.setPassword(code, password);
      setDone(true);
    } catch (e) {
      const { field, message } = session.authProblem(e);
      if (field === "password") setError(message);
      else setForm(message);
    }
  }
  return (
    <section class="narrow">
      <h1>{invite ? "Choose your password" : "Choose a new password"}</h1>
      {done ? <><Notice>Your password is set.</Notice><p><a href="/login">Sign in</a></p></> : (
        <Form onSubmit={submit} label="Set password">
          <TextField label="New password" type="password" autoComplete="new-password" value={password}
            onInput={setPassword} error={error} hint="At least 8 characters." />
          {form && <p role="alert" class="error">{form}</p>}
          <button type="submit">Save password</button>
        </Form>
      )}
    </section>
  );
}
