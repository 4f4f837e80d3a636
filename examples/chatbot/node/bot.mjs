// A WhatsApp chatbot on Utio in one file: a webhook receiver that verifies each delivery's
// signature (Standard Webhooks) and answers inbound text messages through the API.
//
//   npm install && UTIO_API_KEY=utio_... node bot.mjs
//
// On start it registers its webhook (unless UTIO_WEBHOOK_SECRET names the secret of one
// you made), then listens on PORT. See docs/guides/chatbot.md.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const API = process.env.UTIO_API ?? "http://127.0.0.1:8080/v1";
const KEY = process.env.UTIO_API_KEY;
const PORT = Number(process.env.PORT ?? 9200);
const URL = process.env.PUBLIC_URL ?? `http://127.0.0.1:${PORT}/webhook`; // where Utio calls us
const DEVICE = process.env.UTIO_DEVICE; // answer on this device only; unset: every device
if (!KEY) throw new Error("set UTIO_API_KEY to your API key");

async function call(method, path, body, headers = {}) {
  const answer = await fetch(API + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

// The bot's brain: replace with your own (a FAQ, an LLM, your order system...).
function answer(text) {
  const words = text.toLowerCase();
  if (["hi", "hello", "hola"].some((greeting) => words.includes(greeting))) {
    return "Hello! I am the Utio demo bot. Ask me about 'hours' or 'prices'.";
  }
  if (words.includes("hour")) return "We are open Monday to Friday, 9:00 to 18:00.";
  if (words.includes("price")) {
    return "Plans start at 29 EUR a month per number. Reply 'human' to talk to a person.";
  }
  return `You said: ${text}`;
}

async function onEvent(event) {
  const data = event.data;
  if (event.event !== "message:in:new" || data.type !== "text" || data.group) return;
  await call("POST", "/messages",
    { phone: data.phone, device: event.device, message: answer(data.message),
      reference: `reply-${data.id}` },
    // a retried delivery of the same event sends no second answer
    { "Idempotency-Key": `reply-${data.id}` });
}

async function webhookSecret() {
  if (process.env.UTIO_WEBHOOK_SECRET) return process.env.UTIO_WEBHOOK_SECRET;
  const hook = await call("POST", "/webhooks", {
    url: URL, events: ["message:in:new"], devices: DEVICE ? [DEVICE] : null,
    description: "chatbot example",
  });
  console.log(`registered webhook ${hook.id} for ${URL}`);
  return hook.secret;
}

const verifier = new Webhook(await webhookSecret());
createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", async () => {
    let event;
    try { // verify on the raw bytes before trusting anything in them
      event = verifier.verify(Buffer.concat(chunks).toString("utf8"), req.headers);
    } catch {
      res.writeHead(401).end();
      return;
    }
    try {
      await onEvent(event);
      res.writeHead(204).end();
    } catch (error) { // answer 500: Utio retries the delivery
      console.log("could not answer:", error.message);
      res.writeHead(500).end();
    }
  });
}).listen(PORT, "127.0.0.1", () => console.log(`chatbot listening on port ${PORT}`));
