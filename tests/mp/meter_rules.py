# meter_rules.py  the meter's rules, one test_* function per rule; runs unchanged in the
# micropython unix binary and in CPython, through tests/mp/mptest.py.
#
# The tests type token sequences with play(m, script), one token a line:
#   [@SECONDS] TOKEN [k=KEY] -> RESULT [field=value ...]      # comment
# @SECONDS sets the clock to T0 + SECONDS (it stays there for the lines after; the meter is
# given milliseconds, ms(T0 + SECONDS)). TOKEN:
#   c TID TENTHS [SUB]   class 0 credit (SUB: 0 electricity, 1 water, 2 gas, 3 time)
#   m SUB REGISTER TID   class 2 register token (0 max power, 1 clear credit, 2 tariff,
#                        5 clear tamper, 6 phase unbalance, 7 water factor)
#   d MFR CONTROL [SUB]  class 1 test/display token (in the clear)
#   s NAME+SUB           key change section SUB (3, 4, 8, 9) of the set `sets[NAME]`
#   g                    a guess: a credit token under another meter's key (CRC here)
#   x DIGITS             the typed characters themselves
# Encrypted tokens use play's `key`, or k=NAME (a name in KEYS) for that line. RESULT is a
# name in meter.results; field=value checks the Result's attribute (an int, or None).
import gc
from array import array
from binascii import unhexlify

from demo_meter import KEY, PAN, profile

from meter import results as R
from meter.meter import _HEAD2, DRAIN_MS, LOCK_MAX, MAX_BALANCE, TRIP_SECONDS, Meter
from meter.store import FORMAT, RecordStore
from scratch import FailingStore, cipher, fresh_dir
from scratch import fixture as scratch_fixture
from sts import amount, digits, vending
from sts.blocks import encode

MKEY = unhexlify("f94b6ed353c3bfdb113e2d3a7ea3c41d")  # the MISTY1 meter's decoder key
KEYS = {
    "key": KEY,
    "new": unhexlify("0123456789abcdef"),
    "other": unhexlify("8877665544332211"),
    "wrong": unhexlify("0011223344556677"),
    "mkey": MKEY,
    "newm": unhexlify("00112233445566778899aabbccddeeff"),
}
PAN7 = "600727070000000051"  # manufacturer code 07: IIN 600727, IAIN 07 000000005
MTID = 1000  # manufacture TID
# A time on the meter's clock, in seconds. Every reading the tests give stays a ticks_ms value
# a 32-bit board can hold (its ticks wrap at 2**30 ms, and ticks_diff spans +-6.2 days).
T0 = 100000
_guess = []


def ms(seconds):
    """The meter's clock reading (ms) at a time given in seconds."""
    return seconds * 1000


PROFILE = profile()  # the demo meter: KEY (its decoder key) and PAN (manufacturer code 00)


def new_meter(
    ea="sta", kt=2, ken=255, tid_capacity=50, kct_window=120, pan=PAN, mtid=MTID, store=RecordStore
):
    gc.collect()
    m = Meter(
        store(fresh_dir("meter_rules") + "/state"),
        tid_capacity=tid_capacity,
        kct_window=kct_window,
    )
    m.personalise(
        dict(PROFILE, pan=pan, kt=kt, ken=ken, ea=ea, decoder_key=KEY if ea == "sta" else MKEY),
        mtid,
    )
    return m


def reboot(m, tid_capacity=None):
    """A new Meter on the same store, as after a power cut."""
    gc.collect()
    return Meter(
        RecordStore(m.store.prefix),
        kct_window=m.kct.window,
        tid_capacity=tid_capacity or m.tids.capacity,
    )


def kct(old, new, kt=2, krn=2, ken=255, ti=7, ro=0, sgc=123456):
    """The key change sections, by subclass, moving a meter from key `old` to key `new`
    (names in KEYS)."""
    c = cipher(KEYS[old])
    return {
        sub: encode(2, sub, f, c)
        for sub, f in vending.sections(KEYS[new], kt, krn, ken, ti, ro, sgc)
    }


def token(words, key, sets):
    """The digits a script line's TOKEN words describe."""
    w = []
    for x in words:
        if x[:2] == "k=":
            key = KEYS[x[2:]]
        else:
            w.append(x)
    op = w[0]
    if op == "x":
        return w[1]
    if op == "s":
        return sets[w[1][:-1]][int(w[1][-1])]
    if op == "g":
        if not _guess:
            _guess.append(token(["c", "5000", "100"], KEYS["wrong"], None))
        return _guess[0]
    a = [int(v) for v in w[1:]]
    if op == "d":
        return encode(1, a[2] if len(a) > 2 else 0, {"mfr": a[0], "control": a[1]}, None)
    if op == "m":
        return encode(2, a[0], {"register": a[1], "tid": a[2], "rnd": 3}, cipher(key))
    raw = amount.encode(a[1])
    assert amount.decode(raw) == a[1], "not an exact amount: %d" % a[1]
    return encode(
        0, a[2] if len(a) > 2 else 0, {"amount": raw, "tid": a[0], "rnd": 5}, cipher(key)
    )


def play(m, script, key=KEY, sets=None, now=T0):
    """Type each line's token into m, check each result; returns the last Result."""
    r = None
    for line in script.split("\n"):
        line = line.split("#")[0].strip()
        if not line:
            continue
        left, right = line.split("->")
        words = left.split()
        if words[0][0] == "@":
            now = T0 + int(words.pop(0)[1:])
        r = m.apply(token(words, key, sets), ms(now))
        want = right.split()
        assert r.code == getattr(R, want[0]), "%s: got %r" % (line, r)
        for check in want[1:]:
            name, v = check.split("=")
            v = None if v == "None" else int(v)
            assert getattr(r, name) == v, "%s: got %r" % (line, r)
        gc.collect()
    return r


def record(m):
    """A copy of the state record m would write now, but for the last result's code (what
    the short code shows, written with every result that changes it)."""
    p = bytearray(m._pack())
    p[_HEAD2 + 4 : _HEAD2 + 11] = bytes(7)
    return bytes(p)


def tids_of(m):
    return list(m.tids.tids[: m.tids.count])


def essentials(m):
    return (
        list(m.balance),
        tids_of(m),
        m.key,
        m.kt,
        m.krn,
        m.ken,
        m.ti,
        m.sgc,
        m.base_date,
        m.kct.held,
        m.max_power,
        m.tariff,
    )


def _overwrite(path, data):
    with open(path, "wb") as f:
        f.write(data)


# -- credit and the TID memory -------------------------------------------------------------


def test_credit_adds_to_its_commodity_register():
    m = new_meter()
    play(
        m,
        """
    c 2000 100 0 -> ACCEPT amount=100 balance=100
    c 2001 200 1 -> ACCEPT amount=200 balance=200
    c 2002 300 2 -> ACCEPT amount=300 balance=300
    c 2003 400 3 -> ACCEPT amount=400 balance=400
    c 2004 55 1  -> ACCEPT amount=55 balance=255
    c 2005 18201624 3 -> ACCEPT amount=18201624   # the largest amount a token carries
    """,
    )
    assert m.balance == [100, 255, 300, 18201624 + 400]
    assert m.status()["balance"] == 100 and m.status()["balances"] == m.balance


def test_same_tid_twice_is_used():
    m = new_meter()
    play(
        m,
        """
    c 2000 100 -> ACCEPT
    c 2000 100 -> USED
    c 2000 70 2 -> USED      # another register, another amount, the same TID
    m 2 42 2000 -> USED      # a register token too
    """,
    )
    assert m.balance == [100, 0, 0, 0] and m.tariff == 0


def test_tid_below_oldest_with_memory_full_is_old():
    m = new_meter(tid_capacity=5)
    play(
        m,
        """
    c 2001 1 -> ACCEPT
    c 2002 1 -> ACCEPT
    c 2003 1 -> ACCEPT
    c 2004 1 -> ACCEPT
    c 2005 1 -> ACCEPT
    c 2000 1 -> OLD          # never seen, but below the oldest remembered
    m 2 9 1999 -> OLD        # register tokens too
    c 2006 1 -> ACCEPT
    c 2001 1 -> OLD          # forgotten: OLD, not USED
    """,
    )
    assert tids_of(m) == [2002, 2003, 2004, 2005, 2006] and m.balance[0] == 6


def test_tid_below_oldest_with_memory_not_full_is_accepted():
    m = new_meter(tid_capacity=5)
    play(
        m,
        """
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED     # RO set: the TID memory is emptied
    c 5000 1 -> ACCEPT
    c 10 1 -> ACCEPT        # below the oldest, memory not full
    c 9 1 -> ACCEPT
    """,
        KEYS["new"],
        {"a": kct("key", "new", ro=1)},
    )
    assert tids_of(m) == [9, 10, 5000]
    m = reboot(m, tid_capacity=8)  # a larger memory: not full either
    assert m.tids.count == 3 and m.tids.capacity == 8
    play(m, "c 1 1 k=new -> ACCEPT")


def test_manufacture_fill_makes_older_tokens_old():
    m = new_meter(tid_capacity=5)
    assert tids_of(m) == [MTID] * 5 and m.status()["tids_used"] == 5
    play(
        m,
        """
    c 999 10 -> OLD
    c 0 10 -> OLD
    m 0 500 999 -> OLD
    c 1000 10 -> USED      # the manufacture TID itself
    c 1001 10 -> ACCEPT
    """,
    )
    assert m.balance[0] == 10


def test_memory_keeps_the_largest_tids_when_full():
    m = new_meter(tid_capacity=5, mtid=100)
    play(
        m,
        """
    c 200 1 -> ACCEPT
    c 150 1 -> ACCEPT
    c 300 1 -> ACCEPT
    c 250 1 -> ACCEPT
    c 120 1 -> ACCEPT
    c 400 1 -> ACCEPT
    """,
    )
    assert tids_of(m) == [150, 200, 250, 300, 400]
    play(
        m,
        """
    c 120 1 -> OLD          # accepted once, then forgotten
    c 150 1 -> USED
    c 400 1 -> USED
    c 175 1 -> ACCEPT       # between: the smallest (150) is forgotten
    c 150 1 -> OLD
    m 2 9 500 -> ACCEPT     # register tokens share the memory
    """,
    )
    assert tids_of(m) == [200, 250, 300, 400, 500] and m.balance[0] == 7


def test_tid_capacity_configurable():
    m = new_meter()
    assert m.status()["tids_capacity"] == 50 and m.status()["tids_used"] == 50
    m = new_meter(tid_capacity=3)
    assert m.status()["tids_capacity"] == 3 and m.status()["tids_used"] == 3
    play(
        m,
        """
    c 2000 1 -> ACCEPT
    c 2001 1 -> ACCEPT
    c 2002 1 -> ACCEPT
    c 2003 1 -> ACCEPT   # the 4th: 2000 is forgotten
    c 2000 1 -> OLD
    c 2001 1 -> USED
    """,
    )
    m = reboot(m, tid_capacity=2)  # a smaller memory keeps the newest TIDs
    assert tids_of(m) == [2002, 2003] and m.status()["tids_capacity"] == 2
    play(m, "c 2001 1 -> OLD")


# -- key expiry and key types --------------------------------------------------------------


def test_ken_edges():
    m = new_meter(ken=5)
    play(
        m,
        """
    c 393215 10 -> ACCEPT          # tid >> 16 == 5 == KEN (0x5FFFF)
    c 327680 10 -> ACCEPT          # 5 << 16
    c 393216 10 -> KEY_EXPIRED     # 6 << 16
    c 393217 10 1 -> KEY_EXPIRED
    c 16711680 10 -> KEY_EXPIRED   # 255 << 16
    """,
    )
    assert m.balance == [20, 0, 0, 0]
    play(
        new_meter(ken=255),
        """
    c 16711680 10 -> ACCEPT        # KEN 255: the key never expires
    c 16777215 10 -> ACCEPT
    """,
    )
    play(
        new_meter(ken=0),
        """
    c 65535 10 -> ACCEPT
    c 65536 10 -> KEY_EXPIRED
    """,
    )


def test_expired_key_still_accepts_a_key_change():
    m = new_meter(ken=5)
    play(
        m,
        """
    c 393216 10 -> KEY_EXPIRED
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED
    c 393216 10 k=new -> ACCEPT
    """,
        sets={"a": kct("key", "new", ken=255)},
    )
    assert m.ken == 255 and m.balance[0] == 10


def test_credit_refused_under_ddtk_and_dith():
    for kt in (0, 1):
        m = new_meter(kt=kt)
        play(
            m,
            """
        c 2000 10 -> DDTK
        c 2001 10 3 -> DDTK
        m 0 3000 2002 -> ACCEPT    # management tokens still work
        m 2 77 2003 -> ACCEPT
        d 0 5 -> ACCEPT
        s a3 -> KCT_STAGED         # and key changes
        s a4 -> KEY_CHANGED
        c 2000 10 k=new -> ACCEPT  # the refused TID was not remembered
        """,
            sets={"a": kct("key", "new", kt=2)},
        )
        assert m.max_power == 3000 and m.tariff == 77 and m.kt == 2
        assert m.balance == [10, 0, 0, 0]
    m = new_meter()
    play(
        m,
        """
    s a4 -> KCT_STAGED
    s a3 -> KEY_CHANGED            # to a default key (kt 1): allowed
    c 2000 10 k=new -> DDTK
    s b3 -> KCT_STAGED
    s b4 -> KEY_CHANGED            # to a common key (kt 3)
    c 2000 10 k=other -> ACCEPT
    """,
        sets={"a": kct("key", "new", kt=1), "b": kct("new", "other", kt=3)},
    )
    assert m.kt == 3


def test_key_change_to_key_type_0_refused():
    m = new_meter()
    play(
        m,
        """
    s a3 -> KCT_STAGED
    s a4 -> KEY_TYPE
    c 2000 10 -> ACCEPT      # the old key stays in use
    s a4 -> KCT_STAGED       # in the other order too
    s a3 -> KEY_TYPE
    """,
        sets={"a": kct("key", "new", kt=0, krn=3)},
    )
    assert m.key == KEY and m.kt == 2 and m.krn == 1 and m.status()["kct_held"] == 0


def test_key_type_refusal_persists_the_dropped_sections():
    # A KEY_TYPE refusal drops the held sections; the store must say so too, else a power
    # cut brings back a section of the refused set, which then spoils the next, good set.
    sets = {"a": kct("key", "new", kt=0), "b": kct("key", "other", kt=2)}
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED\n @10 s a4 -> KEY_TYPE", sets=sets)
    assert m.status()["kct_held"] == 0
    m2 = reboot(m)
    held = m2.status()["kct_held"]
    r = m2.apply(sets["b"][4], ms(T0 + 20))  # a good set, typed after the power cut
    assert r.code == R.KCT_STAGED, (
        "after a reboot %d section(s) held; a good set's 2nd section then gives %r" % (held, r)
    )
    play(m2, "@30 s b3 -> KEY_CHANGED", sets=sets)
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED\n @10 s a4 -> KEY_TYPE", sets=sets)
    assert record(reboot(m)) == record(m)


# -- overflow, consumption, the relay ---------------------------------------------------------


def test_overflow_refused_and_tid_not_remembered():
    m = new_meter()
    play(
        m,
        """
    c 2000 18201624 -> ACCEPT
    c 2001 18201624 -> ACCEPT
    c 2002 18201624 -> ACCEPT
    c 2003 18201624 -> ACCEPT
    c 2004 18201624 -> ACCEPT
    c 2005 8991624 -> ACCEPT balance=99999744
    """,
    )
    assert m.balance[0] == MAX_BALANCE - 255
    before = record(m)
    play(
        m,
        """
    c 2011 256 -> OVERFLOW
    c 2011 256 -> OVERFLOW      # again OVERFLOW, not USED: the TID was not remembered
    """,
    )
    assert record(m) == before and 2011 not in tids_of(m)
    play(
        m,
        """
    c 2012 255 -> ACCEPT balance=99999999     # exactly the limit
    c 2013 1 -> OVERFLOW
    c 2014 1 1 -> ACCEPT        # each register has its own limit
    """,
    )
    m.consume(1000)
    play(
        m,
        """
    c 2011 256 -> ACCEPT balance=99999255     # the refused token stays valid
    c 2011 256 -> USED
    """,
    )


def test_consumption_drains_and_stops_at_zero():
    m = new_meter()
    assert not m.relay_closed() and m.status()["relay"] is False  # no credit: open
    play(m, "c 2000 100 -> ACCEPT\n c 2001 50 1 -> ACCEPT")
    assert m.relay_closed()
    assert m.consume(30) == 70 and m.balance == [70, 50, 0, 0]
    assert m.consume(69) == 1 and m.relay_closed()
    assert m.consume(100) == 0 and m.balance == [0, 50, 0, 0]  # stops at zero
    assert not m.relay_closed() and m.status()["relay"] is False
    assert m.consume(5) == 0
    assert m.consume(20, 1) == 30 and m.balance == [0, 30, 0, 0]
    play(m, "c 2002 10 -> ACCEPT")  # credit returns: the relay closes
    assert m.relay_closed() and m.status()["relay"] is True
    assert reboot(m).balance == [10, 30, 0, 0]


def test_max_power_limit_trips_and_closes():
    m = new_meter()
    play(m, "c 2000 100 -> ACCEPT")
    assert m.load(60000, ms(T0)) and m.relay_closed()  # no limit (0)
    play(m, "m 0 1000 2001 -> ACCEPT register=1000")
    assert m.max_power == 1000 and m.status()["max_power"] == 1000
    assert m.load(1000, ms(T0)) and m.relay_closed()  # at the limit: closed
    assert not m.load(1001, ms(T0))  # above: trips
    assert not m.relay_closed() and m.status()["tripped"] is True
    assert m.status()["relay"] is False
    assert reboot(m).status()["tripped"] is True
    # Open for TRIP_SECONDS whatever is reported (an open relay measures nothing) ...
    assert not m.load(0, ms(T0 + TRIP_SECONDS - 1)) and not m.relay_closed()
    assert not reboot(m).load(0, ms(T0 + TRIP_SECONDS - 1)), "the trip survives a reboot"
    # ... then it closes and measures again: still too much trips it again at once.
    assert not m.load(1001, ms(T0 + TRIP_SECONDS))
    assert m.load(999, ms(T0 + 2 * TRIP_SECONDS)) and m.relay_closed()
    assert m.status()["tripped"] is False
    play(m, "m 0 0 2002 -> ACCEPT")  # 0: no limit again
    assert m.load(65535, ms(T0 + 3 * TRIP_SECONDS)) and m.relay_closed()


def test_an_overload_writes_the_store_once_not_every_report():
    m = new_meter()
    play(m, "c 2000 100 -> ACCEPT\n m 0 1000 2001 -> ACCEPT")
    seq = m.store.seq
    for t in range(TRIP_SECONDS):
        m.load(2000, ms(T0 + t))
    assert m.store.seq == seq + 1


def test_clear_credit_register():
    m = new_meter()
    fill = "c %d 10 0 -> ACCEPT\nc %d 20 1 -> ACCEPT\nc %d 30 2 -> ACCEPT\nc %d 40 3 -> ACCEPT"
    play(m, fill % (2000, 2001, 2002, 2003))
    play(m, "m 1 65535 2004 -> ACCEPT")
    assert m.balance == [0, 0, 0, 0]
    for reg in range(4):
        t = 2010 + 10 * reg
        play(m, fill % (t, t + 1, t + 2, t + 3))
        want = list(m.balance)
        want[reg] = 0
        play(m, "m 1 %d %d -> ACCEPT" % (reg, t + 4))
        assert m.balance == want, "clear %d: %r" % (reg, m.balance)
    before = list(m.balance)
    play(
        m,
        """
    m 1 4 2099 -> ACCEPT     # a currency register (4..7): this meter has none to clear
    m 1 8 2100 -> RANGE
    m 1 8 2100 -> RANGE      # not remembered
    m 1 65534 2101 -> RANGE
    """,
    )
    assert m.balance == before


def test_tariff_unbalance_water_factor_registers_stored():
    m = new_meter()
    play(
        m,
        """
    m 2 1234 2000 -> ACCEPT
    m 6 4321 2001 -> ACCEPT
    m 7 65535 2002 -> ACCEPT
    """,
    )
    assert m.tariff == 1234 and m.unbalance == 4321 and m.water_factor == 65535
    m = reboot(m)
    assert m.tariff == 1234 and m.unbalance == 4321 and m.water_factor == 65535
    play(m, "m 2 0 2003 -> ACCEPT")
    assert m.tariff == 0 and m.unbalance == 4321


def test_clear_tamper():
    m = new_meter()
    m.tamper = 1
    assert m.status()["tamper"] is True
    play(m, "m 5 0 2000 -> ACCEPT")
    assert m.tamper == 0 and m.status()["tamper"] is False and reboot(m).tamper == 0


# -- test/display tokens ---------------------------------------------------------------------


def test_test_display_accepted_with_control_never_remembered():
    m = new_meter()
    before = tids_of(m)
    play(
        m,
        """
    d 0 4886718345 -> ACCEPT control=4886718345
    d 0 4886718345 -> ACCEPT control=4886718345    # again: no TID, nothing remembered
    d 0 268435455 1 -> ACCEPT control=268435455
    d 0 0 -> ACCEPT control=0
    """,
    )
    assert tids_of(m) == before and m.status()["tids_used"] == len(before)
    assert m.balance == [0, 0, 0, 0]


def test_foreign_manufacturer_code_refused():
    # The manufacturer code is in the PAN: 600727 07 000000005 1 is manufacturer 07.
    m = new_meter(pan=PAN7)
    assert m.mfr() == 7
    play(
        m,
        """
    d 9 1 -> MFR
    d 9 1 1 -> MFR
    d 7 1 -> ACCEPT        # the meter's own code, in either subclass
    d 7 1 1 -> ACCEPT
    d 0 1 -> ACCEPT        # manufacturer 0: any meter
    d 0 1 1 -> ACCEPT
    """,
    )
    play(reboot(m), "d 7 1 -> ACCEPT\n d 9 1 -> MFR")  # the code comes back with the PAN
    play(new_meter(), "d 9 1 -> MFR\n d 0 1 -> ACCEPT\n d 7 1 -> MFR")
    assert new_meter(pan="600727120000000005").mfr() == 12
    assert new_meter(pan="123412345678901234").mfr() == 1234  # a 4-digit IIN: 13-digit IAIN


# -- key change --------------------------------------------------------------------------------


def test_sta_key_change_in_either_order():
    sets = {"a": kct("key", "new", kt=3, krn=4, ken=200, ti=42)}
    for first, second in (("a3", "a4"), ("a4", "a3")):
        m = new_meter()
        play(m, "s %s -> KCT_STAGED n=1 m=2" % first, sets=sets)
        st = m.status()
        assert st["kct_held"] == 1 and st["kct_of"] == 2 and m.key == KEY
        play(m, "s %s -> KEY_CHANGED n=2 m=2" % second, sets=sets)
        assert m.key == KEYS["new"]
        st = m.status()
        assert st["kt"] == 3 and st["krn"] == 4 and st["ken"] == 200 and st["ti"] == "42"
        assert st["kct_held"] == 0 and st["sgc"] == "123456" and st["base_date"] == 1993


def test_key_change_old_key_refused_new_key_accepted():
    m = new_meter()
    play(
        m,
        """
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED
    c 2000 10 k=key -> CRC      # under the old key
    c 2000 10 k=new -> ACCEPT
    """,
        sets={"a": kct("key", "new")},
    )
    assert m.balance[0] == 10


def test_key_change_set_typed_again_refused():
    m = new_meter()
    play(
        m,
        """
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED
    s a3 -> KCT_DONE       # recognised as typed, not decrypted: the key stays
    s a4 -> KCT_DONE
    s b4 -> KCT_STAGED     # a set under the new key moves on again
    s b3 -> KEY_CHANGED
    s a4 -> CRC            # the set before that one is forgotten: no longer a key change
    """,
        sets={"a": kct("key", "new", krn=5), "b": kct("new", "other", krn=6)},
    )
    assert m.key == KEYS["other"] and m.krn == 6


def test_section_typed_again_while_pending_keeps_n_1():
    m = new_meter()
    play(
        m,
        """
    @0 s a3 -> KCT_STAGED n=1 m=2
    @10 s a3 -> KCT_STAGED n=1 m=2
    @20 s a4 -> KEY_CHANGED n=2 m=2
    """,
        sets={"a": kct("key", "new")},
    )
    assert m.key == KEYS["new"]


def test_two_different_first_sections_are_mixed_and_restart():
    sets = {"a": kct("key", "new"), "b": kct("key", "other", krn=3)}
    m = new_meter()
    play(
        m,
        """
    s a3 -> KCT_STAGED n=1
    s b3 -> KCT_MIXED n=1 m=2
    s b4 -> KEY_CHANGED n=2     # b's set, restarted, completes
    """,
        sets=sets,
    )
    assert m.key == KEYS["other"] and m.krn == 3
    m = new_meter()
    play(m, "s a4 -> KCT_STAGED\n s b4 -> KCT_MIXED n=1\n s b3 -> KEY_CHANGED", sets=sets)
    assert m.key == KEYS["other"]


def test_second_section_after_window_times_out():
    sets = {"a": kct("key", "new")}
    m = new_meter(kct_window=120)
    play(
        m,
        """
    @0 s a3 -> KCT_STAGED
    @121 s a4 -> KCT_TIMEOUT n=1 m=2     # dropped; the late section starts a new set
    """,
        sets=sets,
    )
    assert m.key == KEY and m.status()["kct_held"] == 1
    play(m, "@241 s a3 -> KEY_CHANGED", sets=sets)  # within the new set's window
    m = new_meter(kct_window=120)
    play(m, "@0 s a4 -> KCT_STAGED\n @120 s a3 -> KEY_CHANGED", sets=sets)  # at the edge
    m = new_meter(kct_window=10)  # the window is configurable
    play(m, "@0 s a3 -> KCT_STAGED\n @11 s a4 -> KCT_TIMEOUT", sets=sets)


def test_held_section_survives_reboot():
    sets = {"a": kct("key", "new", krn=7)}
    m = new_meter()
    play(m, "@0 s a4 -> KCT_STAGED", sets=sets)
    m = reboot(m)
    assert m.status()["kct_held"] == 1
    play(m, "@60 s a3 -> KEY_CHANGED n=2", sets=sets)
    m = reboot(m)
    assert m.key == KEYS["new"] and m.krn == 7 and m.status()["kct_held"] == 0
    play(m, "c 2000 10 k=new -> ACCEPT")
    # The window's time before a power cut counts after it (as far as the state written
    # last can tell: here a refused guess at 100 s), whatever the clock reads at power-up.
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED\n @100 x 1 -> FORMAT", sets=sets)
    m = reboot(m)
    m.tick(ms(5))  # power-up: the clock started again, lower than before
    play(m, "@26 s a4 -> KCT_TIMEOUT", sets=sets)  # 100 s + 21 s: past the 120 s window
    m = new_meter()  # a set already past its window when written is dropped at power-up
    play(m, "@0 s a3 -> KCT_STAGED\n @121 x 1 -> FORMAT", sets=sets)
    assert m.status()["kct_held"] == 1 and reboot(m).status()["kct_held"] == 0


def test_ro_flag_clears_tid_memory_and_moves_base_date():
    m = new_meter()
    sets = {"a": kct("key", "new", ro=0), "b": kct("new", "other", ro=1)}
    play(
        m,
        """
    c 2000 10 -> ACCEPT
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED          # RO 0
    c 2000 10 k=new -> USED      # the memory was kept
    c 999 10 k=new -> OLD
    """,
        sets=sets,
    )
    st = m.status()
    assert st["base_date"] == 1993 and st["edition"] == 1 and st["tids_used"] == 50
    play(
        m,
        """
    s b4 -> KCT_STAGED
    s b3 -> KEY_CHANGED          # RO 1
    c 5 10 -> ACCEPT             # TIDs count from 2014 now
    c 2000 10 -> ACCEPT
    """,
        key=KEYS["other"],
        sets=sets,
    )
    st = m.status()
    assert st["base_date"] == 2014 and st["edition"] == 2 and st["tids_used"] == 2
    m = reboot(m)
    assert m.base_date == 2014 and tids_of(m) == [5, 2000]


def test_misty1_key_change_needs_four_sections_in_any_order():
    sets = {"a": kct("mkey", "newm", krn=5, ken=100, ti=9, sgc=654321)}
    for order in ("3489", "9843", "8394"):
        m = new_meter(ea="misty1")
        assert m.status()["ea"] == "EA11" and m.status()["kct_of"] == 4
        for i in range(3):
            play(m, "s a%s -> KCT_STAGED n=%d m=4" % (order[i], i + 1), sets=sets)
            assert m.key == MKEY
        play(m, "s a%s -> KEY_CHANGED n=4 m=4" % order[3], sets=sets)
        assert m.key == KEYS["newm"] and m.status()["sgc"] == "654321" and m.sgc == 654321
        assert m.krn == 5 and m.ken == 100 and m.ti == 9
        play(m, "c 2000 10 k=mkey -> CRC\n c 2000 10 k=newm -> ACCEPT")
    m = reboot(m)
    assert m.key == KEYS["newm"] and m.sgc == 654321


def test_sta_meter_refuses_subclass_8_with_function():
    m = new_meter()
    play(m, "s a8 -> FUNCTION\n s a9 -> FUNCTION", sets={"a": kct("key", "newm")})
    assert m.status()["kct_held"] == 0


# -- result codes and formats --------------------------------------------------------------------


def test_result_codes_are_numbered():
    names = (
        "ACCEPT KCT_STAGED KEY_CHANGED OVERFLOW KEY_TYPE FORMAT RANGE FUNCTION OLD USED "
        "KEY_EXPIRED DDTK CRC MFR LOCKED"
    ).split()
    for n, name in enumerate(names):
        assert getattr(R, name) == n + 1, name
        assert n + 1 in R.NAMES
    # Meter manuals give 16 to "token status not ready" and reserve 17..255: the meter's
    # own outcomes take none of those numbers (the display shows their names).
    ours = ("KCT_TIMEOUT", "KCT_MIXED", "STORAGE", "SAME_KEY", "LAST_BASE", "KCT_DONE")
    for name in ours:
        code = getattr(R, name)
        assert not 0 <= code <= 255 and code in R.NAMES, name
    assert len(R.NAMES) == len(names) + len(ours)
    # the meter returns them for matching inputs (play compares the numbers)
    m = new_meter(ken=5)
    play(
        m,
        """
    @0 c 2000 10 -> ACCEPT
    c 2000 10 -> USED
    c 5 10 -> OLD
    c 393216 10 -> KEY_EXPIRED
    @100 d 3 1 -> MFR
    @200 g -> CRC
    @300 m 1 9 2002 -> RANGE
    @350 s a3 -> KCT_STAGED
    @400 s a4 -> KEY_CHANGED
    c 2003 18201624 k=new -> ACCEPT
    c 2004 18201624 k=new -> ACCEPT
    c 2005 18201624 k=new -> ACCEPT
    c 2006 18201624 k=new -> ACCEPT
    c 2007 18201624 k=new -> ACCEPT
    c 2008 18201624 k=new -> OVERFLOW
    @500 x 1234 -> FORMAT
    @600 x 1234 -> FORMAT
    @700 x 1234 -> FORMAT
    @701 x 1234 -> LOCKED
    """,
        sets={"a": kct("key", "new")},
    )
    m = new_meter(kt=1)
    play(
        m,
        """
    c 2000 10 -> DDTK
    s a8 -> FUNCTION
    s b3 -> KCT_STAGED
    s b4 -> KEY_TYPE
    """,
        sets={"a": kct("key", "newm"), "b": kct("key", "new", kt=0)},
    )


def test_format_refusals():
    m = new_meter()
    t = token(["c", "2000", "10"], KEY, None)
    cls3 = digits.format(3, array("I", [0x123456, 0x654321, 0x1234]))
    assert len(cls3) == 20
    for i, s in enumerate(
        (
            t[:19],
            t + "0",
            "",
            "1234567890123456789a",
            "1234 5678 9012 34 ",
            "99999999999999999999",
            cls3,
        )
    ):
        r = m.apply(s, ms(T0 + 10000 * i))  # 99999999999999999999 >= 2**66; class 3 reserved
        assert r.code == R.FORMAT, "%r: got %r" % (s, r)
    assert m.apply(t.encode(), ms(T0 + 100000)).code == R.ACCEPT  # bytes are digits too
    assert m.balance[0] == 10


def test_status_contents():
    gc.collect()
    blank = Meter(RecordStore(fresh_dir("meter_rules") + "/state"))
    assert blank.status() == {"fault": "blank"}
    play(blank, "c 2000 10 -> STORAGE")
    m = new_meter(tid_capacity=10)
    want = {
        "balance": 0,
        "balances": [0, 0, 0, 0],
        "krn": 1,
        "kt": 2,
        "sgc": "123456",
        "ti": "01",
        "ea": "EA07",
        "ken": 255,
        "base_date": 1993,
        "edition": 1,
        "pan": PAN,
        "tids_used": 10,
        "tids_capacity": 10,
        "relay": False,
        "tripped": False,
        "tamper": False,
        "max_power": 0,
        "kct_held": 0,
        "kct_of": 2,
        "last": 0,
        "lock_left": 0,
    }
    st = m.status()
    for k in want:
        assert st[k] == want[k], "%s: %r" % (k, st[k])
    sets = {"a": kct("key", "new", ro=1, krn=2)}
    play(m, "c 2000 25 -> ACCEPT")
    st = m.status()
    assert st["balance"] == 25 and st["relay"] is True and st["last"] == R.ACCEPT
    play(m, "s a3 -> KCT_STAGED", sets=sets)
    assert m.status()["kct_held"] == 1 and m.status()["last"] == R.KCT_STAGED
    play(m, "c 2000 25 -> USED")
    assert m.status()["last"] == R.USED
    play(m, "s a4 -> KEY_CHANGED", sets=sets)
    st = m.status()
    assert st["edition"] == 2 and st["base_date"] == 2014 and st["krn"] == 2
    assert st["tids_used"] == 0 and st["tids_capacity"] == 10 and st["kct_held"] == 0
    assert st["last"] == R.KEY_CHANGED
    play(m, "c 3 25 k=new -> ACCEPT\n g -> CRC")
    assert m.status()["tids_used"] == 1 and m.status()["last"] == R.CRC


# -- lockout ------------------------------------------------------------------------------------


def test_lockout_after_three_guesses():
    m = new_meter()
    play(
        m,
        """
    @0 g -> CRC seconds=None
    @1 g -> CRC seconds=None
    @2 g -> CRC seconds=10
    @3 c 2000 10 -> LOCKED seconds=9    # even a good token
    @11 g -> LOCKED seconds=1
    @12 c 2000 10 -> ACCEPT             # the lock is over
    """,
    )
    assert m.fails == 3  # an accepted token does not clear the count: only time does


def test_lockout_doubles_and_caps_at_1280():
    m = new_meter()
    play(m, "g -> CRC\n g -> CRC")
    now = 0
    for lock in (10, 20, 40, 80, 160, 320, 640, 1280, 1280, 1280):
        play(
            m, "@%d g -> CRC seconds=%d\n @%d g -> LOCKED seconds=1" % (now, lock, now + lock - 1)
        )
        now += lock
    assert LOCK_MAX == 1280
    play(
        m,
        """
    @%d c 2000 10 -> ACCEPT
    g -> CRC seconds=1280    # a bought token buys no guesses
    """
        % now,
    )


def test_lockout_capped_however_many_guesses():
    # A patient attacker: 257 guesses in a row, each as soon as the lock ends (3.5 days).
    # The lock stays at the cap, and a reboot does not shorten it.
    m = new_meter()
    g = token(["g"], KEY, None)
    now = T0
    for i in range(257):
        r = m.apply(g, ms(now))
        assert r.code == R.CRC, "guess %d: %r" % (i + 1, r)
        assert i < 9 or r.seconds == 1280, "guess %d: %r" % (i + 1, r)
        now += r.seconds or 0
    m = reboot(m)  # a power cut in the lock's last second: it starts again from power-up
    play(m, "g -> LOCKED seconds=1280", now=now - 1)
    r = m.apply(g, ms(now - 1 + 1280))
    assert r.seconds == 1280, "after a reboot: %r, fails %d" % (r, m.fails)


def test_no_token_ends_a_guess_streak():
    # The attacker may be the customer, holding real tokens: a credit, a management token
    # or a whole key change between guesses buys none.
    m = new_meter()
    play(
        m,
        """
    g -> CRC
    g -> CRC
    c 2000 10 -> ACCEPT       # credit
    g -> CRC seconds=10
    @10 m 2 5 2001 -> ACCEPT  # a management token
    g -> CRC seconds=20
    @30 s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED       # a whole key change
    g -> CRC seconds=40
    """,
        sets={"a": kct("key", "new")},
    )


def test_a_customer_buying_the_cheapest_token_after_every_two_guesses_meets_the_lock():
    # Two guesses before each bought 0.1 kWh token used to meet no lock at all: 2**18
    # guesses for 131,072 tokens and no waiting. The lock follows the guesses.
    m = new_meter()
    now = T0
    waited = 0
    for i in range(30):
        for _ in range(2):
            r = m.apply(token(["g"], KEY, None), ms(now))
            assert r.code == R.CRC, r
            waited += r.seconds or 0
            now += r.seconds or 0
        assert m.apply(token(["c", str(2000 + i), "1"], KEY, None), ms(now)).code == R.ACCEPT
    assert m.balance[0] == 30 and waited >= 19 * LOCK_MAX, waited  # at the cap from guess 11


def test_the_guess_count_drains_one_an_hour_of_powered_time():
    m = new_meter()
    play(m, "@0 g -> CRC\n g -> CRC")
    m.tick(ms(T0 + 3599))
    play(m, "@3599 g -> CRC seconds=10")  # not an hour yet: the third guess locks
    m.tick(ms(T0 + 3600))
    assert m.fails == 2  # an hour after the first guess: one off
    play(m, "@3610 g -> CRC seconds=10")  # the lock it meets is the third's again
    play(m, "@%d g -> CRC seconds=None" % (3610 + 2 * 3600))  # two hours more: two off
    assert m.fails == 2 and DRAIN_MS == 3600000


def test_a_cleared_lock_starts_its_drain_again():
    # The page's teacher clears the count 50 minutes into its drain: the next guess's hour
    # starts then, not 10 minutes later.
    m = new_meter()
    play(m, "@0 g -> CRC")
    m.tick(ms(T0 + 50 * 60))
    assert m.clear_lock() and m.fails == 0
    play(m, "@3000 g -> CRC")  # 50 minutes after the first
    m.tick(ms(T0 + 61 * 60))
    assert m.fails == 1


def test_the_drain_counts_powered_time_only_and_survives_a_power_cut():
    m = new_meter()
    play(m, "@0 g -> CRC\n g -> CRC")
    m.tick(ms(T0 + 50 * 60))  # 50 minutes powered
    m = reboot(m)  # however long the power was off: no time passes
    m.tick(ms(1))  # the clock starts again at power-up
    m.tick(ms(1 + 9 * 60))  # the 50 minutes were written, and 9 more: 59
    assert m.fails == 2
    m.tick(ms(1 + 15 * 60))  # 65: one off
    assert m.fails == 1
    play(m, "g -> CRC seconds=None\n g -> CRC seconds=10", now=20 * 60)


def test_a_customer_who_mistypes_now_and_then_never_waits_more_than_10_s():
    # A month of a careful customer's life at its worst: a token every 4 hours of the day,
    # each after one typo, and once a day three typos in a row. The clock is a board's
    # ticks_ms, moved on by what passed (a month is past the 2**30 ms a 32-bit board's ticks
    # count: they wrap twice, as a board's do).
    try:
        from time import ticks_add
    except ImportError:  # CPython: the meter's diff is a subtraction, its clock never wraps

        def ticks_add(ticks, delta):
            return ticks + delta

    m = new_meter()
    clock = ms(T0)  # the clock's reading...
    at = 0  # ...at this many seconds after T0
    tid = 2000
    worst = 0
    for day in range(30):
        for hour in (7, 11, 15, 19, 23):
            now = day * 86400 + hour * 3600
            clock = ticks_add(clock, ms(now - at))
            at = now
            m.tick(clock)
            typos = 3 if hour == 19 else 1
            for _ in range(typos):
                r = m.apply(token(["g"], KEY, None), clock)
                assert r.code == R.CRC, "day %d %d h: %r" % (day, hour, r)
                worst = max(worst, r.seconds or 0)
                clock = ticks_add(clock, ms(r.seconds or 0))
                at += r.seconds or 0
            r = m.apply(token(["c", str(tid), "10"], KEY, None), ticks_add(clock, ms(30)))
            assert r.code == R.ACCEPT, "day %d %d h: %r" % (day, hour, r)
            tid += 1
    assert worst <= 10, worst


def test_an_ended_lock_stays_ended_after_a_power_cut():
    # At zero credit nothing else writes: the lock written at the guess came back whole at
    # every power-up, and the token just bought waited up to 1,280 s.
    m = new_meter()
    play(m, "@0 g -> CRC\n g -> CRC\n g -> CRC seconds=10")
    for s in range(1, 12):
        m.tick(ms(T0 + s))  # the loop's passes
    m = reboot(m)
    assert m.lock_left() == 0
    play(m, "c 2000 10 -> ACCEPT", now=3)  # the clock at power-up reads 3 s


def test_a_running_lock_resumes_after_a_power_cut_with_what_was_left():
    m = new_meter()
    g = token(["g"], KEY, None)
    now = T0
    for _ in range(10):
        r = m.apply(g, ms(now))
        now += r.seconds or 0
    assert r.seconds == 1280
    now -= 1280
    for s in range(1, 1001):
        m.tick(ms(now + s))  # 1,000 s of the loop's passes: 280 s left
    m = reboot(m)
    left = m.lock_left()
    assert 280 <= left <= 560, left  # never less than was left, at most twice that
    play(m, "g -> LOCKED seconds=%d" % left, now=7)


def test_a_lock_running_down_writes_a_few_times_not_every_second():
    # Flash wears: the longest lock, ticked every second to its end, writes its halvings
    # down to 5 s and its end (9), and the drain's quarter hour; then it stays ended.
    m = new_meter()
    g = token(["g"], KEY, None)
    now = T0
    for _ in range(11):
        r = m.apply(g, ms(now))
        now += r.seconds or 0
    now -= 1280
    seq = m.store.seq
    for s in range(1, 1281):
        m.tick(ms(now + s))
    assert m.lock_left() == 0 and m.store.seq - seq <= 10, m.store.seq - seq
    assert reboot(m).lock_left() == 0


def test_a_query_does_not_move_the_meters_time():
    m = new_meter()
    play(m, "@0 g -> CRC\n g -> CRC\n g -> CRC seconds=10")
    assert m.lock_left(ms(T0 + 4)) == 6  # what it will be then, read
    assert m.lock_left() == 10 and m.status()["lock_left"] == 10 and not m.relay_closed()
    m.tick(ms(T0 + 4))  # the loop moves it
    assert m.lock_left() == 6


def test_nothing_typed_without_the_key_ends_a_guess_streak():
    # Anything a person at the keypad has or can make without the key: a key change section
    # (every 2024 customer holds a first one; typed after every two guesses it used to keep
    # the keypad open for good), held, timed out or mixed; a test token; a token typed again;
    # a whole set that is refused. Between guesses, none of them may undo the lockout.
    sets = {
        "a": kct("key", "new"),
        "b": kct("key", "other", krn=3),
        "z": kct("key", "new", kt=0),
        "k": kct("key", "key"),
    }
    fillers = (
        ("", "s a3 -> KCT_STAGED"),
        ("", "s a4 -> KCT_STAGED"),
        ("@0 s a3 -> KCT_STAGED", "@200 s a3 -> KCT_TIMEOUT"),
        ("@0 s a3 -> KCT_STAGED", "@200 s a4 -> KCT_TIMEOUT"),
        ("s a3 -> KCT_STAGED", "s b3 -> KCT_MIXED"),
        ("s z3 -> KCT_STAGED", "s z4 -> KEY_TYPE"),
        ("s k3 -> KCT_STAGED", "s k4 -> SAME_KEY"),
        ("", "d 0 512 -> ACCEPT"),
        ("c 2000 10 -> ACCEPT", "c 2000 10 -> USED"),
        ("", "c 5 10 -> OLD"),
    )
    for before, filler in fillers:
        m = new_meter()
        play(m, before, sets=sets)
        play(m, "@0 g -> CRC\n g -> CRC\n %s\n g -> CRC seconds=10" % filler, sets=sets)
        if filler.startswith("s"):  # the same, with the section held over a power cut
            m = new_meter()
            play(m, "%s\n @0 g -> CRC\n g -> CRC\n %s" % (before, filler), sets=sets)
            play(reboot(m), "g -> CRC seconds=10", sets=sets, now=T0 + 200)


def test_used_and_old_do_not_count_as_guesses():
    m = new_meter(ken=5)
    play(m, "c 2000 10 -> ACCEPT\n g -> CRC\n g -> CRC")
    for _ in range(4):
        play(m, "c 2000 10 -> USED\n c 5 10 -> OLD\n c 393216 10 -> KEY_EXPIRED")
    assert m.fails == 2 and m.lock_left() == 0
    play(m, "g -> CRC seconds=10")  # nor did they reset the count


def test_other_refusals_count_as_guesses():
    play(
        new_meter(pan=PAN7),
        """
    x 123 -> FORMAT
    d 9 1 -> MFR
    s a8 -> FUNCTION seconds=10
    """,
        sets={"a": kct("key", "newm")},
    )
    play(
        new_meter(),
        """
    m 1 8 2000 -> RANGE
    m 1 9 2001 -> RANGE
    m 1 10 2002 -> RANGE seconds=10
    """,
    )


def test_lockout_persists_across_reboot():
    m = new_meter()
    play(m, "@0 g -> CRC\n @1 g -> CRC")
    m = reboot(m)  # the count survives
    play(m, "@2 g -> CRC seconds=10")
    m = reboot(m)  # the lock survives: what was left of it, counted again from power-up
    play(m, "@5 c 2000 10 -> LOCKED seconds=10\n @15 g -> CRC seconds=20")
    m = reboot(m)
    play(m, "@16 g -> LOCKED seconds=20\n @36 c 2000 10 -> ACCEPT")


# -- persistence ---------------------------------------------------------------------------------


def test_state_persists_across_reboot():
    m = new_meter(tid_capacity=8)
    play(
        m,
        """
    c 2000 100 -> ACCEPT
    c 2001 200 2 -> ACCEPT
    m 0 2500 2002 -> ACCEPT
    m 2 12 2003 -> ACCEPT
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED
    c 2004 50 1 k=new -> ACCEPT
    """,
        sets={"a": kct("key", "new", kt=3, krn=4, ken=77, ti=33)},
    )
    m.consume(30)
    m2 = reboot(m)
    assert m2.fault == "" and record(m2) == record(m)
    assert m2.balance == [70, 50, 200, 0] and tids_of(m2) == tids_of(m)
    assert m2.key == KEYS["new"] and m2.kt == 3 and m2.krn == 4 and m2.ken == 77
    assert m2.ti == 33 and m2.max_power == 2500 and m2.tariff == 12
    play(
        m2,
        """
    c 2004 50 1 -> USED
    c 2000 50 -> USED
    c 2005 50 k=key -> CRC
    c 2005 50 -> ACCEPT balance=120
    """,
        key=KEYS["new"],
    )


def test_every_accepted_and_refused_token_is_persisted():
    m = new_meter(ken=5, tid_capacity=6)
    script = """c 2000 10 -> ACCEPT
    c 2000 10 -> USED
    c 5 10 -> OLD
    c 393216 10 -> KEY_EXPIRED
    m 0 100 2001 -> ACCEPT
    m 1 9 2002 -> RANGE
    d 0 3 -> ACCEPT
    d 4 3 -> MFR
    g -> CRC
    x 12345 -> FORMAT
    s a3 -> KCT_STAGED
    s a3 -> KCT_STAGED
    s a4 -> KEY_CHANGED
    c 2003 10 k=new -> ACCEPT"""
    sets = {"a": kct("key", "new")}
    for i, line in enumerate(script.split("\n")):
        play(m, "@%d %s" % (50 * i, line), sets=sets)
        assert record(reboot(m)) == record(m), "after " + line


def test_corrupt_store_is_a_storage_fault():
    m = new_meter()
    play(m, "c 2000 10 -> ACCEPT")
    p = m.store.prefix
    _overwrite(p + ".0", b"garbage garbage garbage garbage")
    _overwrite(p + ".1", b"\x00" * 64)
    m2 = reboot(m)
    assert m2.fault != ""
    play(m2, "c 2001 10 -> STORAGE")
    assert m2.status()["fault"] != ""
    _overwrite(p + ".0", b"x")  # short files are faults too
    _overwrite(p + ".1", b"")
    m3 = reboot(m)
    assert m3.fault != ""
    play(m3, "c 2001 10 -> STORAGE")


def test_a_record_that_checks_but_does_not_unpack_is_a_storage_fault():
    for damage in ("ea", "short", "pan", "key"):
        m = new_meter()
        play(m, "c 2000 10 -> ACCEPT")
        p = bytearray(record(m))
        if damage == "ea":
            p[0] = 99  # no such encryption algorithm
        elif damage == "key":
            p[5] = 5  # a key length the cipher refuses (checked where the cipher is made)
        elif damage == "short":
            p = p[:60]
        else:
            p[p.index(m.pan.encode())] = 0xFF  # not UTF-8
        m.store.save(bytes(p))  # a good CRC around a bad record
        m2 = reboot(m)
        assert m2.fault.startswith("unreadable state"), (damage, m2.fault)
        assert m2.status()["fault"] == m2.fault
        play(m2, "c 2001 10 -> STORAGE")


def test_corrupt_newest_slot_boots_on_the_older():
    m = new_meter()
    play(m, "c 2000 10 -> ACCEPT")
    older = record(m)
    play(m, "c 2001 20 -> ACCEPT")
    path = "%s.%d" % (m.store.prefix, m.store.slot)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[20] ^= 0xFF  # one flipped byte: the CRC no longer checks
    _overwrite(path, bytes(data))
    m2 = reboot(m)
    assert m2.fault == "" and m2.store.report != ""
    assert record(m2) == older and m2.balance[0] == 10
    play(
        m2,
        """
    c 2001 20 -> ACCEPT    # the lost credit can be typed again
    c 2000 10 -> USED
    """,
    )
    m3 = reboot(m2)
    assert m3.balance[0] == 30 and m3.fault == ""


def test_nothing_changes_on_a_refused_token():
    m = new_meter(ken=5, tid_capacity=5)
    play(m, "c 2000 10 -> ACCEPT\n m 2 5 2001 -> ACCEPT")
    for line in (
        "c 2000 10 -> USED",
        "c 5 10 -> OLD",
        "c 393216 10 -> KEY_EXPIRED",
        "m 2 6 2001 -> USED",
    ):
        before = record(m)
        seq = m.store.seq
        play(m, line)
        assert record(m) == before, line  # nothing changed but the last result
        play(m, line)
        assert m.store.seq == seq + 1, line  # and that is written once, not again
    m2 = new_meter(kt=1)
    before = record(m2)
    play(m2, "c 2000 10 -> DDTK")
    assert record(m2) == before
    for line in (
        "g -> CRC",
        "m 1 8 2003 -> RANGE",
        "d 9 1 -> MFR",
        "s a8 -> FUNCTION",
        "x 1234567890 -> FORMAT",
    ):
        m.fails = 0
        before = essentials(m)
        play(m, line, sets={"a": kct("key", "newm")})
        assert essentials(m) == before, line
    assert m.balance == [10, 0, 0, 0] and m.tariff == 5


def test_a_test_token_does_not_reset_the_guess_count():
    # Class 1 tokens are sent in the clear: anyone can make one, so typing one between
    # guesses must not undo the lockout.
    m = new_meter()
    play(m, "g -> CRC\n g -> CRC\n d 0 512 -> ACCEPT\n g -> CRC seconds=10")


def test_storage_report_clears_once_the_bad_slot_is_written_again():
    m = new_meter()
    play(m, "c 2000 10 -> ACCEPT")
    path = "%s.%d" % (m.store.prefix, m.store.slot)
    _overwrite(path, b"garbage")
    m2 = reboot(m)
    assert m2.store.report.startswith("slot %d:" % m.store.slot)
    play(m2, "c 2001 10 -> ACCEPT")  # the next state goes over the bad slot
    assert m2.store.report == "" and reboot(m2).store.report == ""


# -- a key change must change the key ----------------------------------------------------------


def test_a_key_change_to_the_key_in_use_is_refused():
    # With RO set it would empty the TID memory under the same key: every credit token typed
    # before would be accepted again.
    for ro in (1, 0):
        m = new_meter()
        sets = {"k": kct("key", "key", ro=ro, krn=1)}
        play(
            m,
            """
        c 2000 10 -> ACCEPT
        s k3 -> KCT_STAGED
        s k4 -> SAME_KEY
        c 2000 10 -> USED          # still remembered
        """,
            sets=sets,
        )
        assert m.balance[0] == 10 and m.base_date == 1993 and m.tids.count == 50
        assert m.status()["kct_held"] == 0 and reboot(m).status()["kct_held"] == 0


def test_a_rollover_at_the_last_base_date_is_refused():
    m = new_meter()
    sets = {
        "a": kct("key", "new", ro=1),
        "b": kct("new", "other", ro=1, krn=3),
        "c": kct("other", "key", ro=1, krn=4),
        "d": kct("other", "key", ro=0, krn=4),
    }
    play(m, "s a3 -> KCT_STAGED\n s a4 -> KEY_CHANGED", sets=sets)
    play(m, "s b3 -> KCT_STAGED\n s b4 -> KEY_CHANGED\n c 7 10 k=other -> ACCEPT", sets=sets)
    assert m.base_date == 2035 and m.tids.count == 1
    play(
        m,
        """
    s c3 -> KCT_STAGED
    s c4 -> LAST_BASE           # no base date after 2035: RO would only wipe the memory
    c 7 10 k=other -> USED      # the memory and the key are as they were
    s d3 -> KCT_STAGED
    s d4 -> KEY_CHANGED         # without RO the key change is fine
    """,
        sets=sets,
    )
    assert m.key == KEY and m.base_date == 2035 and tids_of(m) == [7]


# -- time: a clock that restarts, steps or wraps -------------------------------------------------


def test_a_lock_never_outlasts_its_cap_when_the_clock_restarts():
    # A board's clock starts again at every power-up (rp2: 2021-01-01): after 5 days of
    # uptime a lock stored as a clock time became a 5-day wait.
    m = new_meter()
    g = token(["g"], KEY, None)
    now = T0 + 5 * 86400
    for _ in range(12):
        r = m.apply(g, ms(now))
        now += r.seconds or 0
    assert m.lock_left() == 1280
    m = reboot(m)
    r = m.apply(g, ms(5))  # the clock at power-up reads 5 s
    assert r.code == R.LOCKED and r.seconds <= 1280, r
    play(m, "c 2000 10 -> LOCKED seconds=1", now=1284)
    play(m, "c 2000 10 -> ACCEPT", now=1285)


def test_an_accepted_token_leaves_no_lock_behind():
    m = new_meter()
    play(m, "@0 g -> CRC\n g -> CRC\n g -> CRC seconds=10\n @10 c 2000 10 -> ACCEPT")
    assert m.lock_left() == 0
    m = reboot(m)
    play(m, "c 2001 10 -> ACCEPT", now=3)  # a clock far behind the old one: no lock


def test_a_trip_never_outlasts_60_s_when_the_clock_restarts():
    m = new_meter()
    play(m, "c 2000 100 -> ACCEPT\n m 0 1000 2001 -> ACCEPT")
    assert not m.load(2000, ms(T0 + 5 * 86400))  # tripped after 5 days of uptime
    m = reboot(m)
    assert not m.load(0, ms(7)) and not m.relay_closed()  # power-up: the clock reads 7 s
    assert not m.load(0, ms(7 + TRIP_SECONDS - 1))
    assert m.load(0, ms(7 + TRIP_SECONDS)) and m.relay_closed()


def test_a_held_section_is_dropped_when_the_clock_goes_back_or_the_window_passes():
    sets = {"a": kct("key", "new")}
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED", sets=sets)
    # The clock steps back 4 days: the held section is from its future, and dropped.
    play(m, "@-345600 s a4 -> KCT_STAGED n=1", sets=sets)
    assert m.key == KEY
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED", sets=sets)
    m = reboot(m)  # power-up with the clock 5 days back, then 4 days of supply
    m.tick(ms(T0 - 5 * 86400))
    for day in range(1, 5):
        m.tick(ms(T0 - 5 * 86400 + day * 86400))
    assert m.apply(sets["a"][4], ms(T0 - 86400)).code == R.KCT_TIMEOUT
    assert m.key == KEY


def test_a_clock_stepped_back_or_forward_never_changes_credit():
    from hal.virtual import SimLoad

    m = new_meter()
    play(m, "c 2000 100 -> ACCEPT")
    try:
        m.consume(-5)
        raise AssertionError("consume(-5) added credit")
    except ValueError:
        pass

    class Closed:
        closed = True

    load = SimLoad(Closed(), 3000)
    load.read(ms(T0))
    assert load.read(ms(T0 - 3600)) == 0  # an hour back: no energy either way
    assert m.load(3000, ms(T0 - 3600)) and m.load(3000, ms(T0 + 5 * 86400))  # days forward
    assert m.balance[0] == 100 and reboot(m).balance[0] == 100


# -- the TID memory across a change of its size ---------------------------------------------------


def test_a_larger_tid_memory_keeps_refusing_what_was_refused():
    m = new_meter(tid_capacity=5)
    play(
        m,
        """
    c 2001 1 -> ACCEPT
    c 2002 1 -> ACCEPT
    c 2003 1 -> ACCEPT
    c 2004 1 -> ACCEPT
    c 2005 1 -> ACCEPT
    c 2006 1 -> ACCEPT          # 2001 is forgotten
    c 2001 1 -> OLD
    """,
    )
    m = reboot(m, tid_capacity=100)
    assert m.tids.count == 100 and m.tids.capacity == 100
    play(
        m,
        """
    c 2001 1 -> OLD             # forgotten before: still refused
    c 999 1 -> OLD              # older than the meter
    c 2003 1 -> USED
    c 2007 1 -> ACCEPT
    """,
    )
    assert m.balance[0] == 7
    m = reboot(m, tid_capacity=255)  # the largest the record keeps
    play(m, "c 2001 1 -> OLD\n c 2007 1 -> USED\n c 2008 1 -> ACCEPT")


def test_an_impossible_tid_memory_size_is_an_error_at_start_up():
    for bad in (0, 256, 1000, -1):
        try:
            Meter(RecordStore(fresh_dir("meter_rules") + "/state"), tid_capacity=bad)
        except ValueError as e:
            assert "capacity" in str(e), e
            continue
        raise AssertionError("tid_capacity=%d accepted" % bad)


# -- a store that fails --------------------------------------------------------------------------


def test_a_failed_write_changes_nothing_and_stops_the_supply():
    m = new_meter(store=FailingStore)
    play(m, "c 2000 100 -> ACCEPT")
    before = record(m)
    m.store.failing = True
    r = play(m, "c 2001 50 -> STORAGE")
    assert m.balance[0] == 100 and record(m) == before and 2001 not in tids_of(m)
    assert not m.relay_closed() and "fault" in m.status()
    play(m, "c 2002 50 -> STORAGE")  # nothing more is taken until the meter restarts
    assert r.what.startswith("state write failed")
    m2 = reboot(m)  # the flash works again: the token was never credited, so it counts once
    play(m2, "c 2001 50 -> ACCEPT\n c 2001 50 -> USED")
    assert m2.balance[0] == 150


def test_a_failed_write_of_anything_leaves_ram_as_stored():
    sets = {"a": kct("key", "new")}
    for line, act in (
        ("s a3 -> KCT_STAGED", None),
        ("g -> CRC", None),
        ("m 0 1000 2001 -> ACCEPT", None),
        (None, "consume"),
        (None, "trip"),
    ):
        m = new_meter(store=FailingStore)
        play(m, "c 2000 100 -> ACCEPT\n m 0 500 2002 -> ACCEPT")
        before = record(m)
        m.store.failing = True
        if line:
            play(m, line.split("->")[0] + "-> STORAGE", sets=sets)
        elif act == "consume":
            m.consume(30)
        else:
            m.load(900, ms(T0))
        assert record(m) == before, line or act
        assert m.fault.startswith("state write failed") and not m.relay_closed(), line or act


def test_a_failed_personalisation_leaves_a_blank_meter():
    gc.collect()
    m = Meter(FailingStore(fresh_dir("meter_rules") + "/state"))
    m.store.failing = True
    m.personalise(PROFILE, MTID)
    assert not m.personalised and m.fault and not m.relay_closed()
    play(m, "c 2000 10 -> STORAGE")


def test_a_power_cut_while_personalising_lets_the_meter_be_personalised_again():
    # Personalisation is the store's first write (slot 0): torn, with slot 1 never written,
    # no state was ever complete. A meter that held a state (slot 1 written) stays faulted.
    m = new_meter()
    p = m.store.prefix
    for torn in (b"", b"STM1\x01\x00", b"garbage that is not a record"):
        d = fresh_dir("meter_rules")
        _overwrite(d + "/state.0", torn)
        blank = Meter(RecordStore(d + "/state"))
        assert not blank.personalised and blank.fault == "", (torn, blank.fault)
        assert "personalisation did not finish" in blank.store.report
        blank.personalise(PROFILE, MTID)
        play(blank, "c 2000 10 -> ACCEPT")
        assert reboot(blank).balance[0] == 10 and reboot(blank).store.report == ""
    play(m, "c 2000 10 -> ACCEPT")  # slot 1 written: this meter has held a state
    _overwrite(p + ".0", b"garbage")
    _overwrite(p + ".1", b"garbage")
    assert reboot(m).fault.startswith("no valid state")


# -- the record's format: meters in the field keep what they hold across a firmware update --
def _copy_fixture(d, fixture=None):
    fixture = fixture or scratch_fixture("state-format-1")
    for slot in (0, 1):
        with open("%s/meter.%d" % (fixture, slot), "rb") as f:
            _overwrite("%s/state.%d" % (d, slot), f.read())


def _load_fixture(fixture):
    """A meter on a copy of the fixture's slots, checked against its expect.json (every field
    the meter held when it wrote them); (meter, expected)."""
    import json

    with open(fixture + "/expect.json") as f:
        want = json.load(f)
    d = fresh_dir("meter_rules")
    _copy_fixture(d, fixture)
    m = Meter(RecordStore(d + "/state"))
    assert m.personalised and m.fault == "", m.fault
    # Both slots rewritten in today's format at once (firmware of an older format, put back,
    # must not find the older slot: credit spent since would come back), with nothing else
    # changed.
    assert m.store.format == FORMAT and m.store.seq == want.pop("seq") + 2
    for slot in (0, 1):
        with open("%s/state.%d" % (d, slot), "rb") as f:
            assert f.read(4) == b"STM%d" % FORMAT, slot
    got = {
        "balances": m.balance,
        "tids": tids_of(m),
        "tid_count": m.tids.count,
        "key": m.key.hex(),
        "krn": m.krn,
        "kt": m.kt,
        "ken": m.ken,
        "ti": m.ti,
        "sgc": m.sgc,
        "pan": m.pan,
        "ea": m.ea,
        "base_date": m.base_date,
        "max_power": m.max_power,
        "tariff": m.tariff,
        "fails": m.fails,
        "lock_ms": m.lock_ms,
        "kct_held": m.kct.held,
        "kct_age_ms": m.kct.age,
        "kct_blocks": list(m.kct.blocks),
        "seq": m.store.seq,
    }
    for k in want:
        assert got[k] == want[k], "%s: %r, not %r" % (k, got[k], want[k])
    return m, want


def test_a_record_of_format_1_loads_with_nothing_lost():
    m, want = _load_fixture(scratch_fixture("state-format-1"))
    play(
        m,
        """
    c 2002 77 -> USED                   # the TID memory refuses what it refused
    c 999 10 -> OLD
    g -> CRC seconds=None               # the stored guess counts: 2 of the 3 that lock
    """,
        now=0,
    )
    m = reboot(m)  # written in today's format by now, and read back alike
    assert m.store.format == FORMAT and m.balance == want["balances"] and m.fails == 2
    # The held first section completes with its partner within the window it has left.
    assert m.apply(kct("key", "new", ro=1)[4], ms(20)).code == R.KEY_CHANGED, m.kct.held
    assert m.key == KEYS["new"] and m.base_date == 2014 and m.krn == 2
    assert m.balance == want["balances"]


def test_a_record_of_format_1_with_a_part_filled_tid_memory_loads_with_nothing_lost():
    # After a rollover (RO) the TID memory starts again: format 1 stored only the TIDs in
    # use, format 2 every slot. Both read alike.
    m, want = _load_fixture(scratch_fixture("state-format-1-after-rollover"))
    assert m.tids.count == 2 < m.tids.capacity and m.base_date == 2014
    play(
        m,
        """
    k=new c 10 120 -> USED
    k=new c 12 10 -> ACCEPT
    """,
        now=0,
    )
    m = reboot(m)
    assert tids_of(m) == [10, 11, 12] and m.balance[0] == want["balances"][0] + 10


def test_a_record_of_format_2_loads_with_nothing_lost():
    # Format 2 wrote a lock at the guess and never as it ran down: the 10 s written is all
    # that is known of it (the time since is the power-off's), so it resumes whole, once.
    m, want = _load_fixture(scratch_fixture("state-format-2"))
    assert m.fails == 3 and m.lock_left() == 10 and m.last == 0
    m.tick(ms(1))  # power-up
    play(m, "c 2002 77 -> LOCKED seconds=10", now=1)
    m.tick(ms(12))
    m = reboot(m)  # the lock ran out and that was written: it stays out
    play(m, "c 2002 77 -> USED\n c 999 10 -> OLD\n g -> CRC seconds=20", now=0)
    assert m.store.format == FORMAT and m.balance == want["balances"]
    m = reboot(m)
    assert m.last == R.CRC and m.fails == 4 and m.lock_left() == 20
    m.tick(ms(1))
    m.tick(ms(21))
    # The held first section completes with its partner within the window it has left.
    assert m.apply(kct("key", "new", ro=1)[4]).code == R.KEY_CHANGED, m.kct.held
    assert m.key == KEYS["new"] and m.base_date == 2014 and m.balance == want["balances"]


def _restamp(path, magic):
    """Give a slot another format number, its CRC made good again."""
    from binascii import crc32

    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[0:4] = magic
    n = len(data) - 4
    data[n:] = (crc32(data[:n]) & 0xFFFFFFFF).to_bytes(4, "little")
    _overwrite(path, data)


def test_status_counts_down_the_trip_and_the_key_change_window():
    sets = {"a": kct("key", "new")}
    m = new_meter()
    play(m, "c 2000 100 -> ACCEPT\n m 0 1000 2001 -> ACCEPT\n @0 s a3 -> KCT_STAGED", sets=sets)
    assert m.status()["kct_left"] == 120 and m.status()["trip_left"] == 0
    assert not m.load(2000, ms(T0 + 30))
    s = m.status()
    assert s["kct_left"] == 90 and s["trip_left"] == 60, s
    m.tick(ms(T0 + 45) + 1)
    s = m.status()
    assert s["kct_left"] == 75 and s["trip_left"] == 45, s  # whole seconds, rounded up
    m.tick(ms(T0 + 200))
    assert m.status()["kct_left"] == 0 and m.status()["trip_left"] == 0


def test_a_record_of_a_newer_format_is_a_fault_never_a_blank_meter():
    m = new_meter()  # personalised: slot 0 written, slot 1 never
    p = m.store.prefix
    _restamp(p + ".0", b"STM4")
    m2 = reboot(m)
    assert not m2.personalised and "newer" in m2.fault, m2.fault
    assert m2.status()["fault"] == m2.fault
    play(m2, "c 2000 10 -> STORAGE")
    m = new_meter()
    p = m.store.prefix
    play(m, "c 2000 10 -> ACCEPT")  # both slots written; the newest of a newer format
    _restamp(p + ".%d" % m.store.slot, b"STM9")
    assert "newer" in reboot(m).fault
    _restamp(p + ".%d" % m.store.slot, b"STM3")  # the same record as format 3 reads again
    assert reboot(m).balance[0] == 10


# -- power limits are watts ----------------------------------------------------------------------


def test_power_limits_are_watts_coded_like_an_amount():
    m = new_meter()
    play(
        m,
        """
    c 2000 100 -> ACCEPT
    m 0 16746 2001 -> ACCEPT register=20004      # raw 0x416a: 20,004 W, not 16,746 W
    m 6 16746 2002 -> ACCEPT register=20004
    """,
    )
    assert m.status()["max_power"] == 20004
    assert m.load(20004, ms(T0)) and m.relay_closed()
    assert not m.load(20005, ms(T0 + 1))
    play(m, "m 0 65535 2003 -> ACCEPT register=18201624")  # the largest
    assert m.status()["max_power"] == 18201624 and reboot(m).status()["max_power"] == 18201624
    assert m.load(18201624, ms(T0 + 100)) and not m.load(18201625, ms(T0 + 101))


# -- the scratch directories: two runs on one machine (two pytest sessions, two CI jobs) never
# share a meter's state files --
def test_scratch_directories_are_new_empty_and_this_runs_own():
    import os

    import scratch

    a, b = fresh_dir("meter_rules"), fresh_dir("meter_rules")
    root = scratch.run_root()
    assert a != b and a.startswith(root + "/") and b.startswith(root + "/"), (a, b, root)
    assert os.listdir(a) == [] and os.listdir(b) == []
    # Another run holding the name this one draws (here: this run's own root): it draws again.
    names = [root, root + "_2"]
    drawn = scratch._candidate
    scratch._candidate = lambda: names.pop(0)
    try:
        got = scratch._make_root()
    finally:
        scratch._candidate = drawn
    if got != root:
        os.rmdir(got)
    assert got == root + "_2", "a second run took this run's directory: %s" % got


# -- codes 1 and 2 typed again after the change (the 2024 campaigns) --------------------------


def test_codes_1_and_2_typed_again_after_the_change_are_done_not_guesses():
    # Customers were told to type codes 1, 2, then 3; many typed 1 and 2 again. Each is
    # recognised against the set just completed, changes nothing and is no guess: after four
    # rounds the keypad is open and code 3 (credit under the new key) is accepted.
    sets = {"a": kct("key", "new", krn=2)}
    m = new_meter()
    play(m, "@0 s a3 -> KCT_STAGED\n s a4 -> KEY_CHANGED", sets=sets)
    before = record(m)
    shown = []
    for i in range(4):
        for code in ("a3", "a4"):
            shown.append(m.apply(token(["s", code], KEY, sets), ms(T0 + i)).name)
    after = record(m)
    r = m.apply(token(["c", "2000", "100"], KEYS["new"], sets), ms(T0 + 5))
    assert r.code == R.ACCEPT and m.balance[0] == 100, "code 3: %r after %r" % (r, shown)
    assert shown == ["KEY CHANGE DONE"] * 8, shown
    assert m.key == KEYS["new"] and m.krn == 2 and m.fails == 0
    assert after == before  # the retypes changed nothing


def test_a_retyped_section_is_done_after_a_power_cut_too():
    sets = {"a": kct("key", "new")}
    m = new_meter()
    play(m, "s a4 -> KCT_STAGED\n s a3 -> KEY_CHANGED", sets=sets)
    m = reboot(m)  # kept in the record: the held words and a flag in the held byte
    play(m, "@500 s a3 -> KCT_DONE\n s a4 -> KCT_DONE\n s a3 -> KCT_DONE", sets=sets)
    assert m.fails == 0 and m.status()["kct_held"] == 0 and m.status()["kct_left"] == 0
    play(m, "c 2000 10 k=new -> ACCEPT", now=T0 + 501)


def test_a_retyped_section_neither_counts_nor_ends_a_guess_streak():
    # Anyone holding an old code 1 could type it between guesses: it must not reopen the lock.
    sets = {"a": kct("key", "new")}
    m = new_meter()
    play(m, "s a3 -> KCT_STAGED\n s a4 -> KEY_CHANGED", sets=sets)
    play(m, "g -> CRC\n g -> CRC\n s a3 -> KCT_DONE\n g -> CRC seconds=10", sets=sets)


def test_misty1_codes_typed_again_after_the_change_are_done():
    sets = {"a": kct("mkey", "newm", krn=5)}
    m = new_meter(ea="misty1")
    play(m, "s a3 -> KCT_STAGED\n s a4 -> KCT_STAGED\n s a8 -> KCT_STAGED", sets=sets)
    play(m, "s a9 -> KEY_CHANGED", sets=sets)
    for _ in range(2):
        play(m, "s a3 -> KCT_DONE\n s a4 -> KCT_DONE\n s a8 -> KCT_DONE", sets=sets)
        play(m, "s a9 -> KCT_DONE", sets=sets)
    assert m.fails == 0 and m.key == KEYS["newm"]
    play(reboot(m), "s a8 -> KCT_DONE\n c 2000 10 k=newm -> ACCEPT", sets=sets)


def test_only_the_completed_set_is_done():
    # A refused set is not done (its sections are held again); another set under the old
    # key is not done either: it no longer decrypts.
    sets = {"a": kct("key", "new"), "b": kct("key", "other", krn=3), "k": kct("key", "key")}
    m = new_meter()
    play(m, "s k3 -> KCT_STAGED\n s k4 -> SAME_KEY\n s k3 -> KCT_STAGED", sets=sets)
    m = new_meter()
    play(m, "s a3 -> KCT_STAGED\n s a4 -> KEY_CHANGED\n s b3 -> CRC\n s b4 -> CRC", sets=sets)


# -- the same rule modules on a board's port: no sys.atexit, no os.urandom, no /tmp, no
# __file__ (a ROMFS); the seam is scratch's urandom, at_exit, BASE and fixture() --
def test_scratch_and_fixtures_work_on_a_port_without_atexit_urandom_tmp_or_file():
    import os

    import scratch

    saved = scratch.urandom, scratch.at_exit, scratch.BASE, list(scratch._root)
    base = fresh_dir("board_base")
    here = scratch.__dict__.pop("__file__", None)
    try:
        scratch.urandom = scratch.at_exit = None
        scratch.BASE = base
        del scratch._root[:]
        a = scratch._make_root()
        b = scratch._make_root()
        assert a != b and a.startswith(base + "/") and b.startswith(base + "/"), (a, b)
        os.rmdir(b)
        scratch._root.append(a)
        d = scratch.fresh_dir("x")
        assert d.startswith(a + "/") and os.listdir(d) == []
        scratch.cleanup()  # what a board's runner calls at the end
        assert os.listdir(base) == [], os.listdir(base)
        # The fixtures through sys.path (the runner put the rule modules' directory there).
        f = scratch.fixture("state-format-1")
        assert "meter.0" in os.listdir(f) and "expect.json" in os.listdir(f), f
    finally:
        scratch.urandom, scratch.at_exit, scratch.BASE = saved[:3]
        scratch._root[:] = saved[3]
        if here is not None:
            scratch.__file__ = here
