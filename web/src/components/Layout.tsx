import type { ComponentChildren } from "preact";
import { useLocation } from "preact-iso";

export const NAV: { href: string; label: string }[] = [
  { href: "/devices", label: "Devices" },
  { href: "/send", label: "Send" },
  { href: "/messages", label: "Messages" },
  { href: "/chat", label: "Chat" },
  { href: "/webhooks", label: "Webhooks" },
  { href: "/api-keys", label: "API keys" },
  { href: "/team", label: "Team" },
  { href: "/billing", label: "Billing" },
  { href: "/docs", label: "Docs" },
];

export function Layout({ children }: { children: ComponentChildren }) {
  const { path } = useLocation();
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/">Utio</a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={path.startsWith(item.href) ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </div>
  );
}
