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

from hal.virtual import Keys, Screen, SimLoad, Switch, Ticks
from meter import results as R
from meter.results import LOCKED, NAMES
from sts import amount, errors, keychange
from sts.blocks import REGISTERS
from sts.codec import encode
from sts.explain import Stage, stages
from sts.sta import Sta
from ui.ui import ENTRY, RESULT

STATE = "/state"
_EPOCH = {1993: 725846400, 2014: 1388534400, 2035: 2051222400}  # 1 January, UTC, in seconds
_REGISTER = {
    k: REGISTERS[k] for k in ("max-power", "clear-credit", "tariff-rate", "clear-tamper")
}  # the ones the page offers
_HISTORY = "history.json"  # every entry typed on this page, with the state: a reload keeps it
_HISTORY_MAX = 1000
# t0: the page's time at boot (ticks 0); ahead: ms the teacher's fast-forward added since
_s = {"loop": None, "demo": None, "explain": [], "base": 1993, "ea": "sta", "t0": 0, "ahead": 0}


def _ticks(now_ms):
    return (int(now_ms) - _s["t0"] + _s["ahead"]) & 0x3FFFFFFF


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
    _s["ahead"] = 0
    _mkdir()
    demo = json.loads(demo_json)
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
    _show(h[-1] if h else None)  # a reload shows the last token typed again
    return frame(now_ms)


def _meter():
    return _s["loop"].m


def frame(now_ms):
    _step(now_ms)
    return _json()


def _json():
    loop = _s["loop"]
    m = loop.m
    st = m.status()
    if "fault" not in st:
        st["tids_text"] = _tids_short(m)
    return json.dumps(
        {
            "lines": loop.display.lines,
            "relay": loop.relay.closed,
            "status": st,
            "load": loop.energy.watts,
            "ahead": _s["ahead"] // 1000,
        }
    )


# -- dates: a TID is minutes since the base date ------------------------------------------
def _civil(days):
    """(year, month, day) of a count of days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (mo <= 2), mo, d


def tid_date(base_date, tid):
    """The minute a TID stands for, as "YYYY-MM-DD HH:MM UTC"."""
    days, mins = divmod(_EPOCH[base_date] // 60 + tid, 1440)
    y, mo, d = _civil(days)
    return "%04d-%02d-%02d %02d:%02d UTC" % (y, mo, d, mins // 60, mins % 60)


def _tid_words(base_date, tid):
    return "%s: minutes since the base date %d-01-01; the last TID of that base, %d, is %s" % (
        tid_date(base_date, tid),
        base_date,
        (1 << 24) - 1,
        tid_date(base_date, (1 << 24) - 1),
    )


def _made(m, t):
    """How many of the memory's slots still hold the manufacture TID (filled at manufacture;
    accepted TIDs are all different, so a repeated oldest TID is that fill)."""
    n = 0
    while n < t.count and t.tids[n] == t.tids[0]:
        n += 1
    return n if n > 1 or (n == 1 and t.count == 1 and _is_made(m, t.tids[0])) else 0


def _is_made(m, tid):
    d = _s["demo"]["meter"]
    return m.base_date == d["base_date"] and tid == d.get("manufacture_tid")


def _tids(m):
    """The TID memory in words, for the explainer."""
    t = m.tids
    head = "%d of %d" % (t.count, t.capacity)
    if not t.count:
        return head + ": empty (a rollover cleared it): any TID of the new base date is new"
    made = _made(m, t)
    first = "%d (%s)" % (t.tids[0], tid_date(m.base_date, t.tids[0]))
    if made == t.count:
        return (
            "%s: every slot is pre-filled with the manufacture TID %s, so tokens older "
            "than the meter are OLD" % (head, first)
        )
    newest = [t.tids[i] for i in range(max(made, t.count - 3), t.count)]
    text = ", ".join("%d (%s)" % (x, tid_date(m.base_date, x)) for x in newest)
    if made:
        return "%s: %d slots still hold the manufacture TID %s; newest: %s" % (
            head,
            made,
            first,
            text,
        )
    if t.count == 1:
        return "%s: %s" % (head, first)
    return "%s; oldest %s; newest: %s" % (head, first, text)


def _tids_short(m):
    """The TID memory for the status line: a fresh meter's is full only of its manufacture
    TID, which is not 50 tokens typed."""
    t = m.tids
    made = _made(m, t)
    if t.count and made == t.count:
        return "TID memory pre-filled with the manufacture TID (%s)" % tid_date(
            m.base_date, t.tids[0]
        )
    if made:
        return "TID memory %d accepted, %d slots still the manufacture TID" % (
            t.count - made,
            made,
        )
    return "TID memory %d/%d" % (t.count, t.capacity)


def key(k, now_ms):
    """One key of the keypad; Enter on a token also records it in the history, with what
    the explainer needs to show it again."""
    now = _ticks(now_ms)
    _step(now_ms)  # an entry that timed out since the last frame is gone before this key
    m = _meter()
    ui = _s["loop"].ui
    typed = ui.digits.decode() if k == "#" and ui.state == ENTRY else ""
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
            "before": _tids(m),
        }
    _step(now_ms, k)
    if ui.state != RESULT or not typed:
        return _json()  # a digit, a short code: the explainer keeps the last token
    if entry is None:  # refused before any decoding: too short, locked, a faulted meter
        entry = {"digits": typed, "why": _why_not(m, typed)}
    else:
        entry["after"] = _tids(m)
    lines = [line.strip() for line in ui.result if line.strip()]
    entry["shown"] = " ".join(lines)
    entry["result"] = _result_words(m.last, lines)
    h = _history()
    h.append(entry)
    _save_history(h[-_HISTORY_MAX:])
    _show(entry)
    return _json()


def _why_not(m, typed):
    if m.last == LOCKED:
        return "the keypad is locked after refused tokens: the meter did not look at it"
    if len(typed) != 20:
        return "a token has 20 digits: the meter refuses it before decoding"
    return "the meter is out of service (%s)" % ("a fault" if m.fault else "not personalised")


# What each result means, for a learner (the display shows the meter's short words).
_MEANS = {
    R.ACCEPT: "the meter accepted the token",
    R.KCT_STAGED: "the meter holds this key change token (KCT) section and waits, for two "
    "minutes at most, for the rest of its set",
    R.KEY_CHANGED: "the key change set is complete: the new decoder key is in use from now on",
    R.OVERFLOW: "the credit would pass what the register can hold, so none was added",
    R.KEY_TYPE: "a key change to a key type this meter may not take",
    R.FORMAT: "not a token: it must be 20 digits, below 2**66, and not of class 3",
    R.RANGE: "the value it carries is outside what this meter accepts",
    R.FUNCTION: "a kind of token this meter does not support",
    R.OLD: "its TID is older than every TID the meter remembers, with the memory full: it "
    "might be one already used, so it is refused",
    R.USED: "the meter has accepted this TID before: a token works once",
    R.KEY_EXPIRED: "its TID is past the key expiry number (KEN): the meter needs a new key",
    R.DDTK: "the meter holds a default key, which takes no credit",
    R.CRC: "the check does not match after decryption: another meter's token, a typo, or "
    "an old key",
    R.MFR: "a test token for another manufacturer's meters",
    R.LOCKED: "after too many refused tokens the keypad is locked for a while: the meter did "
    "not read this one",
    R.KCT_TIMEOUT: "the held key change section waited too long and was dropped: type the "
    "whole set again",
    R.KCT_MIXED: "this section does not belong with the one held: both were dropped",
    R.STORAGE: "the meter cannot read or write its state, so it takes no token",
    R.SAME_KEY: "the new key is the key in use: refused",
    R.LAST_BASE: "a rollover on a meter already at the last base date: refused",
}


def _result_words(code, lines):
    """ "1 ACCEPT: what it means. The display shows ...": the display's lines that the name
    does not already say, so nothing is said twice."""
    name = NAMES[code]
    n = "" if code > LOCKED else "%d " % code  # the meter's own outcomes: no number
    same = (name, "REJECT %d" % code, "ACCEPT" if code == R.ACCEPT else name)
    rest = [line for line in lines if line not in same]
    text = "%s%s: %s." % (n, name, _MEANS.get(code, "the meter's answer"))
    if rest:
        text += " The display shows %s." % " / ".join(rest)
    return text


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


def history():
    """The entries typed on this page, oldest first: the digits and what the display said."""
    return json.dumps([{"token": e["digits"], "shown": e.get("shown", "")} for e in _history()])


def explain_again(i):
    """Entry i of the history in the explainer again, as it was when typed."""
    h = _history()
    i = int(i)
    if not 0 <= i < len(h):
        return json.dumps({"error": "no entry %d in the history" % i})
    _show(h[i])
    return explain()


def _cipher(ea, krn):
    d = _s["demo"]
    key = unhexlify(d["meter"]["decoder_key"] if krn == d["meter"]["krn"] else d["next_key"])
    if ea == "sta":
        return Sta(key)
    from sts.misty1 import Misty1

    return Misty1(key)


def _stages_of(e):
    """[Stage] of a history entry: the decoder's stages, the TID memory, the result; or, for
    an entry the meter refused unread, why it was not decoded."""
    d = e["digits"]
    if "why" in e:
        return [
            Stage("digits", len(d), words="%s (%d digits)" % (d, len(d))),
            Stage("not decoded", words=e["why"]),
            Stage("result", words=e.get("result", "")),
        ]
    st = stages(d, _cipher(e["ea"], e["krn"]), e["ea"])
    st.append(Stage("TID memory before", words=e.get("before", "")))
    st.append(Stage("TID memory after", words=e.get("after", "")))
    st.append(Stage("result", words=e.get("result", "")))
    return st


def explain():
    """The explainer's stages: each with its name in words, one plain sentence, its data."""
    rows = _s["explain"]
    got = {s.name: s.value for s in rows}
    return json.dumps([_dress(s, got, _s["base"], _s["ea"]) for s in rows])


def _show(e):
    _s["explain"] = _stages_of(e) if e else []
    _s["base"] = e.get("base", 1993) if e else 1993
    _s["ea"] = e.get("ea", "sta") if e else "sta"


# The explainer's words: stage -> (its name, one plain sentence shown before its data).
_STAGES = {
    "digits": ("The digits", "What was typed on the keypad: a token is 20 decimal digits."),
    "66 bits": (
        "One number, 66 bits",
        "The 20 digits are one number below 2**66; written in "
        "binary it is 66 bits, bit 65 on the left and bit 0 on the right.",
    ),
    "class bits": (
        "The token class",
        "Bits 28 and 27 carry the token class, which says how "
        "to read the rest: 0 credit, 1 test/display, 2 management.",
    ),
    "transposition": (
        "Transposition",
        "To make room for the class, the vending side moved "
        "block bits 28 and 27 up to bits 65 and 64; the meter puts them back.",
    ),
    "cipher block": (
        "The data block, as sent",
        "What is left is the 64-bit data block, shown in hexadecimal.",
    ),
    "CRC": (
        "The check (CRC)",
        "Bits 0 to 15 are a CRC-16 over the rest of the block: the "
        "meter works it out again, and the two must be equal.",
    ),
    "token": (
        "Which token",
        "Bits 60 to 63 are the subclass: with the class, they name the kind of token.",
    ),
    "amount": (
        "The amount, read",
        "The amount field is a 2-bit exponent and a 14-bit mantissa, counted in tenths of a unit.",
    ),
    "refused": (
        "Refused by the decoder",
        "The decoder stopped here: nothing after this point was read.",
    ),
    "not decoded": ("Not decoded", "The meter refused this entry before decoding it."),
    "TID memory before": (
        "TID memory, before",
        "The meter remembers the TIDs it has accepted, so that each token works only once.",
    ),
    "TID memory after": (
        "TID memory, after",
        "What the meter remembers now: a new TID is added, and a rollover empties the memory.",
    ),
    "result": ("What the meter did", "The meter's answer, by its number and name."),
}

# Block fields: name in words, one sentence on what it is for.
_FIELDS = {
    "amount": ("Amount", "How much credit the token carries."),
    "tid": (
        "TID = token identifier",
        "The minute the token was made, counted from the "
        "base date; the meter takes each TID once.",
    ),
    "rnd": (
        "RND = random number",
        "Four random bits, so that two tokens made in the same minute still differ.",
    ),
    "register": (
        "Register value",
        "The value this management token sets (watts, for a max power limit).",
    ),
    "mfr": ("Manufacturer code", "Which maker's meters should obey; 0 means every meter."),
    "control": ("Control", "Which test or display the meter is asked to run."),
    "nkho": ("NKHO = new key high part", "The upper 32 bits of the new decoder key."),
    "nklo": ("NKLO = new key low part", "The lower 32 bits of the new decoder key."),
    "nkmo1": ("NKMO1 = new key middle part 1", "32 more bits of a 128-bit new key."),
    "nkmo2": ("NKMO2 = new key middle part 2", "32 more bits of a 128-bit new key."),
    "kt": ("KT = key type", "What kind of key the new one is (2: a credit key for one meter)."),
    "res": ("Reserved", "A bit kept for later use: always 0."),
    "ro": (
        "RO = rollover",
        "1 tells the meter to empty its TID memory: how a meter moves to a new base date.",
    ),
    "krn": (
        "KRN = key revision number",
        "The number of the new key; each key change counts it up.",
    ),
    "kenho": (
        "KENHO = key expiry number, high part",
        "The upper 4 bits of the KEN: tokens with TIDs past it are refused.",
    ),
    "kenlo": ("KENLO = key expiry number, low part", "The lower 4 bits of the KEN."),
    "ti": (
        "TI = tariff index",
        "Which tariff the meter's customer is on; part of the key's identity.",
    ),
    "sgclo": (
        "SGC, low part = supply group code",
        "The lower 12 bits of the supply group the meter belongs to.",
    ),
    "sgcho": (
        "SGC, high part = supply group code",
        "The upper 12 bits of the supply group the meter belongs to.",
    ),
}

# What the decoder's refusals mean, in words (the codec's names are for code, not learners).
_REFUSED = {
    "BAD_LENGTH": "not 20 digits",
    "NOT_DIGIT": "something other than the digits 0 to 9",
    "TOO_LARGE": "the number is 2**66 or more: no token has it",
    "UNKNOWN_CLASS": "class 3 is reserved: no token has it",
    "BAD_CRC": "the check does not match: another meter's token, a typo, or an old key?",
    "UNKNOWN_SUBCLASS": "a subclass this meter does not know",
}


def _dress(s, got, base, ea):
    """One stage for the page: {stage, name, say, value}; `got` is {stage: value} of the
    token's stages (its class and kind)."""
    k = s.name
    name, say = _STAGES.get(k, (k, ""))
    v = s.words
    if k == "plaintext":
        v = "%016x" % s.value
        if got.get("class bits") == 1:
            name, say = (
                "The data block, in the clear",
                "Test/display tokens are not encrypted: the block is read as it is.",
            )
        else:
            name, say = (
                "The data block, decrypted",
                "The meter decrypts the block with its own decoder key (%s): only the meter "
                "the token was made for gets sense out of it." % ea.upper(),
            )
    elif k == "CRC":
        v = "stored %04x, computed %04x: %s" % (
            s.value,
            s.want,
            "they match" if s.value == s.want else "they differ",
        )
    elif k == "refused":
        v = _REFUSED.get(errors.NAMES[s.value], s.words)
    elif k.startswith("field "):
        f = k[6:]
        name, say = _FIELDS.get(f, (f, ""))
        n = s.value
        if s.width == 1:
            where = "(bit %d)" % s.lo
        else:
            where = "(bits %d..%d)" % (s.lo, s.lo + s.width - 1)
        if f == "tid":
            v = "%d %s = %s" % (n, where, _tid_words(base, n))
        elif f == "ro":
            v = "%d %s: %s" % (n, where, "yes, empty the TID memory" if n else "no")
        elif f in ("nkho", "nklo", "nkmo1", "nkmo2"):
            v = "%08x (hex) %s" % (n, where)
        else:
            v = "%d %s" % (n, where)
    elif k == "amount":
        unit = "kWh" if got.get("token") == 0x00 else "units"  # electricity credit
        v = "%d.%d %s" % (s.value // 10, s.value % 10, unit)
    return {"stage": k, "name": name, "say": say, "value": v}


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


_ASK = {"tariff-rate": ("tariff rate", "its units")}


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
        raise ValueError(
            "credit: at most %d.%d kWh in one token"
            % (amount.MAX_TENTHS // 10, amount.MAX_TENTHS % 10)
        )
    return tenths


def _whole(text, what, top):
    text = str(text).strip()
    if not text.isdigit() or len(text) > 12 or int(text) > top:
        raise ValueError("%s: type a whole number from 0 to %d" % (what, top))
    return int(text)


def _grouped(digits):
    return " ".join(digits[i : i + 4] for i in range(0, 20, 4))


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
        t = encode(
            2, _REGISTER[kind], {"register": value, "tid": _tid(m, now_ms), "rnd": rnd}, Sta(key)
        )
        return [(label, t)]
    if kind == "test":
        return [
            (
                "test/display %s" % arg,
                encode(
                    1,
                    0,
                    {"mfr": 0, "control": _whole(arg, "the test/display control", (1 << 36) - 1)},
                    None,
                ),
            )
        ]
    if kind == "migration":
        return _migration(m, now_ms)
    raise ValueError("unknown token kind %r" % kind)


def _migration(m, now_ms):
    d = _s["demo"]["meter"]
    if m.krn != d["krn"]:
        raise ValueError("this meter has already moved to KRN %d" % m.krn)
    old = Sta(unhexlify(d["decoder_key"]))
    nk = unhexlify(_s["demo"]["next_key"])
    kct1, kct2 = [
        encode(2, sub, f, old)
        for sub, f in keychange.sections(nk, d["kt"], d["krn"] + 1, d["ken"], int(d["ti"]), ro=1)
    ]
    # The credit counts from the new base date, 2014, under the new key.
    tid = _tid(m, now_ms, 2014)
    credit = encode(0, 0, {"amount": amount.encode(100), "tid": tid, "rnd": now_ms % 16}, Sta(nk))
    return [
        ("1. key change 1 of 2 (type both within 2 minutes)", kct1),
        ("2. key change 2 of 2", kct2),
        ("3. credit 10.0 kWh under the new key", credit),
    ]


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


# -- the teacher's controls: load, time, lockout -------------------------------------------
def set_load(watts, now_ms):
    """The load on the supply, in watts (SimLoad, the simulator's energy source): credit
    drains while the supply is on, and a load above the max power limit trips it."""
    try:
        w = _whole(watts, "the load in watts", 100000)
    except ValueError as e:
        return json.dumps({"error": str(e)})
    _s["loop"].energy.watts = w
    return frame(now_ms)


def advance(seconds, now_ms):
    """Fast-forward: `seconds` pass on the meter's clock now. The loop runs once for every
    second (it handles steps that long), so consumption, trips and timeouts count as they
    would have in real time."""
    try:
        n = _whole(seconds, "seconds", 86400)
    except ValueError as e:
        return json.dumps({"error": str(e)})
    for _ in range(n):
        _s["ahead"] += 1000
        _step(now_ms)
    return _json()


def clear_lockout(now_ms):
    """A teacher's tool for this page's meter only: the count of refused tokens and the
    keypad lock go back to 0, and are saved. A real meter has no such thing: its lock runs
    out by itself, and nothing typed on its keypad shortens it."""
    _step(now_ms)
    m = _meter()
    was = m.lock_left()
    if m.personalised and not m.fault and (m.fails or m.lock_ms):
        m.fails = m.lock_ms = 0
        m._commit()
    _step(now_ms)
    out = json.loads(_json())
    out["cleared"] = was
    return json.dumps(out)
