// /chat: which device (WhatsApp number) this tab chats with. An owner sees every device,
// an agent the ones granted; each tab holds its own device, so several stay open at once.
import { api } from "../../api/client";
import { useLive } from "../../live";

export function ChatHome() {
  const devices = useLive(() => api.GET("/v1/devices"), [], { live: false });
  const list = devices.data?.data ?? [];
  return (
    <section>
      <h1>Web chat</h1>
      {devices.problem && <p role="alert" class="error">{devices.problem.message}</p>}
      {!devices.data ? <p aria-busy="true">Loading…</p> : list.length === 0 ? (
        <p>No devices to chat with yet.</p>
      ) : (
        <>
          <p>Which number do you want to chat from? Open another tab for another number.</p>
          <ul class="cards" aria-label="Devices">
            {list.map((d) => (
              <li key={d.id} class="card">
                <a class="device-link" href={`/chat/${d.id}`}>{d.alias || d.phone || d.id}</a>
                <p class="muted">{d.phone ?? "not linked yet"} · {d.status.replace(/_/g, " ")}</p>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
