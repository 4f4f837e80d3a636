// The Firebase Auth emulator of firebase-tools (pinned in package.json), started on its
// own: `node auth_emulator.cjs --host 127.0.0.1 --port 9099 --project demo-utio
// [--data DIR]`.
// The `firebase emulators:start` command would also start the emulator hub and the
// logging emulator on fixed ports and reach for the network first (its news, its remote
// config); this starts the one server we need, offline, on the port we choose. It prints
// "ready" once it listens and stops on SIGTERM or SIGINT.
//
// With --data, the people who signed up survive a restart, as the Firestore data beside
// them does (make dev): DIR/accounts.json is imported at start (the emulator's own import
// and export endpoints, as `firebase emulators:export` uses them), and written again
// whenever the accounts change (checked every second, so a SIGKILL loses at most the
// last second) and once more on SIGTERM or SIGINT.
const fs = require("fs");
const path = require("path");
const { AuthEmulator } = require("firebase-tools/lib/emulator/auth");

const EXPORT_EVERY_MS = 1000;

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

async function call(base, method, url, body) {
  const response = await fetch(base + url, {
    method,
    headers: { Authorization: "Bearer owner", "Content-Type": "application/json" },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return text;
}

function accountsStore(base, projectId, dir) {
  const file = path.join(dir, "accounts.json");
  const accounts = `/identitytoolkit.googleapis.com/v1/projects/${projectId}/accounts`;
  let written = null; // the accounts as last written (or imported)
  return {
    async load() {
      if (!fs.existsSync(file)) return 0;
      const saved = fs.readFileSync(file, "utf8");
      const users = (JSON.parse(saved).users || []).length;
      if (users) await call(base, "POST", `${accounts}:batchCreate`, saved);
      written = saved;
      return users;
    },
    async save() {
      const now = await call(base, "GET", `${accounts}:batchGet?maxResults=-1`);
      if (now === written) return;
      fs.mkdirSync(dir, { recursive: true });
      const incoming = `${file}.incoming`;
      fs.writeFileSync(incoming, now);
      fs.renameSync(incoming, file); // whole or not at all, whenever it is killed
      written = now;
    },
  };
}

async function main() {
  const host = arg("host", "127.0.0.1");
  const port = Number(arg("port", "9099"));
  const projectId = arg("project", "demo-utio");
  const dir = arg("data", "");
  const emulator = new AuthEmulator({ host, port, projectId, singleProjectMode: "Warning" });
  await emulator.start();
  const store = dir ? accountsStore(`http://${host}:${port}`, projectId, dir) : null;
  if (store) {
    const users = await store.load();
    console.log(`kept: ${users} account(s) from ${dir}`);
  }
  let timer = null;
  if (store) {
    const tick = () => {
      store.save().catch((error) => console.error(`could not save the accounts: ${error.message}`))
        .finally(() => { timer = setTimeout(tick, EXPORT_EVERY_MS); });
    };
    timer = setTimeout(tick, EXPORT_EVERY_MS);
  }
  console.log(`ready: Firebase Auth emulator on http://${host}:${port} for project ${projectId}`);
  const stop = async () => {
    if (timer) clearTimeout(timer);
    if (store) {
      try {
        await store.save();
        console.log(`saved the accounts in ${dir}`);
      } catch (error) {
        console.error(`could not save the accounts: ${error.message}`);
      }
    }
    await emulator.stop().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
