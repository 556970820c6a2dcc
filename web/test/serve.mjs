// serve.mjs  a static server on 127.0.0.1 for a built page (web/dist): the page test's and
// the page benchmark's, when no server is given to them (WEB_URL).
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm",
  ".py": "text/plain; charset=utf-8",
};

// Resolves to the server, listening on a free port of 127.0.0.1.
export function serve(dist) {
  const root = path.resolve(dist);
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const url = new URL(req.url, "http://x");
      const rel = decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname);
      const file = path.join(root, path.normalize(rel));
      if (!file.startsWith(root) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
      res.end(readFileSync(file));
    });
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

// Debian's Chromium as the machine's closed network needs it (no background connections).
export const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
  "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

// The page's tests' start: the page at WEB_URL (the README's server, started by
// tests/web/test_web.py), or `dist` served here; and Debian's Chromium. Resolves to
// {base, browser, server}; close the browser and the server (if any) after.
export async function start(dist) {
  let server;
  let base = process.env.WEB_URL;
  if (!base) {
    assert.ok(statSync(path.join(dist, "index.html"), { throwIfNoEntry: false }),
      `${dist} is not built: python -m tools.webbuild`);
    server = await serve(dist);
    base = `http://127.0.0.1:${server.address().port}/`;
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  return { base, browser, server };
}
