// bench.mjs  the classroom page's speed in headless Chromium, for bench/web.py (make bench-web)
// Usage: node web/bench.mjs DIST N LOADS. Prints one JSON line: ms from navigation to a
// ready meter for each of LOADS fresh loads, and for each of N credit tokens made by the
// panel, the ms of its 20 digit keys together and of its Enter key (decode, meter rules,
// state write, explainer, frame), each through webmeter as app.js calls it.
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, serve } from "./test/serve.mjs";

const [dist, n = "200", loads = "5"] = process.argv.slice(2);
if (!dist) {
  console.error("usage: node web/bench.mjs DIST [N] [LOADS]");
  process.exit(2);
}
const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS,
});
try {
  const boot = [];
  let page;
  for (let i = 0; i < Number(loads); i++) {
    const context = await browser.newContext(); // empty storage: a new meter each time
    page = await context.newPage();
    const t0 = Date.now();
    await page.goto(base);
    await page.waitForSelector("body[data-ready='1']", { timeout: 60000 });
    boot.push(Date.now() - t0);
    process.stderr.write(`  page load ${i + 1}/${loads}: ${boot.at(-1)} ms\n`);
    if (i + 1 < Number(loads)) await context.close();
  }
  const tokens = await page.evaluate((count) => {
    const wm = window.webmeter;
    let t = Date.now();
    const digits = [];
    const enter = [];
    for (let i = 0; i < count; i++) {
      const v = JSON.parse(wm.vend("credit", "1", String(t)));
      const token = v.tokens[0].token.replace(/ /g, "");
      let a = performance.now();
      for (const d of token) wm.key(d, String(t));
      digits.push(performance.now() - a);
      a = performance.now();
      const f = JSON.parse(wm.key("#", String(t)));
      enter.push(performance.now() - a);
      if (!f.lines[0].startsWith("ACCEPT")) throw new Error(`token ${i}: ${f.lines}`);
      t += 5000; // past the result screen
    }
    return { digits, enter };
  }, Number(n));
  console.log(JSON.stringify({ boot, ...tokens }));
} finally {
  await browser.close();
  server.close();
}
