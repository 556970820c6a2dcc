// page.test.mjs  the classroom page in headless Chromium: keypad, LCD, explainer, vending,
// storage across a reload, reset. Run: node --test web/test/  (after tools.webbuild)
// Chromium is Debian's (`$CHROMIUM`, default /usr/bin/chromium), driven by playwright-core;
// no browser is downloaded. The page is at $WEB_URL, or else served from web/dist (or
// $WEB_DIST) on 127.0.0.1 by this file.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { start } from "./serve.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const DIST = path.resolve(process.env.WEB_DIST || path.join(ROOT, "web", "dist"));
// SCREENSHOT=file.png keeps a picture of the page after the migration (`make web-shot`
// refreshes the README's, docs/web.png); without it no picture is taken.
const SHOT = process.env.SCREENSHOT || "";
// SHOT_DIR=dir keeps the projector pictures, web-1024x768.png and web-1920x1080.png
// (`make web-shot` writes them into web/dist, or SHOT_DIR=...).
const SHOT_DIR = process.env.SHOT_DIR || "";
const PACE_WAIT = 3500; // longer than "Type them all" waits when it does not wait for a click
const TEST_TOKEN = "0000 0000 0087 2419 5840"; // test/display, control 512 (stsvend test 512)

let server;
let base;
let browser;

before(async () => {
  ({ base, browser, server } = await start(DIST));
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

// {stage: its data} of the explainer (the stage's name and sentence come before the data).
async function explainer(page) {
  return page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll("#explain li")].map((li) =>
      [li.dataset.stage, li.querySelector(".value").textContent])));
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
  assert.doesNotMatch(st.result, /ACCEPT.*ACCEPT/, "the result says ACCEPT twice");
  assert.match(await page.textContent("#explain li[data-stage='66 bits'] .legend"),
    /bits 28 and 27: the token class/);

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
  // The TID as the minute it stands for, under the new base date, with its window's end.
  const minute = new Date(Date.now()).toISOString().slice(0, 10);
  assert.match(credit["field tid"], new RegExp(`= ${minute} \\d\\d:\\d\\d UTC: minutes ` +
    "since the base date 2014-01-01; the last TID of that base, 16777215, is " +
    "2045-11-24 20:15 UTC"));
  assert.equal(await page.textContent("#explain li[data-stage='field tid'] h3"),
    "TID = token identifier");
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
  // clock is the port's ticks, which this 32-bit port only takes below 2**30 ms. The third
  // says so; a key while locked shows the lock; the home screen counts it down.
  for (let i = 0; i < 2; i++) {
    await clickKeys(page, "1234567890123456789" + i + "#");
    await waitLcd(page, ["REJECT 13"]);
  }
  await clickKeys(page, "12345678901234567892#");
  await waitLcd(page, ["LOCKED", "WAIT 10s"]);
  await clickKeys(page, "C");
  await waitLcd(page, ["LOCKED", "WAIT "], 3000);
  await waitLcd(page, ["OFF LOCKED 6s"], 8000);
  assert.deepEqual(errors, []);
  await context.close();
});

// Element boxes in the viewport: each fully visible, the meter left of the explainer.
async function boxes(page) {
  return page.evaluate(() => Object.fromEntries(["#lcd", "#keypad", ".explainer"].map((q) => {
    const r = document.querySelector(q).getBoundingClientRect();
    return [q, { left: r.left, top: r.top, right: r.right, bottom: r.bottom }];
  })));
}

function assertSideBySide(b, width, height) {
  for (const [q, r] of Object.entries(b)) {
    assert.ok(r.left >= 0 && r.top >= 0 && r.right <= width && r.bottom <= height,
      `${q} is not fully visible at ${width}x${height}: ${JSON.stringify(r)}`);
  }
  assert.ok(b["#keypad"].right <= b[".explainer"].left && b["#lcd"].right <=
    b[".explainer"].left, `the meter is not beside the explainer: ${JSON.stringify(b)}`);
  assert.ok(b[".explainer"].bottom - b[".explainer"].top > height / 2, "a small explainer");
}

test("the projector: meter and explainer side by side, history, pace, load and time",
  async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await open(page);
    assertSideBySide(await boxes(page), 1024, 768);
    assert.equal(await page.evaluate(() => document.scrollingElement.scrollTop), 0);
    // A fresh meter's TID memory is its manufacture TID, not 50 tokens.
    assert.match(await page.textContent("#status"),
      /TID memory pre-filled with the manufacture TID \(2024-01-01 00:00 UTC\)/);

    // "Type them all" waits about 3 s on each result before typing the next token.
    await page.click("button[data-kind='migration']");
    await page.waitForSelector("#tokens li:nth-child(3)");
    const tokens = await page.$$eval("#tokens .token", (els) => els.map((e) => e.textContent));
    await page.click("#type-all");
    await page.waitForSelector("#tokens li:nth-child(1).typed");
    const t1 = Date.now();
    await page.waitForSelector("#pace[data-waiting='time']");
    assert.match(await page.textContent("#pace-note"), /2 more tokens: the next in [23] s/);
    await waitLcd(page, ["KEY CHANGE 1/2"]);
    await page.waitForSelector("#tokens li:nth-child(2).typing", { timeout: 6000 });
    const waited = Date.now() - t1;
    assert.ok(waited >= 2700 && waited < 4500, `waited ${waited} ms between two tokens`);
    // ... and on a click, with "one at a time": it waits until Next token is clicked.
    await page.check("#step");
    await page.waitForSelector("#tokens li:nth-child(2).typed");
    await page.waitForSelector("#type-next:not([hidden])");
    await page.waitForTimeout(PACE_WAIT);
    assert.equal(await page.locator("#tokens li:nth-child(3).typing").count(), 0,
      "the next token was typed before the click");
    assertSideBySide(await boxes(page), 1024, 768); // the panel's buttons left both in view
    await page.click("#type-next");
    await page.waitForSelector("#tokens li:nth-child(3).typed");
    await waitLcd(page, ["ACCEPT", "+10.0 kWh"]);
    await page.waitForSelector("#keypad:not(.busy)");
    assertSideBySide(await boxes(page), 1024, 768);

    // The history lists every token typed; a click explains one again, key change included.
    const listed = await page.$$eval("#history li code", (els) => els.map((e) => e.textContent));
    assert.deepEqual(listed, tokens);
    await page.click("#history li:nth-child(1) button");
    const kct = await explainer(page);
    assert.equal(kct.digits, tokens[0].replace(/ /g, ""));
    assert.match(kct.CRC, /they match/); // under the key it was typed with
    assert.match(kct["field ro"], /^1 .*yes/);
    assert.equal(await page.textContent("#explain li[data-stage='field nkho'] h3"),
      "NKHO = new key high part");
    assert.match(await page.textContent("#explain-which"), /entry 1 of the history/);
    assert.equal(await page.locator("#history li.current").count(), 1);
    await page.click("#history li:nth-child(2) button");
    assert.match((await explainer(page))["field kenlo"], /^15 /);
    await page.reload(); // the history is kept with the meter
    await open(page);
    assert.deepEqual(await page.$$eval("#history li code", (els) =>
      els.map((e) => e.textContent)), tokens);
    assert.equal((await explainer(page)).digits, tokens[2].replace(/ /g, ""));

    // Load and time: 2 kW for 10 min uses 0.3 kWh; over a 1000 W limit the supply trips.
    await page.fill("#load", "2000");
    await page.click("#load-form button");
    await page.click("button.ff[data-seconds='600']");
    await page.waitForFunction(() =>
      document.querySelector("#status").dataset.balance === "9.7");
    assert.match(await page.textContent("#ahead"), /10 min ahead/);
    await page.fill("form[data-kind='max-power'] input", "1000");
    await page.click("form[data-kind='max-power'] button");
    await typeIt(page, 1);
    await waitLcd(page, ["OVERLOAD: OFF"], 8000);
    assert.match(await page.textContent("#relay-text"), /SUPPLY OFF/);

    // Three guesses lock the keypad (the third says so); the teacher's clear lockout says
    // what it did.
    for (let i = 0; i < 2; i++) {
      await clickKeys(page, "1234567890123456789" + i + "#");
      await waitLcd(page, ["REJECT 13"]);
    }
    await clickKeys(page, "12345678901234567892#");
    await waitLcd(page, ["LOCKED", "WAIT 10s"]);
    await clickKeys(page, "C");
    await waitLcd(page, ["OFF LOCKED"], 5000);
    await page.click("#clear-lock");
    assert.match(await page.textContent("#controls-said"),
      /Lockout cleared on this page's meter .*A real meter has no such thing/);
    await waitLcd(page, ["OVERLOAD: OFF"], 5000);
    const text = await page.textContent("#explain");
    for (const name of ["BAD_CRC", "MISMATCH", "UNKNOWN_"]) assert.ok(!text.includes(name));

    if (SHOT_DIR) {
      mkdirSync(SHOT_DIR, { recursive: true });
      await page.click("#history li:nth-child(3) button");
      await page.screenshot({ path: path.join(SHOT_DIR, "web-1024x768.png") });
      await page.setViewportSize({ width: 1920, height: 1080 });
      assertSideBySide(await boxes(page), 1920, 1080);
      await page.screenshot({ path: path.join(SHOT_DIR, "web-1920x1080.png") });
    }
    assert.deepEqual(errors, []);
    await context.close();
  });
