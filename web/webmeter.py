# webmeter.py  the classroom page's meter: the board's own loop (app.Loop) behind a few calls
# Runs in the page's MicroPython (WebAssembly) with the firmware on sys.path; every call
# returns JSON for app.js, and malformed input gets {"error": ...}, never an exception. The
# page holds the demo meter's decoder keys, never a vending key. The explainer's words are
# explainer.py's, the teacher's panel is teacher.py's: both take the meter and the demo data.
# Times are milliseconds since 1970 given as text: a JS number that large does not cross into
# MicroPython intact. The loop gets them as a board's ticks_ms (_ticks): ms since boot,
# wrapped at 2**30 as on a 32-bit port, which this one is (its ticks_diff takes no more).
import json
import os
from binascii import a2b_base64, b2a_base64, unhexlify

import explainer
import teacher
from app import Loop

from hal.virtual import Keys, Screen, SimLoad, Switch, Ticks
from ui.ui import ENTRY, INFO, INFO_TIME, RESULT

STATE = "/state"
_HISTORY = "history.json"  # every entry typed on this page, with the state: a reload keeps it
_HISTORY_MAX = 1000
# The files the page keeps in the browser: the meter's two state slots and the page's own.
FILES = ("meter.0", "meter.1", _HISTORY, teacher.ISSUED)
KEYS = "0123456789#*C"
# t0: the page's time at boot (ticks 0); ahead: ms the teacher's fast-forward added since
_s = {"loop": None, "demo": None, "shown": None, "t0": 0, "ahead": 0}


def _answer(f):
    """A call of the page: malformed input (or a call before boot) answers {"error": why}."""

    def call(*args):
        try:
            return f(*args)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError) as e:
            return json.dumps({"error": str(e) or repr(e)})

    return call


def _now(now_ms):
    """The page's time, as text or a number of ms since 1970."""
    if isinstance(now_ms, str):
        if not now_ms.isdigit() or len(now_ms) > 16:
            raise ValueError("time: ms since 1970 as digits, got %r" % (now_ms,))
        return int(now_ms)
    if isinstance(now_ms, int) and 0 <= now_ms < 10**16:
        return now_ms
    raise ValueError("time: ms since 1970, got %r" % (now_ms,))


def _loop():
    if _s["loop"] is None:
        raise ValueError("the meter is not booted yet")
    return _s["loop"]


def _ticks(now_ms):
    return (_now(now_ms) - _s["t0"] + _s["ahead"]) & 0x3FFFFFFF


def _step(now_ms, k=None):
    """One pass of the board's loop at the page's time, with key k if given."""
    loop = _loop()
    loop.clock.ms = _ticks(now_ms)
    if k is not None:
        loop.keypad.push(k)
    loop.step()


def _mkdir():
    try:
        os.mkdir(STATE)
    except OSError:
        pass


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _b64(name, data):
    """Base64 as state_files() writes it: CPython's decoder skips what is not base64."""
    raw = data.encode()  # bytes: the WebAssembly port's binascii (in Python) takes no str
    if len(raw) % 4 or any(c not in _B64 for c in raw):
        raise ValueError("state files: %s is not base64" % name)
    return a2b_base64(raw)


def _files_in(files_json):
    """{name: bytes} of state files saved in the browser, every one checked: only the page's
    names, base64 that decodes, JSON where JSON is kept. ValueError before any state file
    is touched."""
    files = json.loads(files_json) if isinstance(files_json, str) else None
    if not isinstance(files, dict):
        raise ValueError("state files: a JSON object of name: base64")
    out = {}
    for name, data in files.items():
        if name not in FILES or not isinstance(data, str):
            raise ValueError("state files: %r is not one of this page's" % (name,))
        out[name] = _b64(name, data)
    for name in (_HISTORY, teacher.ISSUED):
        if name in out:
            json.loads(out[name])
    # A meter slot's own check (magic, length, CRC) is the store's: a slot that fails it
    # makes a meter that shows METER FAULT, as a board's would, and takes no token.
    return out


def _put(files):
    """Replace the state files with `files` (already checked)."""
    _mkdir()
    for name in os.listdir(STATE):
        os.remove(STATE + "/" + name)
    for name, data in files.items():
        with open(STATE + "/" + name, "wb") as f:
            f.write(data)


@_answer
def restore(files_json):
    """Put the state files saved in the browser back before boot()."""
    files = _files_in(files_json)
    _put(files)
    return json.dumps({"restored": len(files)})


@_answer
def boot(demo_json, now_ms):
    """The meter from /state, personalised from the demo data if there is none yet."""
    now_ms = _now(now_ms)
    demo = json.loads(demo_json)
    if not isinstance(demo, dict) or not isinstance(demo.get("meter"), dict):
        raise ValueError("demo data: a JSON object with the meter's profile")
    unhexlify(demo["meter"]["decoder_key"])  # the demo meter's keys are hex, or this says so
    unhexlify(demo["next_key"])
    _s["t0"] = now_ms
    _s["ahead"] = 0
    _mkdir()
    _s["demo"] = demo
    relay = Switch()
    # The page's load is none (as a meter with nothing plugged in): credit drains only in
    # the simulator, where a load can be switched on.
    _s["loop"] = Loop(
        {
            "keypad": Keys(),
            "display": Screen(),
            "relay": relay,
            "clock": Ticks(),
            "energy": SimLoad(relay),
            "state": STATE + "/meter",
            "provision": demo["meter"],
            "log": None,
        }
    )
    h = _history()
    tokens = [e for e in h if not e.get("code")]  # a short code is listed, not explained
    _s["shown"] = tokens[-1] if tokens else None  # a reload shows the last token typed again
    return _frame(now_ms)


@_answer
def frame(now_ms):
    return _frame(now_ms)


def _frame(now_ms):
    _step(now_ms)
    return _json()


def _json():
    loop = _loop()
    m = loop.m
    st = m.status()
    if "fault" not in st:
        st["tids_text"] = explainer.tids_short(m, _s["demo"])
    return json.dumps(
        {
            "lines": loop.display.lines,
            "relay": loop.relay.closed,
            "status": st,
            "load": loop.energy.watts,
            "ahead": _s["ahead"] // 1000,
        }
    )


@_answer
def key(k, now_ms):
    """One key of the keypad; Enter on a token also records it in the history, with what
    the explainer needs to show it again."""
    if not isinstance(k, str) or len(k) != 1 or k not in KEYS:
        raise ValueError("key: one of %s" % KEYS)
    now = _ticks(now_ms)
    _step(now_ms)  # an entry that timed out since the last frame is gone before this key
    loop = _loop()
    m = loop.m
    ui = loop.ui
    typed = ui.typed() if k == "#" and ui.state == ENTRY else ""
    ready = m.personalised and not m.fault
    entry = None
    if len(typed) == 20 and ready and not m.lock_left(now):
        # With the key and base date in force when the token was typed (a key change may
        # replace them): its KRN names the key, so it is explained again as it was.
        entry = {
            "digits": typed,
            "krn": m.krn,
            "ea": m.ea,
            "base": m.base_date,
            "before": explainer.tids(m, _s["demo"]),
        }
    _step(now_ms, k)
    m = loop.m
    if ui.state == INFO and typed:  # a short code: in the history, the explainer unchanged
        shown = " ".join(line.strip() for line in ui.info if line.strip())
        h = _history()
        h.append(
            {
                "digits": typed,
                "code": 1,
                "why": "a short code",
                "shown": shown,
                "result": "The display shows %s for %d s." % (shown, INFO_TIME // 1000),
            }
        )
        _save_history(h[-_HISTORY_MAX:])
        return _json()
    if ui.state != RESULT or not typed:
        return _json()  # a digit: the explainer keeps the last token
    if entry is None:  # refused before any decoding: too short, locked, a faulted meter
        entry = {"digits": typed, "why": explainer.why_not(m, typed)}
    else:
        entry["after"] = explainer.tids(m, _s["demo"])
    lines = [line.strip() for line in ui.result if line.strip()]
    entry["shown"] = " ".join(lines)
    entry["result"] = explainer.result_words(m.last, lines)
    h = _history()
    h.append(entry)
    _save_history(h[-_HISTORY_MAX:])
    _s["shown"] = entry
    return _json()


def _history():
    try:
        with open(STATE + "/" + _HISTORY) as f:
            h = json.load(f)
    except (OSError, ValueError):
        return []
    return [e for e in h if isinstance(e, dict) and "digits" in e] if isinstance(h, list) else []


def _save_history(h):
    _mkdir()
    with open(STATE + "/" + _HISTORY, "w") as f:
        json.dump(h, f)


@_answer
def history():
    """The entries typed on this page, oldest first: the digits and what the display said."""
    return json.dumps(
        [
            {"token": e["digits"], "shown": e.get("shown", ""), "code": bool(e.get("code"))}
            for e in _history()
        ]
    )


@_answer
def explain_again(i):
    """Entry i of the history in the explainer again, as it was when typed."""
    h = _history()
    if not (isinstance(i, int) or (isinstance(i, str) and i.isdigit())) or not 0 <= int(i) < len(
        h
    ):
        return json.dumps({"error": "no entry %s in the history" % (i,)})
    _s["shown"] = h[int(i)]
    return _explain()


@_answer
def explain():
    """The explainer's stages: each with its name in words, one plain sentence, its data."""
    return _explain()


def _explain():
    return json.dumps(explainer.explain(_s["shown"], _s["demo"]))


@_answer
def vend(kind, arg, now_ms):
    """Tokens for the demo meter, made by stsvend's own token building (sts/vending.py)."""
    now_ms = _now(now_ms)
    m = _loop().m
    return json.dumps({"tokens": teacher.vend(m, _s["demo"], STATE, kind, arg, now_ms)})


@_answer
def sync(files_json):
    """Another tab changed the state: its files in (every one checked first), the meter read
    again. The ui stays, so what this tab's keypad holds (digits typed, the screen shown) is
    not lost."""
    files = _files_in(files_json)
    loop = _loop()
    _put(files)
    loop.reload()
    return json.dumps({"synced": True})


@_answer
def state_files():
    """The meter's state files as base64, for the browser's storage."""
    _mkdir()
    out = {}
    for name in os.listdir(STATE):
        with open(STATE + "/" + name, "rb") as f:
            out[name] = b2a_base64(f.read()).decode().strip()
    return json.dumps(out)


@_answer
def reset():
    _mkdir()
    for name in os.listdir(STATE):
        os.remove(STATE + "/" + name)
    return json.dumps({"reset": True})


# -- the teacher's controls: load, time, lockout -------------------------------------------
@_answer
def set_load(watts, now_ms):
    """The load on the supply, in watts (SimLoad, the simulator's energy source): credit
    drains while the supply is on, and a load above the max power limit trips it."""
    w = teacher.whole(watts, "the load in watts", 100000)
    _loop().energy.watts = w
    return _frame(now_ms)


@_answer
def advance(seconds, now_ms):
    """Fast-forward: `seconds` pass on the meter's clock now. The loop runs once for every
    second (it handles steps that long), so consumption, trips and timeouts count as they
    would have in real time."""
    n = teacher.whole(seconds, "seconds", 86400)
    _now(now_ms)
    _loop()
    for _ in range(n):
        _s["ahead"] += 1000
        _step(now_ms)
    return _json()


@_answer
def clear_lockout(now_ms):
    """The teacher's clear lockout (teacher.clear_lockout): what the lock had left."""
    _step(now_ms)
    was = teacher.clear_lockout(_loop().m)
    _step(now_ms)
    out = json.loads(_json())
    out["cleared"] = was
    return json.dumps(out)


@_answer
def edition_form(name, now_ms):
    """How 873 shows the edition on this page's meter: a form of ui/texts.py's EDITION_FORMS
    (as a maker's meter shows it), or "" for the screen as before."""
    from ui.texts import EDITION_FORMS
    from ui.ui import edition_forms

    if name and name not in EDITION_FORMS:
        return json.dumps({"error": "no 873 form %r (forms: %s)" % (name, edition_forms())})
    _loop().ui.edition_form = name or None
    return frame(now_ms)
