// home_phone.mjs  the home meter's own page (firmware/net/page.html) on a phone: Chromium at
// 390x844, the PIN typed, a token typed, its result and the balance read from the page; then
// the balance again once a token typed on the keypad has reached it. Run by
// tests/test_home_page.py with METER_URL, PIN, TOKEN, WANT (the result), BALANCE (after the
// page's token) and LATER (after the keypad's); SCREENSHOT=file.png keeps a picture.
// Not a *.test.mjs: it needs a running meter (tests/test_web.py runs those on their own).
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./serve.mjs";

const env = process.env;
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS,
});
try {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true,
  });
  const page = await ctx.newPage();
  await page.goto(env.METER_URL);
  // a wrong PIN first: refused, the meter's data stays hidden
  await page.fill("#pin", "000000");
  await page.click("#pinf button");
  await page.waitForFunction(() => document.getElementById("err").textContent.includes("PIN"));
  assert.ok(await page.isHidden("#main"), "the meter shown after a wrong PIN");
  await page.fill("#pin", env.PIN);
  await page.click("#pinf button");
  await page.waitForSelector("#main", { state: "visible" });
  assert.equal(await page.inputValue("#pin"), "", "the PIN left in the field");
  assert.ok(!(await page.content()).includes(env.PIN), "the PIN shown on the page");
  // the phone's width: nothing to scroll sideways, the field and the button full width
  const fit = await page.evaluate(() => ({
    scroll: document.scrollingElement.scrollWidth,
    field: document.getElementById("token").getBoundingClientRect().width,
  }));
  assert.ok(fit.scroll <= 390 && fit.field >= 300, JSON.stringify(fit));
  await page.fill("#token", env.TOKEN);
  await page.click("#tokf button");
  await page.waitForFunction((w) => document.getElementById("res").dataset.result === w,
    env.WANT);
  await page.waitForFunction((b) => document.getElementById("bal").textContent === b, env.BALANCE);
  assert.equal(await page.textContent("#sup"), "ON");
  console.log("page token done");
  // the keypad's token (typed by the test now) shows up through the page's polling
  await page.waitForFunction((b) => document.getElementById("bal").textContent === b,
    env.LATER, { timeout: 30000 });
  await page.waitForFunction((b) => document.getElementById("lcd").textContent.includes(b),
    env.LATER, { timeout: 30000 });
  if (env.SCREENSHOT) await page.screenshot({ path: env.SCREENSHOT });
  console.log("keypad token seen");
} finally {
  await browser.close();
}
