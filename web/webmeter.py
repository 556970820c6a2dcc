# webmeter.py  the classroom page's meter: the board's own loop (app.Loop) behind a few calls
# Runs in the page's MicroPython (WebAssembly) with the firmware on sys.path; every call
# returns JSON for app.js. The page holds the demo meter's decoder keys, never a vending key.
# Times are milliseconds since 1970 given as text: a JS number that large does not cross into
# MicroPython intact. The loop gets them as a board's ticks_ms (_ticks): ms since boot,
# wrapped at 2**30 as on a 32-bit port, which this one is (its ticks_diff takes no more).
import json
import os
from binascii import a2b_base64, b2a_base64, unhexlify

from app import Loop

from hal.energy import SimLoad
from hal.virtual import Keys, Screen, Switch, Ticks
from meter.results import LOCKED, NAMES
from sts import amount
from sts.codec import encode
from sts.explain import stages
from sts.sta import Sta
from ui.ui import ENTRY, RESULT

STATE = "/state"
_EPOCH = {1993: 725846400, 2014: 1388534400, 2035: 2051222400}  # 1 January, UTC, in seconds
_REGISTER = {"max-power": 0, "clear-credit": 1, "tariff": 2, "clear-tamper": 5}
_s = {"loop": None, "demo": None, "explain": [], "t0": 0}


def _ticks(now_ms):
    return (int(now_ms) - _s["t0"]) & 0x3FFFFFFF


def _step(now_ms, k=None):
    """One pass of the board's loop at the page's time, with key k if given."""
    loop = _s["loop"]
    loop.clock.ms = _ticks(now_ms)
    if k is not None:
        loop.keypad.push(k)
    loop.step()


def _mkdir():
    try:
        os.mkdir(STATE)
    except OSError:
        pass


def restore(files_json):
    """Put the state files saved in the browser back before boot()."""
    _mkdir()
    for name, data in json.loads(files_json).items():
        with open(STATE + "/" + name, "wb") as f:
            # bytes: the WebAssembly port's binascii (in Python) takes no str
            f.write(a2b_base64(data.encode()))
    return json.dumps({"restored": len(json.loads(files_json))})


def boot(demo_json, now_ms):
    """The meter from /state, personalised from the demo data if there is none yet."""
    _s["t0"] = now_ms = int(now_ms)
    _mkdir()
    demo = json.loads(demo_json)
    _s["demo"] = demo
    relay = Switch()
    # The page's load is none (as a meter with nothing plugged in): credit drains only in
    # the simulator, where a load can be switched on.
    _s["loop"] = Loop({"keypad": Keys(), "display": Screen(), "relay": relay,
                       "clock": Ticks(), "energy": SimLoad(relay), "state": STATE + "/meter",
                       "provision": demo["meter"], "log": None})
    _s["explain"] = []
    return frame(now_ms)


def _meter():
    return _s["loop"].m


def frame(now_ms):
    _step(now_ms)
    return _json()


def _json():
    loop = _s["loop"]
    return json.dumps({"lines": loop.display.lines, "relay": loop.relay.closed,
                       "status": loop.m.status()})


def _tids(m):
    t = m.tids
    newest = [t.tids[i] for i in range(max(0, t.count - 4), t.count)]
    return "%d of %d; newest: %s" % (t.count, t.capacity,
                                      ", ".join(str(x) for x in newest) or "none")


def key(k, now_ms):
    """One key of the keypad; Enter on a token also records the explainer's stages."""
    now = _ticks(now_ms)
    _step(now_ms)  # an entry that timed out since the last frame is gone before this key
    m = _meter()
    ui = _s["loop"].ui
    typed = ui.digits.decode() if k == "#" and ui.state == ENTRY else ""
    ready = m.personalised and not m.fault
    explain = None
    if len(typed) == 20 and ready and not m.lock_left(now):
        # With the key in force when the token was typed (a key change may replace it).
        explain = stages(typed, m.decoder().cipher, m.ea)
        explain.append(("TID memory before", _tids(m)))
    _step(now_ms, k)
    if ui.state != RESULT or not typed:
        return _json()  # a digit, a short code: the explainer keeps the last token
    if explain is None:  # refused before any decoding: too short, locked, a faulted meter
        explain = [("digits", "%s (%d digits)" % (typed, len(typed))),
                   ("not decoded", _why_not(m, typed))]
    else:
        explain.append(("TID memory after", _tids(m)))
    n = "" if m.last > LOCKED else "%d " % m.last  # the meter's own outcomes: no number
    explain.append(("result", "%s%s: %s" % (n, NAMES[m.last], " / ".join(
        line.strip() for line in ui.result))))
    _s["explain"] = explain
    return _json()


def _why_not(m, typed):
    if m.last == LOCKED:
        return "the keypad is locked after refused tokens: the meter did not look at it"
    if len(typed) != 20:
        return "a token has 20 digits: the meter refuses it before decoding"
    return "the meter is not in service (%s)" % (m.fault or "not personalised")


def explain():
    return json.dumps([{"stage": k, "value": v} for k, v in _s["explain"]])


def _key_now(m):
    """The decoder key the meter has now: the demo key, or the one after the migration."""
    d = _s["demo"]
    return unhexlify(d["meter"]["decoder_key"] if m.krn == d["meter"]["krn"] else d["next_key"])


def _tid(m, now_ms, base_date=None):
    """Minutes since the base date (the meter's, unless given), after the newest TID the
    meter remembers and the last one this panel issued (kept with the state, so a reload
    issues no duplicate). Edition 1's window closed on 2024-11-24: its tokens count on from
    there."""
    if base_date is None:
        base_date = m.base_date
    last = _issued(base_date)
    if base_date == m.base_date:
        last = max(m.tids.newest() or 0, last)
    tid = (now_ms // 1000 - _EPOCH[base_date]) // 60
    if tid >= 1 << 24 or tid <= last:
        tid = last + 1
    if tid >= 1 << 24:
        raise ValueError("no TID left for base date %d: migrate first" % base_date)
    issued = _issued_all()
    issued[str(base_date)] = tid
    with open(STATE + "/vend.json", "w") as f:
        json.dump(issued, f)
    return tid


def _issued_all():
    """{"1993": tid, "2014": tid}: the last TID the panel issued for each base date."""
    try:
        with open(STATE + "/vend.json") as f:
            v = json.load(f)
    except (OSError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _issued(base_date):
    v = _issued_all().get(str(base_date), 0)
    return v if isinstance(v, int) else 0


_ASK = {"tariff": ("tariff", "its units")}


def _tenths(text):
    """A credit in kWh as typed ("10", "2.5", "0.05") in tenths, rounded up as the vending
    side does; exact, with no float on the way."""
    text = str(text).strip()
    whole, _, frac = text.partition(".")
    if not (whole or frac) or not (whole + frac).isdigit() or len(whole) > 8:
        raise ValueError("credit: type an amount in kWh, such as 10 or 2.5")
    tenths = int(whole or "0") * 10 + int((frac + "0")[0])
    if frac[1:].strip("0"):
        tenths += 1
    if tenths == 0:
        raise ValueError("credit: at least 0.1 kWh")
    if tenths > amount.MAX_TENTHS:
        raise ValueError("credit: at most %d.%d kWh in one token"
                         % (amount.MAX_TENTHS // 10, amount.MAX_TENTHS % 10))
    return tenths


def _whole(text, what, top):
    text = str(text).strip()
    if not text.isdigit() or len(text) > 12 or int(text) > top:
        raise ValueError("%s: type a whole number from 0 to %d" % (what, top))
    return int(text)


def _grouped(digits):
    return " ".join(digits[i:i + 4] for i in range(0, 20, 4))


def vend(kind, arg, now_ms):
    """Tokens for the demo meter, made by the firmware's own codec."""
    now_ms = int(now_ms)
    m = _meter()
    try:
        toks = _vend(m, kind, arg, now_ms)
    except ValueError as e:
        return json.dumps({"error": str(e)})
    return json.dumps({"tokens": [{"label": label, "token": _grouped(t)} for label, t in toks]})


def _vend(m, kind, arg, now_ms):
    key = _key_now(m)
    rnd = now_ms % 16
    if kind == "credit":
        raw = amount.encode(_tenths(arg))
        t = encode(0, 0, {"amount": raw, "tid": _tid(m, now_ms), "rnd": rnd}, Sta(key))
        v = amount.decode(raw)
        return [("credit %d.%d kWh" % (v // 10, v % 10), t)]
    if kind in _REGISTER:
        value = {"clear-credit": 0xFFFF, "clear-tamper": 0}.get(kind)
        label = kind
        if kind == "max-power":  # watts, carried like a transfer amount (rounded up)
            value = amount.encode(_whole(arg, "max power in watts", amount.MAX_TENTHS))
            label = "%s %d W" % (kind, amount.decode(value))
        elif value is None:
            value = _whole(arg, "%s in %s" % _ASK[kind], 0xFFFF)
            label = "%s %d" % (kind, value)
        t = encode(2, _REGISTER[kind], {"register": value, "tid": _tid(m, now_ms), "rnd": rnd},
                   Sta(key))
        return [(label, t)]
    if kind == "test":
        return [("test/display %s" % arg, encode(1, 0, {"mfr": 0, "control": _whole(
            arg, "the test/display control", (1 << 36) - 1)}, None))]
    if kind == "migration":
        return _migration(m, now_ms)
    raise ValueError("unknown token kind %r" % kind)


def _migration(m, now_ms):
    d = _s["demo"]["meter"]
    if m.krn != d["krn"]:
        raise ValueError("this meter has already moved to KRN %d" % m.krn)
    old = Sta(unhexlify(d["decoder_key"]))
    nk = unhexlify(_s["demo"]["next_key"])
    hi = (nk[0] << 24) | (nk[1] << 16) | (nk[2] << 8) | nk[3]
    lo = (nk[4] << 24) | (nk[5] << 16) | (nk[6] << 8) | nk[7]
    ken = d["ken"]
    kct1 = encode(2, 3, {"nkho": hi, "kt": d["kt"], "res": 0, "ro": 1, "krn": d["krn"] + 1,
                         "kenho": ken >> 4}, old)
    kct2 = encode(2, 4, {"nklo": lo, "ti": int(d["ti"]), "kenlo": ken & 15}, old)
    # The credit counts from the new base date, 2014, under the new key.
    tid = _tid(m, now_ms, 2014)
    credit = encode(0, 0, {"amount": amount.encode(100), "tid": tid, "rnd": now_ms % 16},
                    Sta(nk))
    return [("1. key change 1 of 2 (type both within 2 minutes)", kct1),
            ("2. key change 2 of 2", kct2),
            ("3. credit 10.0 kWh under the new key", credit)]


def sync(files_json):
    """Another tab changed the state: its files in, the meter read again. The ui stays, so
    what this tab's keypad holds (digits typed, the screen shown) is not lost."""
    reset()
    restore(files_json)
    _s["loop"].reload()
    return json.dumps({"synced": True})


def state_files():
    """The meter's state files as base64, for the browser's storage."""
    _mkdir()
    out = {}
    for name in os.listdir(STATE):
        with open(STATE + "/" + name, "rb") as f:
            out[name] = b2a_base64(f.read()).decode().strip()
    return json.dumps(out)


def reset():
    _mkdir()
    for name in os.listdir(STATE):
        os.remove(STATE + "/" + name)
    return json.dumps({"reset": True})
