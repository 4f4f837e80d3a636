// Who is signed in: the Identity Platform (Firebase Auth) user and their Utio person
// (account and role, from GET /v1/people/me). Firebase is loaded once the app knows its
// settings (GET /v1/auth/config); locally the Auth emulator answers on this same origin.
import { initializeApp } from "firebase/app";
import {
  applyActionCode,
  browserLocalPersistence,
  confirmPasswordReset,
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  initializeAuth,
  onIdTokenChanged,
  sendEmailVerification,
  sendPasswordResetEmail,
  signInWithEmailAndPassword,
  signOut as firebaseSignOut,
  type Auth,
  type User,
} from "firebase/auth";
import { useEffect, useState } from "preact/hooks";
import { api, useTokenSource, type Schemas } from "./api/client";

export type Person = Schemas["PersonOut"];
export type Session =
  | { state: "loading" }
  | { state: "unavailable"; message: string }
  | { state: "signed-out" }
  | { state: "signed-in"; user: User; person: Person | null };

let session: Session = { state: "loading" };
let config: Schemas["AuthConfig"] | null = null;
let auth: Auth | null = null;
const listeners = new Set<(s: Session) => void>();
let markReady: () => void = () => undefined;
const ready = new Promise<void>((resolve) => { markReady = resolve; });

function set(next: Session) {
  session = next;
  listeners.forEach((listener) => listener(next));
}

export function useSession(): Session {
  const [value, setValue] = useState(session);
  useEffect(() => {
    listeners.add(setValue);
    setValue(session);
    return () => void listeners.delete(setValue);
  }, []);
  return value;
}

export function signupOpen(): boolean {
  return config?.signup ?? true;
}

async function loadPerson(user: User): Promise<Person | null> {
  const { data } = await api.GET("/v1/people/me");
  return data && user ? data : null;
}

export async function start(): Promise<void> {
  const { data } = await api.GET("/v1/auth/config").catch(() => ({ data: undefined }));
  if (!data || !data.enabled) {
    set({ state: "unavailable", message: data ? "Signing in is not set up on this server." :
      "Could not reach Utio. Check your connection and reload the page." });
    markReady();
    return;
  }
  config = data;
  const app = initializeApp({ apiKey: data.api_key, projectId: data.project_id,
    authDomain: window.location.host });
  auth = initializeAuth(app, { persistence: browserLocalPersistence });
  if (data.emulator) connectAuthEmulator(auth, window.location.origin, { disableWarnings: true });
  useTokenSource(async () => (auth?.currentUser ? auth.currentUser.getIdToken() : null));
  markReady();
  onIdTokenChanged(auth, async (user) => {
    if (!user) return set({ state: "signed-out" });
    const same = session.state === "signed-in" && session.user.uid === user.uid;
    if (!same) set({ state: "loading" }); // no page decides on a half-known sign-in
    set({ state: "signed-in", user, person: await loadPerson(user) });
  });
}

async function need(): Promise<Auth> {
  await ready;
  if (!auth) throw new Error("Signing in is not available here.");
  return auth;
}

export async function refresh(): Promise<Person | null> {
  const user = (await need()).currentUser;
  if (!user) return null;
  await user.reload();
  await user.getIdToken(true);
  const person = await loadPerson(user);
  set({ state: "signed-in", user, person });
  return person;
}

function signedIn(): Promise<void> {
  return new Promise((resolve) => {
    const check = (s: Session) => {
      if (s.state !== "signed-in") return;
      listeners.delete(check);
      resolve();
    };
    listeners.add(check);
    check(session);
  });
}

export async function signIn(email: string, password: string): Promise<void> {
  await signInWithEmailAndPassword(await need(), email, password);
  await signedIn();
}

export async function signUp(email: string, password: string, accountName: string) {
  const { user } = await createUserWithEmailAndPassword(await need(), email, password);
  const { error, response } = await api.POST("/v1/signup", { body: { account_name: accountName } });
  await sendEmailVerification(user, { url: `${window.location.origin}/devices` }).catch(() => undefined);
  await refresh();
  return { error, status: response.status };
}

export async function finishSignUp(accountName: string) {
  const result = await api.POST("/v1/signup", { body: { account_name: accountName } });
  await refresh();
  return result;
}

export async function resendVerification(): Promise<void> {
  const user = (await need()).currentUser;
  if (user) await sendEmailVerification(user, { url: `${window.location.origin}/devices` });
}

export async function sendReset(email: string): Promise<void> {
  await sendPasswordResetEmail(await need(), email, { url: `${window.location.origin}/login` });
}

export async function verifyEmail(code: string): Promise<void> {
  const a = await need();
  await applyActionCode(a, code);
  if (a.currentUser) await refresh();
}

export async function setPassword(code: string, password: string): Promise<void> {
  await confirmPasswordReset(await need(), code, password);
}

export async function signOut(): Promise<void> {
  await firebaseSignOut(await need());
}

/** Firebase's error codes in plain words, and the field each concerns. */
export function authProblem(error: unknown): { field: "email" | "password" | null; message: string } {
  const code = (error as { code?: string })?.code ?? "";
  const known: Record<string, ["email" | "password" | null, string]> = {
    "auth/invalid-email": ["email", "Enter an email address such as name@example.com."],
    "auth/missing-email": ["email", "Enter your email address."],
    "auth/email-already-in-use": ["email", "An account with this email exists already. Sign in instead."],
    "auth/user-not-found": [null, "The email or the password is not right."],
    "auth/wrong-password": [null, "The email or the password is not right."],
    "auth/invalid-credential": [null, "The email or the password is not right."],
    "auth/invalid-login-credentials": [null, "The email or the password is not right."],
    "auth/missing-password": ["password", "Enter a password."],
    "auth/weak-password": ["password", "Choose a password of at least 8 characters."],
    "auth/too-many-requests": [null, "Too many attempts. Wait a minute and try again."],
    "auth/expired-action-code": [null, "This link has expired. Ask for a new one."],
    "auth/invalid-action-code": [null, "This link is not valid any more. It may have been used already."],
    "auth/user-disabled": [null, "This user is disabled. Ask your account's owner."],
    "auth/network-request-failed": [null, "Could not reach Utio. Check your connection and try again."],
  };
  const [field, message] = known[code] ?? [null, "Something went wrong. Try again."];
  return { field, message };
}
