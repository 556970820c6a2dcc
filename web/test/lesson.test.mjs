// lesson.test.mjs  the lesson mode on a projector, in headless Chromium: one explainer stage
// at a time in large type, Next and Back, the TID stage with its date on the screen beside
// the keypad, and every control hit where it is drawn (nothing under the meter). Checked
// with the element actually hit at a point (document.elementFromPoint): a panel's scroll
// hides what its box still contains. Run: node --test web/test/ (after tools.webbuild).
// LESSON_SHOTS=dir keeps pictures of the lesson at 1024x768 and 1920x1080.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { start } from "./serve.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(process.env.WEB_DIST || path.join(HERE, "..", "dist"));
const SHOTS = process.env.LESSON_SHOTS || "";

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

async function waitLcd(page, want) {
  await page.waitForFunction((w) => {
    const text = [...document.querySelectorAll("#lcd .lcd-line")]
      .map((l) => l.dataset.text || "").join("\n");
    return w.every((s) => text.includes(s));
  }, want, { timeout: 20000, polling: 20 });
}

async function typeIt(page, n) {
  await page.click(`#tokens li:nth-child(${n}) .type-it`);
  await page.waitForSelector(`#tokens li:nth-child(${n}).typed`);
  await page.waitForSelector("#keypad:not(.busy)");
}

// Back to the first stage, then Next until the lesson shows `stage`.
async function lessonTo(page, stage) {
  while (await page.isEnabled("#lesson-back")) await page.click("#lesson-back");
  for (let i = 0; i < 40; i++) {
    const at = await page.getAttribute("#explain li.current", "data-stage");
    if (at === stage) return;
    assert.ok(await page.isEnabled("#lesson-next"), `the lesson never reached "${stage}"`);
    await page.click("#lesson-next");
  }
  assert.fail(`the lesson never reached "${stage}"`);
}

// Every button and field drawn on the page is the element hit at its centre, with its
// panel scrolled so that it sits at the top of the panel and again at the bottom: what a
// teacher scrolling sees. Returns the controls that were not hit, with what was.
function covered(page) {
  return page.evaluate(() => {
    const bad = [];
    const name = (e) => e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${e.className}` +
      ` "${(e.textContent || e.name || "").trim().slice(0, 24)}"`;
    for (const c of document.querySelectorAll("button, input")) {
      if (!c.checkVisibility()) continue;
      for (const block of ["start", "end"]) {
        c.scrollIntoView({ block, inline: "nearest" });
        const r = c.getBoundingClientRect();
        const x = r.left + r.width / 2;
        const y = r.top + r.height / 2;
        const hit = document.elementFromPoint(x, y);
        if (!hit || !(hit === c || c.contains(hit) || hit.control === c)) {
          bad.push(`${name(c)} (scrolled to the ${block}) is under ${hit ? name(hit) : "nothing"}`);
        }
      }
    }
    return bad;
  });
}

// Numbers and dates drawn across two lines (a group of bits, a date, a history entry's
// digits): each should sit on one line.
function broken(page) {
  return page.evaluate(() => [...document.querySelectorAll(
    "#explain .grp, #explain .date, #history code")].filter((e) => {
    if (!e.checkVisibility()) return false;
    const r = [...e.getClientRects()]; // (a box per piece of text, on one line or more)
    return Math.max(...r.map((b) => b.top)) - Math.min(...r.map((b) => b.top)) > 4;
  }).map((e) => e.textContent));
}

// The TID stage as the class sees it: the font size of its date, and for each line box of
// the date (in the data and in the story) whether that very text is what is hit there.
function tidSeen(page) {
  return page.evaluate(() => {
    const li = document.querySelector("#explain li.current");
    const out = { stage: li?.dataset.stage, dates: [] };
    const W = innerWidth;
    const H = innerHeight;
    for (const q of [".value", ".story"]) {
      const box = li.querySelector(q);
      for (const span of box.querySelectorAll(".date")) {
        const rects = [...span.getClientRects()];
        out.dates.push({
          where: q,
          date: span.textContent,
          px: parseFloat(getComputedStyle(box).fontSize),
          lines: rects.length,
          seen: rects.every((r) => {
            if (r.left < 0 || r.top < 0 || r.right > W || r.bottom > H) return false;
            // both ends of each line box: the date itself, not a panel over it
            return [r.left + 2, r.right - 2].every((x) =>
              span.contains(document.elementFromPoint(x, r.top + r.height / 2)));
          }),
          left: Math.min(...rects.map((r) => r.left)),
        });
      }
    }
    const k = document.querySelector("#keypad").getBoundingClientRect();
    out.keypad = { right: k.right, top: k.top, bottom: k.bottom };
    out.keys = [...document.querySelectorAll("#keypad button")].every((b) => {
      const r = b.getBoundingClientRect();
      return r.bottom <= H && b === document.elementFromPoint(r.left + r.width / 2,
        r.top + r.height / 2);
    });
    out.say = parseFloat(getComputedStyle(li.querySelector(".say")).fontSize);
    out.marked = [...li.querySelectorAll(".bitsview .on")].map((e) => e.textContent).join("");
    return out;
  });
}

test("the lesson at 1024x768: the TID stage with its date beside the keypad, in large type",
  async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(base + "?typedelay=25");
    await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
    await waitLcd(page, ["CREDIT"]);
    assert.deepEqual(await covered(page), []); // the panels under the meter: none covered

    // A credit token typed, then the lesson: one stage at a time.
    await page.click("form[data-kind='credit'] button");
    await page.waitForSelector("#tokens li:nth-child(1)");
    assert.deepEqual(await covered(page), []); // its "type it" is not under the meter
    await typeIt(page, 1);
    await waitLcd(page, ["ACCEPT"]);
    await page.click("#lesson");
    assert.equal(await page.locator("#explain li:visible").count(), 1);
    assert.match(await page.textContent("#lesson-at"), /^stage 1 of \d+$/);
    assert.ok(await page.isDisabled("#lesson-back"));
    await lessonTo(page, "field tid");
    const seen = await tidSeen(page);
    assert.equal(seen.stage, "field tid");
    // The TID's minute and its base's last, in the data; the story's last minute.
    assert.equal(seen.dates.length, 3, JSON.stringify(seen.dates));
    for (const d of seen.dates) {
      assert.equal(d.lines, 1, `the date ${d.date} breaks across lines`);
      assert.ok(d.seen, `the ${d.where}'s date ${d.date} is not seen: ${JSON.stringify(d)}`);
      assert.ok(d.px >= 18, `the ${d.where} is in ${d.px} px type`);
      assert.ok(d.left >= seen.keypad.right, "the date is not beside the keypad");
    }
    assert.ok(seen.say >= 18, `the stage's sentence is in ${seen.say} px type`);
    assert.ok(seen.keys, "a key of the keypad is off the screen or covered");
    assert.equal(seen.dates[2].date, "2024-11-24 20:15 UTC");
    assert.equal(seen.marked.length, 24, "the TID's 24 bits are not the ones marked");
    assert.match(await page.textContent("#explain li.current .story"),
      /24 bits.*1993-01-01.*base date 2014/);
    // Back and Next: the stage before, then the TID again.
    await page.click("#lesson-back");
    assert.notEqual(await page.getAttribute("#explain li.current", "data-stage"), "field tid");
    await page.keyboard.press("PageDown"); // a presenter's clicker
    assert.equal(await page.getAttribute("#explain li.current", "data-stage"), "field tid");
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, "lesson-tid-1024x768.png") });
    }
    assert.deepEqual(await covered(page), []);
    await page.click("#lesson"); // every stage at once: nothing broken inside either
    assert.deepEqual(await broken(page), []);
    await page.click("#lesson");
    await lessonTo(page, "66 bits");
    assert.deepEqual(await broken(page), []);
    assert.equal(await page.$$eval("#explain li.current .grp", (els) => els.length), 17);

    // The migration set: the key change sections tell the story and the customer's steps.
    await page.click("#lesson"); // every stage again, to vend with the panel
    await page.click("button[data-kind='migration']");
    await page.waitForSelector("#tokens li:nth-child(3)");
    assert.deepEqual(await covered(page), []);
    await typeIt(page, 1);
    await typeIt(page, 2);
    await waitLcd(page, ["KEY CHANGED"]);
    await page.click("#lesson");
    await lessonTo(page, "token");
    const story = await page.textContent("#explain li.current .story");
    assert.match(story, /Key change section 2/);
    assert.match(story, /base date 2014 .*KRN.*empties its TID memory/);
    assert.match(story, /ENEO.*SMS.*no purchase.*CEET.*codes 1 and 2.*two minutes.*code 3/);
    assert.equal(await page.$$eval("#explain li.current .bitsview .on", (els) =>
      els.map((e) => e.textContent).join("")), "0100"); // subclass 4, bits 63..60
    assert.deepEqual(await broken(page), []);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "lesson-kct-1024x768.png") });
    await typeIt(page, 3);
    await waitLcd(page, ["ACCEPT"]);
    await page.keyboard.type("873");
    await page.keyboard.press("Enter");
    await waitLcd(page, ["STS EDITION 2"]);
    // The history lists the short code too, whole; the explainer keeps the last token.
    assert.match(await page.textContent("#history li:last-child"), /^873 .*STS EDITION 2/);
    assert.equal(await page.getAttribute("#explain li.current", "data-stage"), "token");
    await page.click("#history li:last-child button");
    assert.match(await page.textContent("#explain li.current"), /short code/i);
    assert.deepEqual(await covered(page), []);

    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.click("#history li:nth-child(4) button"); // the credit after the key change
    await lessonTo(page, "field tid");
    const big = await tidSeen(page);
    for (const d of big.dates) {
      assert.ok(d.seen, `at 1920x1080 the ${d.where}'s date is not seen`);
      assert.ok(d.px > seen.dates[0].px, "no larger type at 1920x1080");
    }
    assert.deepEqual(await broken(page), []);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "lesson-tid-1920x1080.png") });
    assert.deepEqual(await covered(page), []);
    assert.deepEqual(errors, []);
    await context.close();
  });
