// The Firebase Auth emulator of firebase-tools (pinned in package.json), started on its
// own: `node auth_emulator.cjs --host 127.0.0.1 --port 9099 --project demo-utio`.
// The `firebase emulators:start` command would also start the emulator hub and the
// logging emulator on fixed ports and reach for the network first (its news, its remote
// config); this starts the one server we need, offline, on the port we choose. It prints
// "ready" once it listens and stops on SIGTERM or SIGINT.
const { AuthEmulator } = require("firebase-tools/lib/emulator/auth");

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

async function main() {
  const host = arg("host", "127.0.0.1");
  const port = Number(arg("port", "9099"));
  const projectId = arg("project", "demo-utio");
  const emulator = new AuthEmulator({ host, port, projectId, singleProjectMode: "Warning" });
  await emulator.start();
  console.log(`ready: Firebase Auth emulator on http://${host}:${port} for project ${projectId}`);
  const stop = () => emulator.stop().finally(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
