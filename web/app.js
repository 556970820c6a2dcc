// app.js  the classroom page: boots MicroPython (WebAssembly), runs webmeter.py, draws the meter
// The page is one more board: the firmware's meter and ui run unchanged; this file is its
// keypad, display, relay LED and storage. Every webmeter call returns JSON text.
import { loadMicroPython } from "./micropython.mjs";

const COLS = 16;
const ROWS = 2;
const TICK_MS = 200; // the ui's timeouts (entry, result screens) need time to pass
const STORE = "stsmeter.state"; // localStorage: the meter's state files, base64
const TOKENS = "stsmeter.tokens"; // localStorage: the panel's last tokens, typed or not
const params = new URLSearchParams(location.search);
const TYPE_DELAY = Number(params.get("typedelay") || 150); // ms between keys of "type it"
// "Type them all": how long each result stays before the next token, long enough to read it
// on a projector (the LCD shows a result for about 3 s); or, with the toggle, a click.
const PACE_MS = Number(params.get("pace") || 3000);

const $ = (sel) => document.querySelector(sel);
let wm = null; // the webmeter module (a proxy of the Python module)
let demoText = "";
let shown = ""; // the frame last drawn, as JSON
let typing = 0; // >0 while "type it" types: the keypad is its own until it ends
let typingRun = 0; // a reset ends the run in progress

// Times cross into MicroPython as text: a JS number above 2**30 does not arrive intact.
const now = () => String(Date.now());

function fail(where, err) {
  const text = `${where}: ${err && err.message ? err.message : err}`;
  console.error(text);
  const b = $("#banner");
  b.textContent = text;
  b.hidden = false;
}

function call(name, ...args) {
  return JSON.parse(wm[name](...args));
}

// -- the display and the relay ------------------------------------------------------------
function drawLcd(lines) {
  const rows = document.querySelectorAll("#lcd .lcd-line");
  for (let r = 0; r < ROWS; r++) {
    const text = ((lines[r] || "") + " ".repeat(COLS)).slice(0, COLS);
    const row = rows[r];
    if (row.children.length !== COLS) {
      row.replaceChildren(...Array.from({ length: COLS }, () => document.createElement("span")));
    }
    for (let c = 0; c < COLS; c++) row.children[c].textContent = text[c];
    row.dataset.text = text;
  }
}

function tenths(v) {
  return `${Math.floor(v / 10)}.${v % 10}`;
}

function drawStatus(s, relay) {
  const led = $("#led");
  led.classList.toggle("on", !!relay);
  $("#relay-text").textContent = relay ? "SUPPLY ON" : "SUPPLY OFF";
  const el = $("#status");
  if (!s || s.fault) {
    el.textContent = `meter fault: ${s ? s.fault : "no status"}. ` +
      "Reset meter starts a new demo meter.";
    return;
  }
  const parts = [
    `STS edition ${s.edition}`,
    `KRN ${s.krn}`,
    `base date ${s.base_date}`,
    `${s.ea}`,
    `balance ${tenths(s.balance)} kWh`,
    s.tids_text || `TID memory ${s.tids_used}/${s.tids_capacity}`,
  ];
  if (s.max_power) parts.push(`max power ${s.max_power} W`);
  if (s.tripped) parts.push("tripped: overload");
  if (s.lock_left) parts.push(`keypad locked ${s.lock_left} s`);
  if (s.kct_held && s.kct_left) parts.push(`key change ${s.kct_held}/${s.kct_of} held, ${s.kct_left} s left`);
  el.textContent = parts.join(" \u00b7 ");
  el.dataset.balance = tenths(s.balance);
  el.dataset.edition = s.edition;
}

function show(frame) {
  const text = JSON.stringify(frame);
  if (text === shown) return;
  shown = text;
  drawLcd(frame.lines);
  drawStatus(frame.status, frame.relay);
  const ahead = frame.ahead || 0;
  $("#ahead").textContent = ahead ? `the meter's clock is ${fmtAhead(ahead)} ahead` +
    (frame.load ? `; load ${frame.load} W` : "") : (frame.load ? `load ${frame.load} W` :
    "the meter's clock runs with the page's");
  $("#ahead").dataset.ahead = ahead;
}

function fmtAhead(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min`;
}

// -- storage ---------------------------------------------------------------------------
function save() {
  try {
    localStorage.setItem(STORE, wm.state_files());
  } catch (e) {
    fail("saving the meter's state", e);
  }
}

// -- keys --------------------------------------------------------------------------------
function press(k, typed = false) {
  if (!wm || (typing && !typed)) return; // "type it" owns the keypad while it types
  const btn = document.querySelector(`#keypad button[data-key="${k}"]`);
  if (btn) {
    btn.classList.add("pressed");
    setTimeout(() => btn.classList.remove("pressed"), 120);
  }
  try {
    show(call("key", k, now()));
    if (k === "#") {
      drawExplain(call("explain"), null);
      drawHistory();
    }
    save();
  } catch (e) {
    fail(`key ${k}`, e);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Tokens typed digit by digit, each after C and then #, so that a class can watch the
// display. One run at a time; the keypad and the "type it" buttons wait for it.
async function typeTokens(items, paced = false) {
  if (typing || !items.length) return;
  const run = ++typingRun;
  typing = 1;
  setBusy(true);
  try {
    for (const [i, item] of items.entries()) {
      if (i > 0 && paced) {
        await pause(run, items.length - i);
        if (run !== typingRun) return;
      }
      const keys = "C" + item.token.replace(/[^0-9]/g, "") + "#";
      item.li?.classList.add("typing");
      for (const k of keys) {
        if (run !== typingRun) return;
        press(k, true);
        await sleep(TYPE_DELAY);
      }
      item.li?.classList.remove("typing");
      item.li?.classList.add("typed");
      item.typed = true;
      saveTokens();
    }
  } finally {
    typing = 0;
    setBusy(false);
    $("#type-next").hidden = true;
    $("#pace-note").textContent = "";
    $("#pace").dataset.waiting = "";
  }
}

// Between two tokens of "Type them all": PACE_MS to read the result, counted down; or, with
// "one at a time" on, until the teacher clicks Next token.
async function pause(run, left) {
  const note = $("#pace-note");
  const pace = $("#pace");
  const what = `${left} more token${left > 1 ? "s" : ""}`;
  if ($("#step").checked) {
    const next = $("#type-next");
    next.hidden = false;
    next.disabled = false;
    pace.dataset.waiting = "click";
    note.textContent = `${what}: read the result, then click Next token`;
    await new Promise((resolve) => {
      const done = () => {
        clearInterval(watch);
        next.removeEventListener("click", done);
        resolve();
      };
      const watch = setInterval(() => { if (run !== typingRun) done(); }, 200);
      next.addEventListener("click", done);
    });
    next.hidden = true;
  } else {
    pace.dataset.waiting = "time";
    for (let t = PACE_MS; t > 0 && run === typingRun; t -= 100) {
      note.textContent = `${what}: the next in ${Math.ceil(t / 1000)} s`;
      await sleep(Math.min(100, t));
    }
  }
  pace.dataset.waiting = "";
  note.textContent = "";
}

function setBusy(on) {
  $("#keypad").classList.toggle("busy", on);
  for (const b of document.querySelectorAll("#tokens .type-it, #type-all")) b.disabled = on;
  $("#step").disabled = false; // the pace can change while it types
}

const KEYBOARD = { Enter: "#", NumpadEnter: "#", Backspace: "*", Escape: "C", "#": "#",
  "*": "*", c: "C", C: "C" };

// A presenter's clicker sends Page Down and Page Up (or the arrows): Next and Back.
const LESSON_KEYS = { PageDown: 1, ArrowRight: 1, PageUp: -1, ArrowLeft: -1 };

function onKeydown(e) {
  const t = e.target.closest ? e.target : document.body;
  if (lesson && LESSON_KEYS[e.key] && !t.closest("input, textarea, select")) {
    e.preventDefault();
    showStage(lessonAt + LESSON_KEYS[e.key]);
    return;
  }
  // A field, or a button of the panels, keeps its own keys (Enter presses it).
  if (t.closest("input, textarea, select, a, button") && !t.closest("#keypad")) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const k = /^[0-9]$/.test(e.key) ? e.key : KEYBOARD[e.key];
  if (!k) return;
  e.preventDefault();
  press(k);
}

// -- vending -----------------------------------------------------------------------------
function vend(kind, arg) {
  const err = $("#vend-error");
  err.hidden = true;
  let out;
  try {
    out = call("vend", kind, arg, now());
    save(); // the panel remembers the TIDs it issued, with the meter's state
  } catch (e) {
    fail(`vend ${kind}`, e);
    return;
  }
  if (out.error) {
    err.textContent = out.error;
    err.hidden = false;
    tokenList = []; // no token under the message that is not what was asked for
    saveTokens();
    drawTokens();
    return;
  }
  tokenList = out.tokens.map((t) => ({ label: t.label, token: t.token, typed: false }));
  saveTokens();
  drawTokens();
}

// The panel's last tokens, in the browser's storage too: a reload loses none of them.
let tokenList = [];

function saveTokens() {
  try {
    localStorage.setItem(TOKENS, JSON.stringify(tokenList.map(
      ({ label, token, typed }) => ({ label, token, typed }))));
  } catch (e) {
    fail("saving the panel's tokens", e);
  }
}

function loadTokens() {
  try {
    const list = JSON.parse(localStorage.getItem(TOKENS) || "[]");
    tokenList = Array.isArray(list) ? list.filter((t) => t && typeof t.token === "string" &&
      typeof t.label === "string") : [];
  } catch {
    tokenList = [];
  }
  drawTokens();
}

function drawTokens() {
  const list = $("#tokens");
  list.replaceChildren();
  for (const t of tokenList) {
    const li = document.createElement("li");
    t.li = li;
    if (t.typed) li.classList.add("typed");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = t.label;
    const code = document.createElement("code");
    code.className = "token";
    code.textContent = t.token;
    const b = document.createElement("button");
    b.className = "type-it";
    b.textContent = "type it";
    b.disabled = typing > 0;
    b.addEventListener("click", () => typeTokens([t]));
    li.append(code, b, label);
    list.append(li);
  }
  $("#pace").hidden = tokenList.length < 2;
}

function typeAll() {
  const left = tokenList.filter((t) => !t.typed);
  typeTokens(left.length ? left : tokenList, true);
}

// -- the explainer and the history ------------------------------------------------------
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// The 66-bit string with the two places transposition swaps: bits 65,64 (first two
// characters) and the class bits 28,27; a legend says which is which.
function bitsValue(value) {
  const div = el("div", "value");
  if (!/^[01]{66}$/.test(value)) {
    div.textContent = value;
    return [div];
  }
  const at = (bit) => 65 - bit; // string index of a bit number
  const mark = (text, cls, title) => {
    const m = el("mark", cls, text);
    m.title = title;
    return m;
  };
  // In groups of four from the right (two, then sixteen fours): a line breaks only
  // between groups, never inside one.
  let group = null;
  for (let i = 0; i < 66; i++) {
    const bit = 65 - i;
    if (!group || (bit + 1) % 4 === 0) {
      if (group) div.append(" ");
      group = el("span", "grp");
      div.append(group);
    }
    if (bit >= 64) group.append(mark(value[i], "moved", `bit ${bit}: block bit ${bit - 37}, ` +
      "moved out for the class"));
    else if (bit === 28 || bit === 27) group.append(mark(value[i], "cls", `bit ${bit}: the class`));
    else group.append(value[i]);
  }
  const legend = el("p", "legend");
  legend.append(el("span", "moved", value.slice(0, 2)),
    " bits 65 and 64: block bits 28 and 27, moved up to make room for the class; ",
    el("span", "cls", value.slice(at(28), at(27) + 1)),
    " bits 28 and 27: the token class.");
  return [div, legend];
}

// The bits of a stage, marked in the 66-bit token or the 64-bit block they sit in: groups
// of four from the right (the 66 bits: two, then sixteen fours), so a line breaks only
// between groups.
function bitsOf(rows, where) {
  const token = rows.find((r) => r.stage === "66 bits")?.value || "";
  if (where === "token") return /^[01]{66}$/.test(token) ? token : "";
  const block = rows.find((r) => r.stage === "plaintext")?.value || "";
  if (!/^[0-9a-f]{16}$/.test(block)) return "";
  return [...block].map((h) => parseInt(h, 16).toString(2).padStart(4, "0")).join("");
}

function bitsView(rows, [lo, width, where]) {
  const bits = bitsOf(rows, where);
  if (!bits || width >= 64) return [];
  const top = bits.length - 1; // the bit number of the first character
  const box = el("div", "bits");
  const div = el("div", "bitsview");
  div.title = `bits ${lo + width - 1}..${lo} of the ${where === "token" ? "66-bit token" :
    "64-bit data block"}`;
  let group = null;
  for (let i = 0; i < bits.length; i++) {
    const bit = top - i;
    if (!group || (bit + 1) % 4 === 0) {
      group = el("span", "grp");
      div.append(group, " ");
    }
    group.append(el("span", bit >= lo && bit < lo + width ? "on" : "", bits[i]));
  }
  const cap = el("p", "legend", `${where === "token" ? "The 66-bit token" :
    "The data block"}, bit ${top} on the left, bit 0 on the right: this stage's bits ` +
    `(${width === 1 ? `bit ${lo}` : `bits ${lo + width - 1} to ${lo}`}) are marked.`);
  box.append(div, cap);
  return [box];
}

// Text whose dates ("2024-11-24 20:15 UTC") never break across lines: each in a span.
function whole(tag, cls, text) {
  const e = el(tag, cls);
  for (const [i, part] of String(text).split(/(\d{4}-\d\d-\d\d \d\d:\d\d UTC)/).entries()) {
    if (part) e.append(i % 2 ? el("span", "date", part) : part);
  }
  return e;
}

// rows: [{stage, name, say, value, story, bits}]; which: the history entry shown, or null
// for the last.
let explained = -1; // the history entry in the explainer
let lesson = false; // the lesson mode: one stage at a time, in large type
let lessonAt = 0; // the stage the lesson shows

function drawExplain(rows, which) {
  const list = $("#explain");
  const was = list.children[lessonAt]?.dataset.stage;
  list.replaceChildren();
  for (const { stage, name, say, value, story, bits } of rows) {
    const li = el("li");
    li.dataset.stage = stage;
    if (stage.startsWith("TID memory") || stage === "result") li.className = "meter-stage";
    const head = el("div", "head");
    head.append(el("h3", "", name), el("p", "say", say));
    li.append(head, ...(stage === "66 bits" ? bitsValue(value) : [whole("div", "value", value)]));
    if (story) li.append(whole("p", "story", story));
    if (bits) li.append(...bitsView(rows, bits));
    list.append(li);
  }
  list.hidden = rows.length === 0;
  $("#explain-empty").hidden = rows.length !== 0;
  explained = which;
  $("#explain-which").textContent = which === null || which < 0
    ? "the last token typed, stage by stage"
    : `entry ${which + 1} of the history, as it was typed`;
  // The lesson stays at the stage it showed when the token has one by that name.
  const again = rows.findIndex((r) => r.stage === was);
  showStage(again >= 0 ? again : 0);
  markCurrent();
}

// The lesson's one stage: shown, its place said, Back and Next where they lead somewhere.
function showStage(i) {
  const items = $("#explain").children;
  lessonAt = Math.max(0, Math.min(i, items.length - 1));
  [...items].forEach((li, n) => li.classList.toggle("current", n === lessonAt));
  $("#lesson-at").textContent = items.length
    ? `stage ${lessonAt + 1} of ${items.length}` : "no token yet";
  $("#lesson-back").disabled = lessonAt <= 0;
  $("#lesson-next").disabled = lessonAt >= items.length - 1;
  if (lesson) $("#explain").parentElement.scrollTop = 0;
}

function setLesson(on) {
  lesson = on;
  document.body.classList.toggle("lesson", on);
  $("#lesson").setAttribute("aria-pressed", String(on));
  $("#lesson").textContent = on ? "Every stage at once" : "Lesson: one stage at a time";
  $("#lesson-nav").hidden = !on;
  showStage(lessonAt);
}

function drawHistory() {
  let items;
  try {
    items = call("history");
  } catch (e) {
    fail("history", e);
    return;
  }
  const list = $("#history");
  list.replaceChildren();
  items.forEach((h, i) => {
    const li = el("li", h.code ? "code" : "");
    const b = el("button");
    b.append(el("code", "", h.token.replace(/(\d{4})(?=\d)/g, "$1 ")), " ",
      el("span", "shown", h.shown));
    b.title = "explain this entry again";
    b.addEventListener("click", () => {
      try {
        const rows = call("explain_again", String(i));
        if (rows.error) throw new Error(rows.error);
        drawExplain(rows, i);
      } catch (e) {
        fail("explain again", e);
      }
    });
    li.append(b);
    list.append(li);
  });
  lastToken = items.findLastIndex((h) => !h.code);
  $("#history-empty").hidden = items.length !== 0;
  markCurrent();
  list.lastElementChild?.scrollIntoView({ block: "nearest" });
}

let lastToken = -1; // the last history entry that is a token (a short code is not explained)

function markCurrent() {
  const at = explained === null ? lastToken : explained;
  document.querySelectorAll("#history li").forEach((li, i) =>
    li.classList.toggle("current", i === at));
}

// -- the teacher's controls: load, time, lockout ------------------------------------------
function controlsCall(name, ...args) {
  const err = $("#controls-error");
  err.hidden = true;
  $("#controls-said").hidden = true;
  try {
    const out = call(name, ...args, now());
    if (out.error) {
      err.textContent = out.error;
      err.hidden = false;
      return null;
    }
    shown = "";
    show(out);
    save();
    return out;
  } catch (e) {
    fail(name, e);
    return null;
  }
}

const LOAD = "stsmeter.load"; // localStorage: the load last set, put back after a reload

function setLoad(watts) {
  if (controlsCall("set_load", watts)) localStorage.setItem(LOAD, watts);
}

// localStorage: how 873 shows the edition (a maker's form, as ENEO's 2024 notice lists them)
const FORM = "stsmeter.edition_form";

function setEditionForm(name) {
  if (controlsCall("edition_form", name)) localStorage.setItem(FORM, name);
}

// -- boot --------------------------------------------------------------------------------
function mkdirs(FS, path) {
  let at = "";
  for (const part of path.split("/").filter(Boolean)) {
    at += "/" + part;
    try {
      FS.mkdir(at);
    } catch {
      // it exists
    }
  }
}

async function fetchText(name) {
  const r = await fetch(name);
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return r.text();
}

function bootMeter() {
  const saved = localStorage.getItem(STORE);
  if (saved) {
    try {
      const out = call("restore", saved);
      if (out.error) throw new Error(out.error);
    } catch (e) {
      // Not the meter's files (another page's key, or edited by hand): start afresh, say so.
      call("reset");
      fail("the saved meter state could not be read, so the meter starts new", e);
    }
  }
  shown = "";
  show(call("boot", demoText, now()));
  save();
  drawExplain(call("explain"), null);
  drawHistory();
  const load = localStorage.getItem(LOAD);
  if (load && load !== "0") {
    $("#load").value = load;
    setLoad(load);
  }
  const form = localStorage.getItem(FORM);
  if (form) {
    $("#edition-form").value = form;
    setEditionForm(form);
  }
}

async function main() {
  const [firmware, page, demo] = await Promise.all(
    ["firmware.json", "page.json", "demo.json"].map(fetchText));
  demoText = demo;
  $("#profile").textContent = JSON.parse(demo).profile || "";
  const mp = await loadMicroPython({
    heapsize: 4 * 1024 * 1024,
    stdout: (line) => console.log("[micropython]", line),
    stderr: (line) => console.error("[micropython]", line),
  });
  // /lib is on the port's own sys.path: the firmware and the page's glue go there.
  for (const [path, source] of Object.entries(JSON.parse(firmware))) {
    mkdirs(mp.FS, "/lib/" + path.split("/").slice(0, -1).join("/"));
    mp.FS.writeFile("/lib/" + path, source);
  }
  mkdirs(mp.FS, "/lib");
  for (const [name, source] of Object.entries(JSON.parse(page))) {
    mp.FS.writeFile("/lib/" + name, source); // webmeter.py, explainer.py, teacher.py
  }
  mp.runPython("import webmeter");
  wm = mp.pyimport("webmeter");
  window.webmeter = wm; // for the curious, in the browser's console
  wire();
  try {
    bootMeter();
  } catch (e) {
    fail("starting the meter (Reset meter starts a new one)", e);
  }
  $("#lcd").classList.remove("booting");
  setInterval(() => {
    try {
      show(call("frame", now()));
    } catch (e) {
      fail("frame", e);
    }
  }, TICK_MS);
  document.body.dataset.ready = "1";
}

// The keypad, keyboard, panel, other tabs and reset: wired before the meter boots, so that
// Reset can still mend a meter that does not.
function wire() {
  for (const b of document.querySelectorAll("#keypad button")) {
    b.addEventListener("mousedown", (e) => e.preventDefault()); // no focus: Space stays off it
    b.addEventListener("click", () => press(b.dataset.key));
  }
  document.addEventListener("keydown", onKeydown);
  for (const f of document.querySelectorAll("form.vend")) {
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      vend(f.dataset.kind, f.elements.arg.value.trim());
    });
  }
  for (const b of document.querySelectorAll("button.vend-now")) {
    b.addEventListener("click", () => vend(b.dataset.kind, ""));
  }
  $("#type-all").addEventListener("click", typeAll);
  $("#lesson").addEventListener("click", () => setLesson(!lesson));
  $("#lesson-back").addEventListener("click", () => showStage(lessonAt - 1));
  $("#lesson-next").addEventListener("click", () => showStage(lessonAt + 1));
  $("#load-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setLoad($("#load").value.trim());
  });
  for (const b of document.querySelectorAll("button.ff")) {
    b.addEventListener("click", () => {
      if (!wm) return;
      controlsCall("advance", b.dataset.seconds);
    });
  }
  $("#edition-form").addEventListener("change", (e) => {
    if (wm) setEditionForm(e.target.value);
  });
  $("#clear-lock").addEventListener("click", () => {
    const out = wm && controlsCall("clear_lockout");
    if (out) {
      $("#controls-said").hidden = false;
      $("#controls-said").textContent = out.cleared
        ? `Lockout cleared on this page's meter (it had ${out.cleared} s to go): the ` +
          "count of refused tokens is 0 again. A real meter has no such thing."
        : "The keypad was not locked: nothing to clear (the count of refused tokens is 0).";
    }
  });
  loadTokens();
  // Another tab of this page changed the meter (the storage is shared): take its state, so
  // that neither tab overwrites what the other did. What this tab's keypad holds stays.
  window.addEventListener("storage", (e) => {
    try {
      if (e.key === STORE && e.newValue) {
        const out = call("sync", e.newValue);
        if (out.error) throw new Error(out.error); // nothing of this tab's state was touched
        shown = "";
        show(call("frame", now()));
        drawHistory();
      } else if (e.key === TOKENS && !typing) {
        loadTokens();
      }
    } catch (err) {
      fail("following another tab", err);
    }
  });
  const reset = $("#reset");
  reset.disabled = false;
  reset.addEventListener("click", () => {
    if (!confirm("Reset the meter? Its credit, keys and TID memory go back to a new demo " +
      "meter (edition 1), in every tab of this page.")) return;
    typingRun++; // a token being typed stops
    try {
      call("reset");
      localStorage.removeItem(STORE);
      tokenList = [];
      saveTokens();
      drawTokens();
      localStorage.removeItem(LOAD);
      $("#load").value = "0";
      bootMeter();
      $("#banner").hidden = true;
    } catch (e) {
      fail("reset", e);
    }
  });
}

drawLcd(["STARTING", "MICROPYTHON..."]);
main().catch((e) => fail("boot", e));
