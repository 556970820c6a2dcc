// page.test.mjs  the classroom page in headless Chromium: keypad, LCD, explainer, vending,
// storage across a reload, reset. Run: node --test web/test/  (after host_tools.webbuild)
// Chromium is Debian's (`$CHROMIUM`, default /usr/bin/chromium), driven by playwright-core;
// no browser is downloaded. The page is at $WEB_URL, or else served from web/dist (or
// $WEB_DIST) on 127.0.0.1 by this file.
import assert from "node:assert/strict";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, serve } from "./serve.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const DIST = path.resolve(process.env.WEB_DIST || path.join(ROOT, "web", "dist"));
// SCREENSHOT=file.png keeps a picture of the page after the migration (`make web-shot`
// refreshes the README's, docs/web.png); without it no picture is taken.
const SHOT = process.env.SCREENSHOT || "";
const TEST_TOKEN = "0000 0000 0087 2419 5840"; // test/display, control 512 (stsvend test 512)

let server;
let base;
let browser;

before(async () => {
  if (process.env.WEB_URL) {
    base = process.env.WEB_URL; // the README's server, started by tests/test_web.py
  } else {
    assert.ok(statSync(path.join(DIST, "index.html"), { throwIfNoEntry: false }),
      `${DIST} is not built: python -m host_tools.webbuild`);
    server = await serve(DIST);
    base = `http://127.0.0.1:${server.address().port}/`;
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

const lcd = (page) => page.evaluate(() =>
  [...document.querySelectorAll("#lcd .lcd-line")].map((l) => l.dataset.text || ""));

// Waits until the LCD shows every `want` string (each on one of its lines).
async function waitLcd(page, want, timeout = 20000) {
  try {
    await page.waitForFunction((w) => {
      const text = [...document.querySelectorAll("#lcd .lcd-line")]
        .map((l) => l.dataset.text || "").join("\n");
      return w.every((s) => text.includes(s));
    }, want, { timeout, polling: 20 });
  } catch (e) {
    throw new Error(`LCD never showed ${JSON.stringify(want)}; it shows ${
      JSON.stringify(await lcd(page))}: ${e.message}`);
  }
}

async function open(page) {
  await page.goto(base + "?typedelay=25");
  await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
  await waitLcd(page, ["CREDIT"]);
}

async function clickKeys(page, keys) {
  for (const k of keys.replace(/ /g, "")) {
    await page.click(`#keypad button[data-key="${k}"]`);
  }
}

// "type it" on the nth token of the panel, then waits until that run has ended.
async function typeIt(page, n) {
  await page.click(`#tokens li:nth-child(${n}) .type-it`);
  await page.waitForSelector(`#tokens li:nth-child(${n}).typed`);
  await page.waitForSelector("#keypad:not(.busy)");
}

async function explainer(page) {
  return page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll("#explain tr")].map((tr) =>
      [tr.dataset.stage, tr.lastElementChild.textContent])));
}

test("the classroom page: keypad, LCD, explainer, vending, storage, reset", async () => {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const offsite = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) offsite.push(r.url()); });

  await open(page);
  const first = await lcd(page);
  assert.equal(first.length, 2);
  for (const line of first) assert.equal(line.length, 16);
  assert.match(first[0], /^CREDIT 0\.0 kWh/);

  // The test/display token clicked on the keypad: class 1, sent in the clear.
  await clickKeys(page, TEST_TOKEN);
  await waitLcd(page, ["0000 0000 0087", "2419 5840"]);
  await clickKeys(page, "#");
  await waitLcd(page, ["ACCEPT", "TEST 512"]);
  const st = await explainer(page);
  for (const stage of ["digits", "66 bits", "class bits", "transposition", "cipher block",
    "plaintext", "CRC", "TID memory before", "TID memory after", "result"]) {
    assert.ok(stage in st, `the explainer has no "${stage}" stage: ${Object.keys(st)}`);
  }
  assert.equal(st.digits, TEST_TOKEN.replace(/ /g, ""));
  assert.match(st["class bits"], /class 1/);
  assert.match(st.CRC, /match/);
  assert.ok(Object.keys(st).some((s) => s.startsWith("field ")), "no field stages");
  assert.match(st.result, /ACCEPT/);

  // The keyboard types too: 873 Enter shows the edition.
  await page.keyboard.type("873");
  await page.keyboard.press("Enter");
  await waitLcd(page, ["STS EDITION 1", "KRN 1 BASE 1993"]);

  // The edition-2 migration set from the vending panel, typed on the keypad by "type it".
  await page.click("button[data-kind='migration']");
  await page.waitForSelector("#tokens li:nth-child(3)");
  const tokens = await page.$$eval("#tokens .token", (els) => els.map((e) => e.textContent));
  assert.equal(tokens.length, 3);
  for (const t of tokens) assert.match(t, /^\d{4}( \d{4}){4}$/);
  await clickKeys(page, "5"); // a stray digit: "type it" clears the entry first
  await page.click("#tokens li:nth-child(1) .type-it");
  await page.waitForSelector("#keypad.busy");
  await clickKeys(page, "7"); // the keypad waits while "type it" types
  await page.keyboard.press("Escape");
  await page.waitForSelector("#tokens li:nth-child(1).typed");
  await waitLcd(page, ["KEY CHANGE 1/2"]);
  await page.waitForSelector("#keypad:not(.busy)");
  await typeIt(page, 2);
  await waitLcd(page, ["KEY CHANGED"]);
  await typeIt(page, 3);
  await waitLcd(page, ["ACCEPT", "+10.0 kWh"]);
  const credit = await explainer(page);
  assert.equal(credit.digits, tokens[2].replace(/ /g, ""));
  assert.match(credit["class bits"], /class 0/);
  assert.match(credit.CRC, /match/);
  assert.notEqual(credit["TID memory before"], credit["TID memory after"]);
  await waitLcd(page, ["CREDIT 10.0 kWh", "SUPPLY ON"]);
  assert.equal(await page.getAttribute("#status", "data-edition"), "2");
  assert.equal(await page.getAttribute("#status", "data-balance"), "10.0");
  await page.keyboard.type("873");
  await page.keyboard.press("Enter");
  await waitLcd(page, ["STS EDITION 2", "KRN 2 BASE 2014"]);
  await page.keyboard.press("Escape"); // back to the balance for the picture
  await waitLcd(page, ["CREDIT 10.0 kWh"]);
  if (SHOT) {
    mkdirSync(path.dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT, fullPage: true });
  }

  // A second tab shares the storage: what it does, the first tab follows (nothing lost).
  const tab = await context.newPage();
  tab.on("pageerror", (e) => errors.push(String(e)));
  await open(tab);
  await waitLcd(tab, ["CREDIT 10.0 kWh"]);
  await tab.fill("form[data-kind='credit'] input", "1.5");
  await tab.click("form[data-kind='credit'] button");
  await page.keyboard.type("12"); // this tab's entry outlives the other tab's token
  await waitLcd(page, ["12"]);
  await typeIt(tab, 1);
  await waitLcd(tab, ["ACCEPT", "+1.5 kWh"]);
  await page.waitForFunction(() =>
    document.querySelector("#status").dataset.balance === "11.5");
  assert.match((await lcd(page))[1], /^12 /);
  await page.keyboard.press("Escape");
  await waitLcd(page, ["CREDIT 11.5 kWh"]);
  await tab.close();

  // A credit that is not a number is refused on the panel, with what to type.
  await page.fill("form[data-kind='credit'] input", "ten");
  await page.click("form[data-kind='credit'] button");
  assert.match(await page.textContent("#vend-error"), /type an amount in kWh/);
  assert.equal(await page.isVisible("#vend-error"), true);
  assert.equal(await page.locator("#tokens li").count(), 0); // no old token under it

  // A token made but not typed is still there after a reload, as the meter is.
  await page.fill("form[data-kind='credit'] input", "2");
  await page.click("form[data-kind='credit'] button");
  const kept = await page.textContent("#tokens li:nth-child(1) .token");

  // The state survives a reload (browser storage) ...
  await page.reload();
  await open(page);
  await waitLcd(page, ["CREDIT 11.5 kWh"]);
  assert.equal(await page.getAttribute("#status", "data-edition"), "2");
  assert.equal(await page.textContent("#tokens li:nth-child(1) .token"), kept);
  // ... and the reset button forgets it, once the teacher says yes.
  page.once("dialog", (d) => d.dismiss());
  await page.click("#reset");
  assert.equal(await page.getAttribute("#status", "data-balance"), "11.5");
  page.once("dialog", (d) => d.accept());
  await page.click("#reset");
  await waitLcd(page, ["CREDIT 0.0 kWh"]);
  assert.equal(await page.getAttribute("#status", "data-edition"), "1");
  assert.equal(await page.locator("#tokens li").count(), 0);
  await page.reload();
  await open(page);
  await waitLcd(page, ["CREDIT 0.0 kWh"]);

  assert.equal(await page.isHidden("#banner"), true, await page.textContent("#banner"));
  assert.deepEqual(errors, []);
  assert.deepEqual(offsite, [], "the page fetched something from elsewhere");
  await context.close();
});

test("a saved state that is not a meter's shows METER FAULT, and Reset mends it", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base);
  // Both slots: slot 0 alone torn, with slot 1 never written, is a personalisation cut short,
  // and the meter personalises again instead.
  await page.evaluate(() => localStorage.setItem("stsmeter.state",
    '{"meter.0": "AAAA", "meter.1": "AAAA"}'));
  await page.reload();
  await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
  await waitLcd(page, ["METER FAULT"]);
  assert.match(await page.textContent("#status"), /Reset meter starts a new demo meter/);
  page.once("dialog", (d) => d.accept());
  await page.click("#reset");
  await waitLcd(page, ["CREDIT 0.0 kWh"]);
  // Three wrong tokens lock the keypad for 10 s, counted down in real time: the meter's
  // clock is the port's ticks, which this 32-bit port only takes below 2**30 ms.
  for (let i = 0; i < 3; i++) {
    await clickKeys(page, "1234567890123456789" + i + "#");
    await waitLcd(page, ["REJECT 13"]);
  }
  await clickKeys(page, "C");
  await waitLcd(page, ["WAIT 10s"], 3000);
  await waitLcd(page, ["WAIT 8s"], 4000);
  assert.deepEqual(errors, []);
  await context.close();
});
