import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { useLocation } from "preact-iso";
import { signOut, useSession } from "../session";

export const NAV: { href: string; label: string }[] = [
  { href: "/devices", label: "Devices" },
  { href: "/send", label: "Send" },
  { href: "/messages", label: "Messages" },
  { href: "/chat", label: "Chat" },
  { href: "/webhooks", label: "Webhooks" },
  { href: "/api-keys", label: "API keys" },
  { href: "/team", label: "Team" },
  { href: "/billing", label: "Billing" },
  { href: "/numbers", label: "Numbers" },
  { href: "/docs", label: "Docs" },
];
// What an agent (not an admin) may open: the devices granted to it.
const AGENT_NAV = new Set(["/devices", "/chat", "/docs"]);
const AGENT_PAGES = [...AGENT_NAV, "/profile"];

/** Pages anyone may open; every other page needs a signed-in, verified person. */
export const PUBLIC_PATHS = ["/login", "/signup", "/forgot-password", "/action", "/pricing", "/verify-email", "/docs"];

export function Layout({ children }: { children: ComponentChildren }) {
  const { path, route } = useLocation();
  const session = useSession();
  const open = PUBLIC_PATHS.some((p) => path === p);
  useEffect(() => {
    if (open) return;
    if (session.state === "signed-out") {
      const next = path === "/" ? "" : `?next=${encodeURIComponent(path + window.location.search)}`;
      route(`/login${next}`, true);
    } else if (session.state === "signed-in") {
      if (!session.person) route("/signup", true);
      else if (session.person.role === "owner" && !session.person.email_verified) route("/verify-email", true);
      else if (path === "/") route("/devices", true);
    }
  }, [session, path, open]);
  useEffect(() => {
    if (session.state !== "signed-in" || !session.person || path !== "/login") return;
    // Signed in on /login: go where the signed-out visit pointed (?next=), else the devices.
    // The sign-in form may have gone there already (this runs after its render): then stay.
    if (window.location.pathname !== "/login") return;
    const next = new URLSearchParams(window.location.search).get("next");
    route(next && next.startsWith("/") && !next.startsWith("//") ? next : "/devices", true);
  }, [session, path]);
  const person = session.state === "signed-in" ? session.person : null;
  const ready = open || (person && (person.role !== "owner" || person.email_verified));
  const nav = person && person.role === "agent" ? NAV.filter((n) => AGENT_NAV.has(n.href)) : NAV;
  // An agent who opens another page by its address is told so, rather than shown a page
  // whose calls the API refuses (it stayed "Loading…").
  const notForAgents = !open && person?.role === "agent" &&
    !AGENT_PAGES.some((p) => path === p || path.startsWith(`${p}/`));
  return (
    <div class={path.startsWith("/chat/") ? "shell fill" : "shell"}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href={person ? "/devices" : "/login"}>Utio</a>
        {person && (
          <nav aria-label="Main">
            <ul>
              {nav.map((item) => (
                <li key={item.href}>
                  <a href={item.href} aria-current={path.startsWith(item.href) ? "page" : undefined}>{item.label}</a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {person && (
          <div class="who">
            <a href="/profile">{person.email}</a>
            <button type="button" class="link" onClick={async () => { await signOut(); route("/login"); }}>Sign out</button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1} class={path.startsWith("/chat/") ? "wide" : undefined}>
        {session.state === "unavailable" ? <p role="alert" class="error">{session.message}</p>
          : session.state === "loading" && !open ? <p aria-busy="true">Loading…</p>
          : ready ? (notForAgents ? <NotForAgents /> : children) : <p aria-busy="true">Loading…</p>}
      </main>
    </div>
  );
}

function NotForAgents() {
  return (
    <section>
      <h1>Not available to agents</h1>
      <p role="alert">This page is for the account's owner and admins. As an agent you answer the
        chats of the devices granted to you.</p>
      <p><a href="/chat">Go to the chats</a></p>
    </section>
  );
}
