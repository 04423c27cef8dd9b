// Builds the browser call page into the Python package: `npm run build` (in web/).
//
//   src/call/main.js    -> <out>/main-<hash>.js    the page (ES module)
//   src/call/worker.js  -> <out>/worker-<hash>.js  the RTCRtpScriptTransform worker (classic)
//   src/call/call.css   -> <out>/call-<hash>.css
//   <out>/manifest.json                           which file is which, and what built them
//
// <out> is src/voxseal/web/static/call (committed, so `pip install` needs no npm), or the
// directory given with --outdir (the asset test rebuilds into a temporary directory and
// compares). File names carry a content hash so the gateway can serve them as immutable.
//
// The manifest records the SHA-256 of every source file esbuild read outside node_modules,
// of package-lock.json (which pins what it read inside) and of this script, plus esbuild's
// version: tests/web/test_web_assets.py checks the committed assets against them.

import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const WEB = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = resolve(WEB, "../src/voxseal/web/static/call");

function outdirFromArgs(argv) {
  const i = argv.indexOf("--outdir");
  if (i === -1) return DEFAULT_OUT;
  if (!argv[i + 1]) throw new Error("--outdir needs a directory");
  return resolve(argv[i + 1]);
}

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

const common = {
  bundle: true,
  minify: true,
  // the page needs RTCRtpScriptTransform (Chromium 141+, Firefox 117+, Safari 15.4+)
  target: ["chrome120", "firefox117", "safari16"],
  platform: "browser",
  entryNames: "[name]-[hash]",
  metafile: true,
  write: true,
  logLevel: "warning",
  legalComments: "eof",
  absWorkingDir: WEB,
  // reproducible: no absolute paths or build times in the output
  sourcemap: false,
};

async function build(outdir) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const page = await esbuild.build({
    ...common,
    entryPoints: { main: "src/call/main.js", call: "src/call/call.css" },
    format: "esm",
    outdir,
  });
  const worker = await esbuild.build({
    ...common,
    entryPoints: { worker: "src/call/worker.js" },
    format: "iife",
    outdir,
  });
  const outputs = {};
  const sources = new Set();
  for (const meta of [page.metafile, worker.metafile]) {
    for (const [file, info] of Object.entries(meta.outputs)) {
      const name = relative(outdir, resolve(WEB, file));
      if (info.entryPoint) outputs[info.entryPoint] = name;
    }
    for (const input of Object.keys(meta.inputs)) {
      if (!input.includes("node_modules/")) sources.add(input);
    }
  }
  const rel = (name) => `call/${name}`;
  const hashes = {};
  for (const src of [...sources].sort()) hashes[src] = sha256(join(WEB, src));
  const manifest = {
    comment: "written by web/build.mjs (npm run build); do not edit",
    esbuild: esbuild.version,
    entries: {
      main: rel(outputs["src/call/main.js"]),
      worker: rel(outputs["src/call/worker.js"]),
      css: rel(outputs["src/call/call.css"]),
    },
    outputs: readdirSync(outdir).sort().map(rel),
    sources: hashes,
    lock: { "package-lock.json": sha256(join(WEB, "package-lock.json")) },
    build: { "build.mjs": sha256(join(WEB, "build.mjs")) },
  };
  writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

const outdir = outdirFromArgs(process.argv.slice(2));
const manifest = await build(outdir);
console.log(`built ${manifest.outputs.join(", ")} into ${outdir}`);
