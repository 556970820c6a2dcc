# teacher.py  the classroom page's teacher's panel: tokens for the demo meter, made with
# stsvend's own token building (sts/vending.py) under the demo meter's decoder keys, and the
# clear-lockout tool. Takes the meter, the demo data and the state directory as arguments.
import json
from binascii import unhexlify

from sts import amount, dates, vending
from sts.blocks import REGISTERS, encode
from sts.codec import cipher
from sts.digits import grouped

OFFERED = ("max-power", "clear-credit", "tariff-rate", "clear-tamper")  # what the panel makes
_ASK = {"tariff-rate": ("tariff rate", "its units")}
ISSUED = "vend.json"  # the last TID the panel issued for each base date, with the state


def key_for(demo, krn):
    """The demo meter's decoder key of a KRN: its own, or the one after the migration."""
    d = demo["meter"]
    return unhexlify(d["decoder_key"] if krn == d["krn"] else demo["next_key"])


def _issued_all(state):
    """{"1993": tid, "2014": tid}: the last TID the panel issued for each base date."""
    try:
        with open(state + "/" + ISSUED) as f:
            v = json.load(f)
    except (OSError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _issued(state, base_date):
    v = _issued_all(state).get(str(base_date), 0)
    return v if isinstance(v, int) else 0


def next_tid(m, state, now_ms, base_date=None):
    """Minutes since the base date (the meter's, unless given), after the newest TID the
    meter remembers and the last one this panel issued (kept with the state, so a reload
    issues no duplicate). Edition 1's window closed on 2024-11-24: its tokens count on from
    there."""
    if base_date is None:
        base_date = m.base_date
    last = _issued(state, base_date)
    if base_date == m.base_date:
        last = max(m.tids.newest() or 0, last)
    tid = dates.tid_at(base_date, now_ms // 1000)
    if tid >= dates.TID_LIMIT or tid <= last:
        tid = last + 1
    if tid >= dates.TID_LIMIT:
        raise ValueError("no TID left for base date %d: migrate first" % base_date)
    issued = _issued_all(state)
    issued[str(base_date)] = tid
    with open(state + "/" + ISSUED, "w") as f:
        json.dump(issued, f)
    return tid


def tenths(text):
    """A credit in kWh as typed ("10", "2.5", "0.05") in tenths, rounded up as the vending
    side does; exact, with no float on the way."""
    text = str(text).strip()
    whole, _, frac = text.partition(".")
    if not (whole or frac) or not (whole + frac).isdigit() or len(whole) > 8:
        raise ValueError("credit: type an amount in kWh, such as 10 or 2.5")
    t = int(whole or "0") * 10 + int((frac + "0")[0])
    if frac[1:].strip("0"):
        t += 1
    if t == 0:
        raise ValueError("credit: at least 0.1 kWh")
    if t > amount.MAX_TENTHS:
        raise ValueError("credit: at most %s kWh in one token" % amount.text(amount.MAX_TENTHS))
    return t


def whole(text, what, top):
    """A whole number 0..top as typed; ValueError that says what to type."""
    text = str(text).strip()
    if not text.isdigit() or len(text) > 12 or int(text) > top:
        raise ValueError("%s: type a whole number from 0 to %d" % (what, top))
    return int(text)


def vend(m, demo, state, kind, arg, now_ms):
    """[{label, token}] for the demo meter; ValueError for what cannot be made."""
    return [
        {"label": label, "token": grouped(t)}
        for label, t in _vend(m, demo, state, kind, arg, now_ms)
    ]


def _vend(m, demo, state, kind, arg, now_ms):
    c = cipher(m.ea, key_for(demo, m.krn))
    rnd = now_ms % 16
    if kind == "credit":
        t, f = vending.credit("electricity", tenths(arg), next_tid(m, state, now_ms), rnd, c)
        return [("credit %s kWh" % amount.text(amount.decode(f["amount"])), t)]
    if kind in OFFERED:
        value = {"clear-credit": 0xFFFF, "clear-tamper": vending.FIXED["clear-tamper"]}.get(kind)
        label = kind
        if vending.carries_watts(REGISTERS[kind]):
            value = whole(arg, "max power in watts", vending.MAX_WATTS)
        elif value is None:
            value = whole(arg, "%s in %s" % _ASK[kind], 0xFFFF)
            label = "%s %d" % (kind, value)
        vending.register_fields(kind, value, 0, 0)  # a value it cannot carry uses no TID
        t, f = vending.register(kind, value, next_tid(m, state, now_ms), rnd, c)
        if vending.carries_watts(REGISTERS[kind]):
            label = "%s %d W" % (kind, amount.decode(f["register"]))
        return [(label, t)]
    if kind == "test":
        control = whole(arg, "the test/display control", (1 << 36) - 1)
        return [("test/display %s" % arg, vending.test_display(control)[0])]
    if kind == "migration":
        return _migration(m, demo, state, now_ms)
    raise ValueError("unknown token kind %r" % (kind,))


def _migration(m, demo, state, now_ms):
    d = demo["meter"]
    if m.krn != d["krn"]:
        raise ValueError("this meter has already moved to KRN %d" % m.krn)
    old = cipher(m.ea, unhexlify(d["decoder_key"]))
    nk = unhexlify(demo["next_key"])
    kct1, kct2 = [
        encode(2, sub, f, old)
        for sub, f in vending.sections(nk, d["kt"], d["krn"] + 1, d["ken"], int(d["ti"]), ro=1)
    ]
    # The credit counts from the new base date, 2014, under the new key.
    tid = next_tid(m, state, now_ms, 2014)
    credit = vending.credit("electricity", 100, tid, now_ms % 16, cipher(m.ea, nk))[0]
    return [
        ("1. key change 1 of 2 (type both within 2 minutes)", kct1),
        ("2. key change 2 of 2", kct2),
        ("3. credit 10.0 kWh under the new key", credit),
    ]


def clear_lockout(m):
    """A teacher's tool for this page's meter only: the count of refused tokens and the
    keypad lock go back to 0, and are saved. A real meter has no such thing: its lock runs
    out by itself, and nothing typed on its keypad shortens it. The seconds it had left."""
    was = m.lock_left()
    m.clear_lock()
    return was
