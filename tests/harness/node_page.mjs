// A stand-in for the interop tests' browser page, in Node.js (see tests/harness/node_page.py).
//
// Why: the Python <-> JavaScript interop of SFrame, bundles and the session must run in the
// default suite, without a browser. Node 20 has the browser's WebCrypto, so the very bundles
// the page loads run here unchanged; what differs is the host, made to look like the page:
// `window` is the global object, and `newWorker()` starts a worker_threads worker that sees
// the Web Worker globals (`onmessage`, `postMessage`) the worker module is written against.
//
// Usage: node node_page.mjs <directory holding prelude.js, e2ee.js, worker_entry.js>
// Requests on stdin, one JSON object a line: {id, expression, arg}; `expression` is a function
// (`async (a) => { ... }`), evaluated in the global scope and called with `arg`, as Playwright's
// page.evaluate does. Each reply is one
// line on stdout, after a record separator (\x1e) so stray console output cannot be mistaken
// for one: {id, ok} with the JSON value, or {id, error} with the exception's text.
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const dir = process.argv[2];
const url = (name) => pathToFileURL(join(dir, name)).href;

// the worker module assigns `onmessage` and calls `postMessage`, as in a browser worker;
// messages that arrive while it loads are held, as a browser holds them for a module worker
const BOOT = `
const { parentPort, workerData } = require("node:worker_threads");
const early = [];
globalThis.onmessage = null;
globalThis.postMessage = (data) => parentPort.postMessage(data);
parentPort.on("message", (data) => {
  if (globalThis.onmessage) globalThis.onmessage({ data });
  else early.push(data);
});
import(workerData).then(() => { for (const data of early.splice(0)) globalThis.onmessage({ data }); });
`;

class PageWorker {
  constructor(moduleUrl) {
    this.onmessage = null;
    this.thread = new Worker(BOOT, { eval: true, workerData: moduleUrl });
    this.thread.on("message", (data) => this.onmessage?.({ data }));
    this.thread.on("error", (err) => process.stderr.write(`worker error: ${err.stack}\n`));
    this.thread.unref();
  }
  postMessage(data) {
    this.thread.postMessage(data);
  }
}

globalThis.window = globalThis;
window.newWorker = () => new PageWorker(url("worker_entry.js"));
await import(url("prelude.js"));

// BigInts (SFrame KIDs and counters) become {"$bigint": "<decimal>"}: Python reads them back
// as ints, as Playwright returns them
const bigints = (_key, value) => (typeof value === "bigint" ? { $bigint: value.toString() } : value);
const reply = (message) => process.stdout.write("\x1e" + JSON.stringify(message, bigints) + "\n");
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, expression, arg } = JSON.parse(line);
  try {
    const fn = (0, eval)(`(${expression})`);
    const value = await fn(arg);
    reply({ id, ok: value === undefined ? null : value });
  } catch (err) {
    reply({ id, error: err?.stack ?? String(err) });
  }
}
process.exit(0);
