# ui_rules.py  the keypad-and-display rules (firmware/ui), one test_* function per rule; runs
# unchanged in the micropython unix binary and in CPython, through tests/mp/mptest.py.
#
# A real Meter on a fresh temp dir, tokens built with sts.blocks.encode under the meter's key.
# Time is milliseconds of the ui's clock (the meter sees whole seconds). Frames are compared
# with their padding stripped (show()), and checked for size separately (frames_fit).
import gc
from binascii import unhexlify

from demo_meter import KEY, profile  # the meter's decoder key, its PAN

from meter import results as R
from meter.meter import TRIP_SECONDS, Meter
from meter.store import RecordStore
from scratch import cipher, fresh_dir
from sts import amount
from sts import kinds as K
from sts.blocks import encode
from ui import texts as T
from ui import ui as U
from ui.ui import Ui

KEYS = {"key": KEY, "new": unhexlify("0123456789abcdef"), "wrong": unhexlify("0011223344556677")}
MTID = 1000  # manufacture TID: tokens with a lower TID are OLD


def new_meter(kt=2, ken=255, personalise=True):
    gc.collect()
    m = Meter(RecordStore(fresh_dir("ui_rules") + "/state"))
    if personalise:
        m.personalise(
            profile(kt=kt, ken=ken),
            MTID,
        )
    return m


def credit(tid, tenths, sub=0, key="key"):
    raw = amount.encode(tenths)
    assert amount.decode(raw) == tenths, "not an exact amount: %d" % tenths
    return encode(0, sub, {"amount": raw, "tid": tid, "rnd": 5}, cipher(KEYS[key]))


def mgmt(sub, register, tid, key="key"):
    return encode(2, sub, {"register": register, "tid": tid, "rnd": 3}, cipher(KEYS[key]))


def _word(k, i):
    return int.from_bytes(k[4 * i : 4 * i + 4], "big")


def kct(old="key", new="new", kt=2, krn=2, ro=0):
    """The two key change sections (by subclass) moving the meter from `old` to `new`."""
    c = cipher(KEYS[old])
    nk = KEYS[new]
    return {
        3: encode(2, 3, {"nkho": _word(nk, 0), "kt": kt, "ro": ro, "krn": krn, "kenho": 15}, c),
        4: encode(2, 4, {"nklo": _word(nk, 1), "ti": 1, "kenlo": 15}, c),
    }


def press(ui, keys, now):
    """Keys at `now`, each in a pass of the loop: the meter's time moves first (the loop
    ticks the meter; the ui only reads it)."""
    for k in keys:
        ui.meter.tick(now)
        ui.key(k, now)


def enter(ui, digits, now):
    """Type digits and Enter at `now`; the screen that follows."""
    press(ui, digits + "#", now)
    return show(ui, now)


def show(ui, now):
    """The frame at `now` (a pass of the loop), checked for size, with each line's padding
    stripped."""
    ui.meter.tick(now)
    f = ui.frame(now)
    frames_fit(ui, f)
    return [s.rstrip() for s in f]


def frames_fit(ui, f):
    assert len(f) == ui.rows, "%d rows, want %d: %r" % (len(f), ui.rows, f)
    for s in f:
        assert len(s) == ui.cols, "%r is %d wide, want %d" % (s, len(s), ui.cols)


def eq(got, want, what=""):
    assert got == want, "%s got %r, want %r" % (what, got, want)


def idle(ui, now):
    f = show(ui, now)  # (the frame lets the time pass first)
    assert ui.state == U.IDLE, "state %d, want idle" % ui.state
    return f


# -- token entry -------------------------------------------------------------------------------


def test_digits_shown_in_groups_of_four_as_typed():
    ui = Ui(new_meter())
    digits = "12345678901234567890"
    want = {
        1: ["TOKEN:", "1"],
        4: ["TOKEN:", "1234"],
        5: ["TOKEN:", "1234 5"],
        9: ["TOKEN:", "1234 5678 9"],
        12: ["TOKEN:", "1234 5678 9012"],
        13: ["1234 5678 9012", "3"],
        16: ["1234 5678 9012", "3456"],
        20: ["1234 5678 9012", "3456 7890"],
    }  # 16x2: three groups, then two
    for i, k in enumerate(digits):
        ui.key(k, 1000 + i)
        if i + 1 in want:
            eq(show(ui, 1000 + i), want[i + 1], "%d digits:" % (i + 1))
        assert ui.state == U.ENTRY


def test_layout_20x4():
    m = new_meter()
    ui = Ui(m, rows=4, cols=20)
    eq(show(ui, 0), ["CREDIT 0.0 kWh", "NO CREDIT: OFF", "", ""])
    press(ui, "12345678", 10)
    eq(show(ui, 10), ["TOKEN:", "1234 5678", "", ""])
    press(ui, "90123456", 20)
    eq(show(ui, 20), ["TOKEN:", "1234 5678 9012 3456", "", ""])  # four groups fit 20 wide
    press(ui, "7890", 30)
    f = show(ui, 30)
    groups = [s for s in f if s and s != "TOKEN:"]
    eq(groups[0], "1234 5678 9012 3456", "20 digits, first line of groups:")
    eq(" ".join(groups), "1234 5678 9012 3456 7890", "20 digits:")
    ui.key("C", 35)
    eq(enter(ui, credit(2000, 125), 40), ["ACCEPT", "+12.5 kWh", "", ""])
    eq(show(ui, 3040), ["CREDIT 12.5 kWh", "SUPPLY ON", "", ""])
    eq(enter(ui, "8", 4000), ["PAN 600727", "0000 0000 0009", "", ""])


def test_backspace_removes_the_last_digit_and_cancels_when_empty():
    ui = Ui(new_meter())
    press(ui, "123", 0)
    ui.key("*", 10)
    eq(show(ui, 10), ["TOKEN:", "12"])
    eq(list(ui.digits), list(b"12"))
    press(ui, "345", 20)
    eq(show(ui, 20), ["TOKEN:", "1234 5"])
    ui.key("*", 30)
    eq(show(ui, 30), ["TOKEN:", "1234"])
    press(ui, "****", 40)
    eq(idle(ui, 40), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])  # the last digit gone: idle
    ui.key("*", 50)  # on empty: stays idle, nothing typed
    eq(idle(ui, 50), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    eq(len(ui.digits), 0)
    ui.key("7", 60)
    eq(show(ui, 60), ["TOKEN:", "7"])


def test_clear_drops_every_digit():
    m = new_meter()
    ui = Ui(m)
    press(ui, "1234567890123", 0)
    ui.key("C", 10)
    eq(idle(ui, 10), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    eq(len(ui.digits), 0)
    ui.key("9", 20)
    eq(show(ui, 20), ["TOKEN:", "9"])
    ui.key("C", 30)
    ui.key("#", 40)  # Enter after clear: nothing to apply
    eq(idle(ui, 40), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    eq(m.last, 0)


def test_at_most_20_digits_kept():
    m = new_meter()
    ui = Ui(m)
    tok = credit(2000, 125)
    press(ui, tok + "987", 0)  # three digits too many: ignored
    eq(len(ui.digits), 20)
    eq(show(ui, 0), [tok[0:4] + " " + tok[4:8] + " " + tok[8:12], tok[12:16] + " " + tok[16:20]])
    eq(enter(ui, "", 10), ["ACCEPT", "+12.5 kWh"])
    eq(m.balance[0], 125)


def test_entry_timeout_drops_the_digits():
    ui = Ui(new_meter())
    press(ui, "1234", 1000)
    eq(show(ui, 1000 + 19999), ["TOKEN:", "1234"])
    eq(idle(ui, 1000 + 20000), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    eq(len(ui.digits), 0)
    ui.key("5", 30000)
    eq(show(ui, 30000), ["TOKEN:", "5"])
    ui.key("6", 45000)  # the timeout counts from the last key
    eq(show(ui, 45000 + 19999), ["TOKEN:", "56"])
    eq(idle(ui, 45000 + 20000), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])


def test_entry_timeout_holds_without_a_frame_drawn():
    # The rule is "no key for 20 s drops the digits", whether or not a frame was asked for
    # in between: a key, or Enter, late must not bring back (or apply) the dropped digits.
    # (A board loop or the interactive sim draws the frame after the key it scanned: a key
    # within one loop period past the timeout meets the stale digits.)
    problems = []
    m = new_meter()
    ui = Ui(m)
    press(ui, "1234", 0)
    ui.key("5", 25000)
    f = show(ui, 25000)
    if f != ["TOKEN:", "5"]:
        problems.append("a key 25 s after the last, no frame between: %r" % f)
    ui = Ui(m)
    press(ui, credit(2000, 125), 0)
    ui.key("#", 30000)
    if m.balance[0] or m.last:
        problems.append(
            "Enter 30 s after the last digit applied the dropped token: balance "
            "%d, result %d, screen %r" % (m.balance[0], m.last, show(ui, 30000))
        )
    assert not problems, "; ".join(problems)


def test_enter_applies_and_shows_the_result_for_3000_ms():
    m = new_meter()
    ui = Ui(m)
    eq(enter(ui, credit(2000, 125), 10000), ["ACCEPT", "+12.5 kWh"])
    eq(m.balance[0], 125)
    eq(m.last, R.ACCEPT)
    assert ui.state == U.RESULT
    eq(show(ui, 12999), ["ACCEPT", "+12.5 kWh"])
    eq(idle(ui, 13000), ["CREDIT 12.5 kWh", "SUPPLY ON"])


def test_accepted_credit_shows_amount_and_unit():
    m = new_meter()
    ui = Ui(m)
    now = 0
    for tid, tenths, sub, want in (
        (2000, 125, 0, "+12.5 kWh"),
        (2001, 30, 1, "+3.0 m3"),
        (2002, 7, 2, "+0.7 m3"),
        (2003, 240, 3, "+24.0 h"),
        (2004, 18201624, 0, "+1820162.4 kWh"),
    ):
        eq(enter(ui, credit(tid, tenths, sub), now), ["ACCEPT", want])
        now += 5000
    eq(m.balance, [125 + 18201624, 30, 7, 240])


def _result(code, **given):
    v = {"what": "", "n": None, "m": None, "seconds": None, "register": None}
    v.update(given)
    top, bottom = T.RESULT[code]
    return [top.format(**v), bottom.format(**v)]


def test_result_screens_from_the_meter():
    m = new_meter()
    ui = Ui(m)
    tok = credit(2000, 50)
    eq(enter(ui, tok, 0), ["ACCEPT", "+5.0 kWh"])
    eq(enter(ui, tok, 5000), ["REJECT 10", "USED TOKEN"])
    eq(enter(ui, credit(999, 50), 10000), ["REJECT 9", "OLD TOKEN"])
    eq(enter(ui, credit(2001, 50, key="wrong"), 15000), ["REJECT 13", "WRONG TOKEN"])
    s = kct(ro=1)
    eq(enter(ui, s[3], 20000), ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"])
    eq(enter(ui, s[4], 25000), ["KEY CHANGED", "ACCEPT"])
    eq(enter(ui, credit(5, 10, key="new"), 30000), ["ACCEPT", "+1.0 kWh"])
    bad = credit(2002, 50)  # the old key now: CRC, a guess
    eq(enter(ui, bad, 40000), ["REJECT 13", "WRONG TOKEN"])
    # The third guess (the first was at 15 s: the tokens between end no run of guesses)
    # locks for 10 s, and says so.
    eq(enter(ui, bad, 41000), ["LOCKED", "WAIT 10s"])
    eq(enter(ui, bad, 42000), ["LOCKED", "WAIT 9s"])
    eq(enter(ui, credit(6, 10, key="new"), 43500), ["LOCKED", "WAIT 8s"])
    eq(enter(ui, credit(6, 10, key="new"), 50000), ["LOCKED", "WAIT 1s"])
    eq(enter(ui, credit(6, 10, key="new"), 51000), ["ACCEPT", "+1.0 kWh"])


def test_every_result_code_has_its_screen():
    seen = {}

    def check(ui, tok, now, code, screen=None, **v):
        r = enter(ui, tok, now)
        eq(ui.meter.last, code, "result code:")
        eq(r, screen or [s[: ui.cols] for s in _result(code, **v)], "code %d:" % code)
        seen[code] = r

    m = new_meter()
    ui = Ui(m)
    # Management and test/display tokens say what they set (texts.ACCEPT_TOKEN).
    check(ui, mgmt(0, 1000, 2000), 0, R.ACCEPT, ["ACCEPT", "LIMIT 1000 W"])
    check(
        ui, encode(1, 0, {"mfr": 0, "control": 512}, None), 5000, R.ACCEPT, ["ACCEPT", "TEST 512"]
    )
    check(ui, "99999999999999999999", 10000, R.FORMAT)  # >= 2**66
    check(ui, mgmt(1, 8, 2001), 15000, R.RANGE)  # clear credit of register 8: none
    check(ui, credit(2002, 10), 20000, R.ACCEPT, ["ACCEPT", "+1.0 kWh"])
    ui = Ui(new_meter())  # (a bought token does not end a run of guesses: another meter)
    check(ui, encode(2, 8, {"nkmo2": 1, "sgclo": 2}, cipher(KEY)), 25000, R.FUNCTION)
    check(ui, encode(1, 0, {"mfr": 5, "control": 1}, None), 30000, R.MFR)
    check(ui, credit(2003, 10), 35000, R.ACCEPT, ["ACCEPT", "+1.0 kWh"])
    check(ui, credit(2003, 10), 40000, R.USED)
    check(ui, credit(999, 10), 45000, R.OLD)
    for i in range(5):
        enter(ui, credit(2010 + i, 18201624), 50000 + 1000 * i)
    check(ui, credit(2020, 18201624), 60000, R.OVERFLOW)
    a, b = kct(krn=3), kct(new="wrong")
    check(ui, a[3], 65000, R.KCT_STAGED, n=1, m=2)
    check(ui, b[3], 70000, R.KCT_MIXED, n=1, m=2)
    check(ui, a[4], 200000, R.KCT_TIMEOUT, n=1, m=2)  # 130 s after the first: window 120
    bad = kct(new="wrong", kt=0)  # (a 4th section of another set beside the held one: mixed again)
    check(ui, bad[4], 205000, R.KCT_MIXED, n=1, m=2)
    check(ui, bad[3], 210000, R.KEY_TYPE)
    ui = Ui(new_meter())  # (two guesses on that one already)
    for i in range(3):  # the third locks, and says so
        lock = ["LOCKED", "WAIT 10s"] if i == 2 else None
        check(ui, credit(2030 + i, 10, key="wrong"), 215000 + 1000 * i, R.CRC, lock)
    # Digits typed while locked show the lock, and reach no meter; one that does says LOCKED.
    seen[R.LOCKED] = enter(ui, credit(2030, 10), 218000)
    eq(seen[R.LOCKED], ["LOCKED", "WAIT 9s"])
    eq(ui.meter.apply(credit(2030, 10)).code, R.LOCKED)
    ui = Ui(new_meter(kt=1))
    check(ui, credit(2000, 10), 0, R.DDTK)
    ui = Ui(new_meter(ken=0))
    check(ui, credit(70000, 10), 0, R.KEY_EXPIRED)  # TID 70000 >> 16 = 1 > KEN 0
    c = credit(2001, 10)
    ui = Ui(new_meter(personalise=False))
    eq(idle(ui, 0), ["NOT PROVISIONED", "MAKE PROVISION"])  # not a fault: no state yet
    check(ui, c, 0, R.STORAGE)
    check(ui, c, 10000, R.STORAGE)  # never locks
    ui = Ui(new_meter())
    s = kct()
    check(ui, s[4], 0, R.KCT_STAGED, n=1, m=2)
    check(ui, s[3], 1000, R.KEY_CHANGED)
    check(ui, s[4], 1500, R.KCT_DONE, ["KEY CHANGE", "DONE ALREADY"])  # typed again: done
    same = kct(old="new", new="new", ro=1)  # the key in use again: RO would wipe the memory
    check(ui, same[3], 2000, R.KCT_STAGED, n=1, m=2)
    check(ui, same[4], 3000, R.SAME_KEY, ["KEY CHANGE", "SAME KEY REFUSED"])
    ui = Ui(new_meter())
    for i, (old, new) in enumerate((("key", "new"), ("new", "wrong"))):  # 1993 -> 2014 -> 2035
        s = kct(old=old, new=new, ro=1)
        enter(ui, s[3], 10000 * i)
        eq(enter(ui, s[4], 10000 * i + 1000), ["KEY CHANGED", "ACCEPT"])
    eq(ui.meter.base_date, 2035)
    s = kct(old="wrong", new="key", ro=1)
    enter(ui, s[3], 30000)
    check(ui, s[4], 31000, R.LAST_BASE, ["KEY CHANGE", "ROLLOVER REFUSED"])
    for code in T.RESULT:
        assert code in seen, "no screen seen for result code %d" % code
    for code in R.NAMES:
        assert code in T.RESULT, "texts.RESULT has no screen for code %d" % code


# -- short codes ---------------------------------------------------------------------------------


def test_short_code_873_shows_edition_and_krn():
    m = new_meter()
    ui = Ui(m)
    eq(enter(ui, "873", 0), ["STS EDITION 1", "KRN 1 BASE 1993"])
    s = kct(krn=2, ro=0)
    enter(ui, s[3], 6000)
    enter(ui, s[4], 7000)
    eq(enter(ui, "873", 12000), ["STS EDITION 1", "KRN 2 BASE 1993"], "RO 0:")
    m = new_meter()
    ui = Ui(m)
    s = kct(krn=2, ro=1)
    enter(ui, s[3], 0)
    eq(enter(ui, s[4], 1000), ["KEY CHANGED", "ACCEPT"])
    eq(enter(ui, "873", 5000), ["STS EDITION 2", "KRN 2 BASE 2014"])
    eq(m.last, R.KEY_CHANGED, "a short code does not reach the meter:")


def test_short_codes_0_to_9():
    m = new_meter()
    ui = Ui(m)
    eq(enter(ui, "2", 0), ["LAST TOKENS", "NONE"])
    eq(enter(ui, "1", 100), ["LAST RESULT", "NONE"])  # no token yet: no number
    tok = credit(2000, 125)
    enter(ui, tok, 1000)
    eq(enter(ui, "0", 5000), ["BALANCE", "12.5 kWh"])
    eq(enter(ui, "1", 6000), ["LAST ACCEPT", "+12.5 kWh"])
    eq(enter(ui, "2", 7000), [tok[:4] + ".." + tok[-4:], "+12.5 kWh"])
    eq(enter(ui, "3", 8000), ["TID MEMORY", "50/50"])  # filled at manufacture
    eq(enter(ui, "4", 9000), ["KRN", "1"])
    eq(enter(ui, "5", 10000), ["KT", "2"])
    eq(enter(ui, "6", 11000), ["SGC", "123456"])
    eq(enter(ui, "7", 12000), ["TI", "01"])
    eq(enter(ui, "8", 13000), ["PAN 600727", "0000 0000 0009"])  # to read out in fours
    eq(enter(ui, "9", 14000), ["EA07", "BASE 1993"])
    enter(ui, tok, 15000)
    eq(enter(ui, "1", 20000), ["LAST REJECT 10", "USED TOKEN"])
    eq(enter(ui, "2", 21000), [tok[:4] + ".." + tok[-4:], "+12.5 kWh"], "USED not listed:")
    s = kct(ro=1)
    enter(ui, s[3], 22000)
    enter(ui, s[4], 23000)
    enter(ui, credit(7, 10, key="new"), 24000)
    eq(enter(ui, "3", 28000), ["TID MEMORY", "1/50"])
    eq(enter(ui, "0", 29000), ["BALANCE", "13.5 kWh"])


def test_short_code_1_shows_the_result_screens_words_and_survives_a_restart():
    # Meter manuals number results 1..15; the meter's own outcomes (256 up) have a name only.
    m = new_meter()
    ui = Ui(m)
    a = kct()
    enter(ui, a[3], 0)
    eq(enter(ui, a[4], 130000), ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"])
    eq(enter(ui, "1", 135000), ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"])
    eq(enter(ui, kct(new="wrong")[4], 140000), ["KEY CHANGE 1/2", "MIXED: RESTART"])
    eq(enter(ui, "1", 145000), ["KEY CHANGE 1/2", "MIXED: RESTART"])
    for tok, now, screen in (
        (credit(2000, 10), 150000, ["ACCEPT", "+1.0 kWh"]),
        (credit(2000, 10), 155000, ["REJECT 10", "USED TOKEN"]),
        (credit(2001, 10, key="wrong"), 160000, ["REJECT 13", "WRONG TOKEN"]),
        (mgmt(0, 1000, 2002), 165000, ["ACCEPT", "LIMIT 1000 W"]),
        (credit(2003, 125, sub=1), 170000, ["ACCEPT", "+12.5 m3"]),
    ):
        eq(enter(ui, tok, now), screen)
        last = ["LAST " + screen[0], screen[1]]
        eq(enter(ui, "1", now + 1000), last)
        m = Meter(RecordStore(m.store.prefix))  # a power cut
        ui = Ui(m)
        eq(enter(ui, "1", now + 2000), last, "after a restart:")


def test_unknown_short_code_does_not_reach_the_meter():
    m = new_meter()
    ui = Ui(m)
    tok = credit(2000, 10)
    enter(ui, tok, 0)
    enter(ui, tok, 5000)
    eq(m.last, R.USED)
    now = 10000
    for code in ("55", "55", "55", "55", "1234", "00"):
        eq(enter(ui, code, now), ["CODE " + code, "UNKNOWN"])
        now += 1000
    eq(m.last, R.USED, "meter.last:")
    eq(m.fails, 0, "lockout count:")
    eq(m.lock_left(), 0)
    eq(m.balance[0], 10)
    eq(enter(ui, "1", now), ["LAST REJECT 10", "USED TOKEN"])


def test_info_screens_time_out_after_5000_ms():
    m = new_meter()
    ui = Ui(m)
    for i, code in enumerate(("873", "0", "8", "55")):
        t = 100000 * i
        first = enter(ui, code, t)
        assert ui.state == U.INFO
        eq(show(ui, t + 4999), first, code)
        eq(idle(ui, t + 5000), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"], code)


# -- the idle screen -----------------------------------------------------------------------------


def test_idle_shows_credit_and_supply():
    m = new_meter()
    ui = Ui(m)
    eq(idle(ui, 0), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    enter(ui, credit(2000, 49), 1000)
    eq(idle(ui, 4000), ["CREDIT 4.9 kWh", "LOW CREDIT"])
    enter(ui, credit(2001, 1), 5000)
    eq(idle(ui, 8000), ["CREDIT 5.0 kWh", "SUPPLY ON"])
    enter(ui, credit(2002, 75), 9000)
    eq(idle(ui, 12000), ["CREDIT 12.5 kWh", "SUPPLY ON"])
    m.consume(76)
    eq(idle(ui, 13000), ["CREDIT 4.9 kWh", "LOW CREDIT"])
    m.consume(48)
    eq(idle(ui, 14000), ["CREDIT 0.1 kWh", "LOW CREDIT"])
    m.consume(5)
    eq(idle(ui, 15000), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])


def test_idle_overload_when_tripped():
    m = new_meter()
    ui = Ui(m)
    enter(ui, credit(2000, 125), 0)
    enter(ui, mgmt(0, 1000, 2001), 1000)
    eq(m.max_power, 1000)
    m.load(1000, 5000)  # at the limit: fine
    eq(idle(ui, 5000), ["CREDIT 12.5 kWh", "SUPPLY ON"])
    m.load(1001, 6000)
    eq(idle(ui, 6000), ["CREDIT 12.5 kWh", "OVERLOAD: OFF"])
    assert not m.relay_closed()
    m.load(500, 6000 + TRIP_SECONDS * 1000)
    eq(idle(ui, 7000), ["CREDIT 12.5 kWh", "SUPPLY ON"])


def test_idle_key_change_held():
    m = new_meter()
    ui = Ui(m)
    enter(ui, credit(2000, 125), 0)
    s = kct()
    eq(enter(ui, s[3], 5000), ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"])
    eq(idle(ui, 8000), ["CREDIT 12.5 kWh", "KEY CHG 1/2 117s"])  # and its window's time left
    eq(idle(ui, 100000), ["CREDIT 12.5 kWh", "KEY CHG 1/2 25s"])
    enter(ui, s[4], 101000)
    eq(idle(ui, 104000), ["CREDIT 12.5 kWh", "SUPPLY ON"])


def test_the_guess_that_locks_says_so_and_the_home_screen_keeps_the_supply_in_sight():
    m = new_meter()
    ui = Ui(m)
    for i in range(2):
        eq(
            enter(ui, credit(2000 + i, 10, key="wrong"), 100000 + 1000 * i),
            ["REJECT 13", "WRONG TOKEN"],
        )
    eq(enter(ui, credit(2002, 10, key="wrong"), 102000), ["LOCKED", "WAIT 10s"])  # at once
    eq(m.lock_left(), 10)
    eq(idle(ui, 105000), ["CREDIT 0.0 kWh", "OFF LOCKED 7s"])
    eq(idle(ui, 108000), ["CREDIT 0.0 kWh", "OFF LOCKED 4s"])
    eq(idle(ui, 111999), ["CREDIT 0.0 kWh", "OFF LOCKED 1s"])
    eq(idle(ui, 112000), ["CREDIT 0.0 kWh", "NO CREDIT: OFF"])
    m.balance[0] = 125  # (credit bought earlier)
    enter(ui, credit(2003, 10, key="wrong"), 113000)
    eq(idle(ui, 117000), ["CREDIT 12.5 kWh", "ON LOCKED 16s"])


def test_keys_pressed_while_locked_do_not_open_token_entry():
    m = new_meter()
    ui = Ui(m)
    for i in range(3):
        enter(ui, credit(2000 + i, 10, key="wrong"), 1000 * i)
    press(ui, "12", 5000)
    eq(show(ui, 5000), ["LOCKED", "WAIT 7s"])
    assert ui.state == U.RESULT and not ui.digits, (ui.state, ui.digits)
    press(ui, "#", 5500)  # nothing to enter
    eq(m.last, R.CRC)
    press(ui, "1234", 12000)  # the lock is over: entry as usual
    eq(show(ui, 12000), ["TOKEN:", "1234"])


# -- frames and flow -----------------------------------------------------------------------------


def test_frames_always_cols_wide_and_rows_long():
    for rows, cols in ((2, 16), (4, 20), (1, 8), (2, 40)):
        m = new_meter()
        ui = Ui(m, rows=rows, cols=cols)
        now = 0
        seq = (
            "",
            "1",
            "12345",
            "1234567890123",
            "12345678901234567890",
            "*",
            "C",
            "873#",
            "8#",
            "2#",
            "55#",
            credit(2000, 18201624) + "#",
            mgmt(0, 100, 2001) + "#",
            "2#",
            "9#",
            kct()[3] + "#",
        )
        for keys in seq:
            press(ui, keys, now)
            for dt in (0, 2999, 3000, 4999, 5000, 20000):
                frames_fit(ui, ui.frame(now + dt))
            now += 30000
        m.load(5000, now)
        frames_fit(ui, ui.frame(now))


def _whole(ui, now, what):
    """Every line of the screen at `now` (a pass of the loop) fits the display uncut."""
    ui.meter.tick(now)
    lines = ui.lines(now)
    assert len(lines) <= ui.rows, "%s: %r" % (what, lines)
    for s in lines:
        assert len(s) <= ui.cols, "%s: %r is cut at %d columns" % (what, s, ui.cols)
    return lines


def test_every_screen_fits_16x2_whole_for_every_value():
    # For each token, the values 0, 1000 and the largest it can carry; every refusal and
    # outcome; the idle screen at the largest balance and the longest lock; every short code.
    m = new_meter()
    ui = Ui(m)
    now = 0
    tid = [2000]
    seen = []

    def typed(digits, what):
        nonlocal now
        now += 10000
        enter(ui, digits, now)
        seen.append(_whole(ui, now, what))
        return seen[-1]

    def fresh():
        tid[0] += 1
        return tid[0]

    for sub in range(4):
        for tenths in (0, 1000, 18201624):
            typed(credit(fresh(), tenths, sub), "credit %d/%d" % (sub, tenths))
            m.balance = [0, 0, 0, 0]
    for sub in (0, 1, 2, 5, 6, 7):
        for raw in (0, 3, 65535) if sub == 1 else (0, 1000, 65535):
            typed(mgmt(sub, raw, fresh()), "management %d/%d" % (sub, raw))
    eq(seen[-1], ["ACCEPT", "WATER FAC 65535"], "water factor 65535:")
    for sub, top in ((0, (1 << 36) - 1), (1, (1 << 28) - 1)):
        for control in (0, 1000, top):
            typed(encode(1, sub, {"mfr": 0, "control": control}, None), "test %d" % control)
    for _ in range(5):  # the largest balance a register holds, and more refused
        enter(ui, credit(fresh(), 18201624), now)
    typed(credit(fresh(), 8991624), "balance near the cap")
    typed(credit(fresh(), 255), "balance at the cap")
    typed(credit(fresh(), 1), "overflow")
    eq(m.balance[0], 99999999)
    now += 5000
    eq(_whole(ui, now, "idle at the cap"), ["9999999.9 kWh", "SUPPLY ON"])
    for code in T.CODES:
        typed(code, "short code " + code)
    typed("9999", "unknown short code")
    a = kct(krn=3)
    typed(a[3], "key change 1/2")
    now += 5000
    eq(_whole(ui, now, "idle, section held"), ["9999999.9 kWh", "KEY CHG 1/2 115s"])
    now += 200000  # past the window: the home screen no longer says a section is held
    eq(_whole(ui, now, "idle, window passed"), ["9999999.9 kWh", "SUPPLY ON"])
    typed(a[4], "timed out")
    typed(kct(new="wrong")[3], "mixed")
    typed(credit(fresh(), 10, key="wrong"), "CRC")
    for _ in range(20):  # to the longest lock (the count drains one an hour meanwhile)
        now += 1300000
        typed(credit(fresh(), 10, key="wrong"), "guess")
    eq(m.lock_left(), 1280)
    eq(_whole(ui, now + 4000, "idle, locked"), ["9999999.9 kWh", "ON LOCKED 1276s"])
    assert len(seen) > 60


def test_key_after_a_result_returns_to_entry():
    m = new_meter()
    ui = Ui(m)
    eq(enter(ui, credit(2000, 125), 0), ["ACCEPT", "+12.5 kWh"])
    ui.key("4", 100)
    assert ui.state == U.ENTRY
    eq(show(ui, 100), ["TOKEN:", "4"])
    ui.key("C", 200)
    eq(enter(ui, "0", 300), ["BALANCE", "12.5 kWh"])
    ui.key("7", 400)  # after an info screen too
    eq(show(ui, 400), ["TOKEN:", "7"])
    ui.key("C", 500)
    enter(ui, "55", 600)
    ui.key("*", 700)  # back on a result or info screen: to idle
    eq(idle(ui, 700), ["CREDIT 12.5 kWh", "SUPPLY ON"])


class _Texts:
    pass


def test_texts_table_can_be_swapped():
    nl = _Texts()
    for name in dir(T):
        if name[0] != "_":
            setattr(nl, name, getattr(T, name))
    nl.RESULT = dict(T.RESULT)
    nl.RESULT[10] = ("WEIGERING 10", "AL GEBRUIKT")
    nl.RESULT[2] = ("SLEUTEL {n} VAN {m}", "VOLGENDE CODE")
    nl.ACCEPT_CREDIT = ("GOED", "+{amount} {unit}")
    nl.IDLE_TITLE = "TEGOED"
    nl.SUPPLY_ON = "STROOM AAN"
    nl.ENTER = "CODE:"
    nl.UNKNOWN_CODE = ("CODE {code}", "ONBEKEND")
    nl.KCT_HELD = "SLEUTEL {n}/{m} {seconds}s"
    m = new_meter()
    ui = Ui(m, texts=nl)
    press(ui, "12", 0)
    eq(show(ui, 0), ["CODE:", "12"])
    ui.key("C", 10)
    tok = credit(2000, 125)
    eq(enter(ui, tok, 100), ["GOED", "+12.5 kWh"])
    eq(enter(ui, tok, 5000), ["WEIGERING 10", "AL GEBRUIKT"])
    eq(idle(ui, 8000), ["TEGOED 12.5 kWh", "STROOM AAN"])
    eq(enter(ui, kct()[3], 9000), ["SLEUTEL 1 VAN 2", "VOLGENDE CODE"])
    eq(idle(ui, 12000), ["TEGOED 12.5 kWh", "SLEUTEL 1/2 117s"])
    eq(enter(ui, "55", 13000), ["CODE 55", "ONBEKEND"])
    eq(T.RESULT[10], ("REJECT 10", "USED TOKEN"), "the default table is untouched:")
    ui = Ui(m)  # the default table still the default
    eq(enter(ui, tok, 20000), ["REJECT 10", "USED TOKEN"])


def test_a_result_text_can_show_the_balance():
    """texts.py offers {balance} to every result text: a table that uses it renders."""
    t = _Texts()
    for name in dir(T):
        if name[0] != "_":
            setattr(t, name, getattr(T, name))
    t.ACCEPT_CREDIT = ("+{amount} {unit}", "NOW {balance}")
    t.RESULT = dict(T.RESULT)
    t.RESULT[R.USED] = ("USED TOKEN", "STILL {balance}")
    t.RESULT[R.ACCEPT] = ("ACCEPT {balance}", "{what}")
    m = new_meter()
    ui = Ui(m, texts=t)
    tok = credit(2000, 125)
    eq(enter(ui, tok, 0), ["+12.5 kWh", "NOW 12.5"])
    eq(enter(ui, credit(2001, 10), 5000), ["+1.0 kWh", "NOW 13.5"])
    eq(enter(ui, tok, 10000), ["USED TOKEN", "STILL 13.5"])
    eq(enter(ui, mgmt(5, 0, 2002), 15000), ["ACCEPT 13.5", "TAMPER CLEARED"])


def test_a_result_text_follows_its_kind_not_the_kinds_words():
    """Renaming a kind (sts/kinds.py WHAT) keeps its screen: texts are keyed by the kind."""
    words = K.WHAT[0x20]  # set max power limit
    K.WHAT[0x20] = "power cap"
    try:
        ui = Ui(new_meter())
        eq(enter(ui, mgmt(0, 0x416A, 2000), 0), ["ACCEPT", "LIMIT 20004 W"])
        eq(enter(ui, mgmt(0, 0, 2001), 5000), ["ACCEPT", "NO POWER LIMIT"])
    finally:
        K.WHAT[0x20] = words
