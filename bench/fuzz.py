# fuzz.py  `make fuzz`: a million typed inputs through Meter.apply in micropython, with the
# meter's invariants checked after every one; stops at the first violation (exit status 1)
# Usage: MICROPYPATH=.frozen:firmware:tests/mp micropython bench/fuzz.py [N [SEED [EA]]]
# (make fuzz sets the path); or FUZZ_N, FUZZ_SEED, FUZZ_EA (sta or misty1)
# in the environment. Defaults: 1,000,000 inputs, seed 1, an STA meter.
#
# Inputs: random class 0 tokens (an attacker's guesses), random 20-digit strings, random
# strings of other lengths and characters, real tokens with a typo, real credit and management
# tokens (fresh, and typed again), test/display tokens, and key change sections (of sets under
# the key in use, under other keys, in any order, repeated, across the window; a complete set
# changes the key the next real tokens are made under). Between inputs the clock moves
# (sometimes by hours, sometimes back; a lock is mostly skipped by moving it to the lock's
# end), and now and then the power is cut (a new Meter on the same store, its clock
# restarted). The state is kept in RAM, not in files.
#
# Invariants: no exception; while locked every input is LOCKED and none is decoded; a refusal
# changes nothing but the guess count and the lock (a complete key change set refused also
# drops the held sections); the guess count rises by one on each guess (FORMAT, CRC,
# FUNCTION, MFR, RANGE), locks the keypad from the third as the schedule says, and no token
# lowers it (only powered time does); the lock never passes 1280 s, a power cut neither
# shortens it nor brings back one that had ended, nor changes the state; no credit token is
# accepted twice. (The last result's code, written with each result, is not "the state".)
# Measured, not violations: inputs made without the key (random or typo'd digits) accepted as
# credit or management, or held as key change sections (odds about 2**-18 for credit).
import gc
import os
import random
import struct
import sys
import time
from array import array

from demo_meter import profile

from meter import results as R
from meter.meter import _HEAD2, LOCK_AFTER, LOCK_FIRST, LOCK_MAX, Meter
from meter.store import RecordStore
from sts import codec, digits
from sts.blocks import encode
from sts.sta import Sta

try:
    from time import ticks_add, ticks_ms
except ImportError:  # CPython: a clock that does not wrap

    def ticks_add(t, d):
        return t + d

    def ticks_ms():
        return int(time.monotonic() * 1000)


def _state(m):
    """The state record m would write now, but for the last result (code, token, value)."""
    p = bytearray(m._pack())
    p[_HEAD2 + 4 : _HEAD2 + 11] = bytes(7)
    return bytes(p)


# The rules, as the design states them (not taken from the meter, which is what is checked):
GUESSES = (R.FORMAT, R.CRC, R.FUNCTION, R.MFR, R.RANGE)  # refusals that count as guesses
LOCK_CEILING = 1280  # seconds: no lock is ever longer
GOOD = (R.ACCEPT, R.KCT_STAGED, R.KEY_CHANGED, R.KCT_TIMEOUT, R.KCT_MIXED)
SET_REFUSED = (R.KEY_TYPE, R.SAME_KEY, R.LAST_BASE)  # a complete set refused: sections dropped
KINDS = (
    "random class 0 token",
    "random 20 digits",
    "random other",
    "typo",
    "credit",
    "credit again",
    "management",
    "test/display",
    "key change section",
)
FORGED = (0, 1, 2, 3)  # KINDS made without the key
GUESS, RAND20, OTHER, TYPO, CREDIT, AGAIN, MGMT, TEST, KCT = range(9)
# Thresholds out of 1000: how often each kind is typed.
MIX = (
    (GUESS, 250),
    (RAND20, 400),
    (OTHER, 480),
    (TYPO, 600),
    (CREDIT, 730),
    (AGAIN, 800),
    (MGMT, 870),
    (TEST, 910),
    (KCT, 1000),
)
CHARS = "0123456789012345678901234567890123456789 -#*.aZ\t\n\x00\u00e9\u0663\uff11"

_decodes = [0]
_decode = codec.Decoder.decode


def _counted_decode(self, token):
    _decodes[0] += 1
    return _decode(self, token)


codec.Decoder.decode = _counted_decode  # every decode the meter makes is counted


class RamStore(RecordStore):
    """The record store's two slots in a dict that outlives the Meter (a power cut). Writes
    go through RecordStore.save (sequence number, CRC, the slot not in use) as on a board."""

    def __init__(self, slots):
        RecordStore.__init__(self, "ram")
        self.slots = slots

    def _write(self, path, parts):
        self.slots[path] = (struct.unpack_from("<I", parts[0], 4)[0], bytes(parts[1]))

    def _read(self, slot, *names):
        return self.slots.get(self._path(slot))

    def load(self, into=None):
        """The newest payload, or None: a slot in RAM is never torn (`into` is not needed:
        the payload is a bytes of its own)."""
        best = None
        for slot in (0, 1):
            r = self._read(slot)
            if r and (best is None or r[0] > best[0]):
                best = (r[0], slot, r[1])
        if best is None:
            return None
        self.seq, self.slot = best[0], best[1]
        return best[2]


class Violation(Exception):
    pass


def rnd(n):
    return random.getrandbits(n)


def below(n):
    return random.randrange(n)


def cipher_for(key):
    if len(key) == 8:
        return Sta(key)
    from sts.misty1 import Misty1

    return Misty1(key)


def _word(k, i):
    return (k[4 * i] << 24) | (k[4 * i + 1] << 16) | (k[4 * i + 2] << 8) | k[4 * i + 3]


def key_change_set(c, nk, kt, ro, krn, ken, ti, sgc):
    """{subclass: digits} moving a meter from the key of cipher c to key nk (8 or 16 bytes)."""
    out = {
        3: encode(
            2, 3, {"nkho": _word(nk, 0), "kt": kt, "ro": ro, "krn": krn, "kenho": ken >> 4}, c
        ),
        4: encode(2, 4, {"nklo": _word(nk, len(nk) // 4 - 1), "ti": ti, "kenlo": ken & 15}, c),
    }
    if len(nk) == 16:  # MISTY1: NKHO, NKMO2, NKMO1, NKLO
        out[8] = encode(2, 8, {"nkmo2": _word(nk, 1), "sgclo": sgc & 0xFFF}, c)
        out[9] = encode(2, 9, {"nkmo1": _word(nk, 2), "sgcho": sgc >> 12}, c)
    return out


def typo(s):
    """s with one typing mistake (never s itself)."""
    while True:
        i = below(20)
        how = below(6)
        if how == 0:  # another digit
            t = s[:i] + str(below(10)) + s[i + 1 :]
        elif how == 1:  # two digits swapped
            i = min(i, 18)
            t = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        elif how == 2:  # two digits wrong
            j = below(20)
            t = s[:i] + str(below(10)) + s[i + 1 :]
            t = t[:j] + str(below(10)) + t[j + 1 :]
        elif how == 3:  # one left out, one added at the end
            t = s[:i] + s[i + 1 :] + str(below(10))
        elif how == 4:  # one left out
            t = s[:i] + s[i + 1 :]
        else:  # one typed twice
            t = s[:i] + s[i] + s[i:]
        if t != s:
            return t


class Fuzz:
    def __init__(self, n, seed, ea):
        random.seed(seed)
        self.n = n
        self.ea = ea
        self.klen = 8 if ea == "sta" else 16
        self.subs = (3, 4) if ea == "sta" else (3, 4, 8, 9)
        self.slots = {}
        self.kinds = [0] * len(KINDS)
        self.results = {}
        self.forged = {}  # "credit"/"management"/"key change section" -> count
        self.cuts = self.locked_inputs = self.key_changes = self.skipped_locks = 0
        self.now = ticks_add(0, -below(1 << 20))  # the clock wraps soon after the start
        self.tid = 5000000
        self.pool = []  # [digits, accepted] of credit (and management) tokens made
        self.accepted_credit = 0
        self.class0 = 0
        self.scratch = array("I", bytes(12))
        key = bytes(rnd(8) for _ in range(self.klen))
        self.m = Meter(RamStore(self.slots))
        self.m.personalise(
            profile(decoder_key=key, ea=ea),
            self.tid - 100,
        )
        self.queue = []  # the sections of a set still to type, last first
        self.others = []  # sections of sets under keys other than the meter's
        self.use_key(key)

    # -- the vending side, as the fuzzer plays it ----------------------------------------
    def use_key(self, key):
        """Make tokens under `key` from now on, with two fresh key change sets under it; the
        sets made under the key before, and one under a stranger's key, go to `others`."""
        for old in getattr(self, "sets", ()):
            self.others.extend(old.values())
        stranger = cipher_for(bytes(rnd(8) for _ in range(self.klen)))
        self.others.extend(key_change_set(stranger, key, 2, 0, 1, 255, 1, 1).values())
        if len(self.others) > 32:
            del self.others[: len(self.others) - 24]
        self.key = key
        self.c = cipher_for(key)
        self.issued = {}  # (position, word) of every new key word in a set under this key
        self.sets = [self.new_set(), self.new_set()]

    def new_set(self):
        k = below(100)
        nk = self.key if k < 3 else bytes(rnd(8) for _ in range(self.klen))  # 3%: same key
        kt = 0 if k in (3, 4, 5) else (2, 2, 3, 1)[below(4)]
        ro = 1 if below(100) < 8 else 0
        ken = 255 if below(10) else below(256)
        for i in range(self.klen // 4):
            self.issued[(i, _word(nk, i))] = 1
        return key_change_set(self.c, nk, kt, ro, 1 + below(15), ken, below(256), rnd(24))

    def next_tid(self):
        if below(10) == 0:  # an older TID: USED, OLD, or accepted if not yet seen
            return max(0, self.tid - 1 - below(200))
        self.tid += 1 + below(3)
        return self.tid

    def credit(self):
        k = below(10)
        raw = rnd(14) if k < 6 else rnd(16) if k < 8 else 0xC000 | rnd(14)  # up to 1820162.4
        t = encode(0, below(4), {"tid": self.next_tid(), "rnd": rnd(4), "amount": raw}, self.c)
        self.remember(t)
        return t

    def management(self):
        sub = 1 if below(20) == 0 else (0, 2, 5, 6, 7)[below(5)]  # 1 clears credit: seldom
        if sub == 1:
            reg = (0, 1, 2, 3, 0xFFFF, rnd(16))[below(6)]
        else:
            reg = rnd(16)
        t = encode(2, sub, {"register": reg, "tid": self.next_tid(), "rnd": rnd(4)}, self.c)
        self.remember(t)
        return t

    def remember(self, t):
        if len(self.pool) >= 400:
            del self.pool[:100]
        self.pool.append([t, False])

    def section(self):
        if self.queue:
            return self.queue.pop()
        if below(3) == 0:  # a customer types a whole set, in some order, perhaps not all of it
            s = self.sets[below(4) == 0]
            q = [s[sub] for sub in self.subs]
            for i in range(len(q) - 1, 0, -1):
                j = below(i + 1)
                q[i], q[j] = q[j], q[i]
            if below(5) == 0:
                q.pop(below(len(q)))
            if below(5) == 0:
                q.insert(below(len(q) + 1), q[below(len(q))])
            self.queue = q
            return self.queue.pop()
        k = below(100)
        if k < 70:
            s = self.sets[0]
        elif k < 85:
            s = self.sets[1]
        else:
            return self.others[below(len(self.others))]
        return s[self.subs[below(len(self.subs))]]

    def test_token(self):
        sub = below(2)
        mfr = 0 if below(10) else 1 + below(99)
        ctl = rnd(30) if sub == 0 else rnd(28)
        return encode(1, sub, {"mfr": mfr, "control": ctl}, None)

    def make(self):
        """(kind, digits, pool entry or None)"""
        k = 999 if self.queue else below(1000)  # the rest of a set being typed comes first
        i = 0
        while k >= MIX[i][1]:
            i += 1
        kind = MIX[i][0]
        entry = None
        if kind == GUESS:  # what an attacker types: 20 digits that make a class 0 token
            self.scratch[0] = rnd(24)
            self.scratch[1] = rnd(24)
            self.scratch[2] = rnd(16)
            t = digits.format(0, self.scratch)
        elif kind == RAND20:
            t = "%05d%05d%05d%05d" % (below(100000), below(100000), below(100000), below(100000))
        elif kind == OTHER:
            n = below(41)
            t = "".join(CHARS[below(len(CHARS))] for _ in range(n))
            if below(4) == 0:
                t = bytes(rnd(8) for _ in range(n))
        elif kind == TYPO:
            src = below(4)
            t = typo(
                self.credit() if src < 2 else self.management() if src == 2 else self.section()
            )
        elif kind == CREDIT:
            t = self.credit()
            entry = self.pool[-1]
        elif kind == AGAIN:
            entry = self.pool[below(len(self.pool))] if self.pool else None
            t = entry[0] if entry else self.credit()
        elif kind == MGMT:
            t = self.management()
            entry = self.pool[-1]
        elif kind == TEST:
            t = self.test_token()
        else:
            t = self.section()
        if kind >= CREDIT and below(20) == 0:
            t = t.encode()  # typed as bytes: the same digits
        return kind, t, entry

    # -- the world ---------------------------------------------------------------------------
    def move_clock(self, kind):
        k = below(1000)
        if kind == KCT and k < 800:
            k = 0  # mostly, the sections of a set are typed one after the other
        if k < 700:
            dt = below(3000)
        elif k < 850:
            dt = 3000 + below(60000)
        elif k < 950:
            dt = 60000 + below(140000)  # across the key change window, sometimes
        elif k < 990:
            dt = below(48 * 3600 * 1000)  # hours, up to two days
        elif k < 995:
            dt = -1 - below(5000)  # a clock stepped back
        else:
            dt = 0
        self.now = ticks_add(self.now, dt)
        left = self.m.lock_left(self.now)
        if left and below(10):  # mostly, type only once the lock is over
            self.now = ticks_add(self.now, left * 1000)
            self.skipped_locks += 1

    def power_cut(self):
        m = self.m
        m.tick(self.now)
        before = self.essentials(m)
        lock = m.lock_ms
        held = m.kct.held
        self.m = m = None
        gc.collect()
        self.m = m = Meter(RamStore(self.slots))
        self.now = ticks_add(0, rnd(20) if below(2) else -below(1 << 20))  # restarted
        self.cuts += 1
        if m.fault:
            raise Violation("power cut: the meter came back faulted: %s" % m.fault)
        if self.essentials(m) != before:
            raise Violation("power cut changed the state: %r -> %r" % (before, self.essentials(m)))
        if m.lock_ms < lock or m.lock_ms > LOCK_CEILING * 1000 or (m.lock_ms and not lock):
            raise Violation("power cut: lock %d ms before, %d ms after" % (lock, m.lock_ms))
        if m.kct.held & ~held:
            raise Violation("power cut: held sections %d before, %d after" % (held, m.kct.held))

    @staticmethod
    def essentials(m):
        return (
            list(m.balance),
            list(m.tids.tids[: m.tids.count]),
            m.key,
            m.kt,
            m.krn,
            m.ken,
            m.ti,
            m.sgc,
            m.base_date,
            m.fails,
            m.max_power,
            m.tariff,
            m.unbalance,
            m.water_factor,
            m.tamper,
        )

    # -- one input -------------------------------------------------------------------------
    def step(self, i):
        kind, t, entry = self.make()
        self.move_clock(kind)
        self.kinds[kind] += 1
        m = self.m
        m.tick(self.now)  # what apply does first: the state it starts from
        before = _state(m)
        fails0 = m.fails
        lock0 = m.lock_ms
        seq0 = m.store.seq
        decodes0 = _decodes[0]
        total0 = sum(m.balance)
        if kind in FORGED and not lock0 and digits.parse(t, self.scratch) == 0:
            self.class0 += 1  # a class 0 token made without the key: a guess at credit
        try:
            r = m.apply(t, self.now)
        except Exception as e:  # noqa: BLE001  (the first invariant: nothing raises)
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
            raise Violation("apply raised %s: %s" % (type(e).__name__, e)) from None
        code = r.code
        name = r.name
        self.results[name] = self.results.get(name, 0) + 1
        m = self.m
        if lock0:
            self.locked_inputs += 1
            if code != R.LOCKED:
                raise Violation("locked (%d ms left), yet %s" % (lock0, name))
            if _decodes[0] != decodes0:
                raise Violation("locked, yet the token was decoded")
            if _state(m) != before or m.store.seq != seq0:
                raise Violation("locked, yet the state changed")
        elif code == R.LOCKED:
            raise Violation("LOCKED with no lock")
        if m.lock_ms > LOCK_CEILING * 1000 or (r.seconds or 0) > LOCK_CEILING:
            raise Violation("a lock of %d ms (result %r)" % (m.lock_ms, r))
        if code in GOOD:
            self.good(kind, entry, r, fails0, total0)
            if m.lock_ms != lock0:
                raise Violation("%s changed the lock" % name)
        elif code != R.LOCKED:
            self.refused(r, before, fails0, lock0)
        if i % 1000 == 0 and m.status()["lock_left"] > LOCK_CEILING:
            raise Violation("status() shows a lock over %d s" % LOCK_CEILING)

    def good(self, kind, entry, r, fails0, total0):
        m = self.m
        code = r.code
        credit = code == R.ACCEPT and r.amount is not None
        if m.fails != fails0:  # a bought token buys no guesses
            raise Violation("%r changed the guess count %d -> %d" % (r, fails0, m.fails))
        if credit:
            if sum(m.balance) != total0 + r.amount:
                raise Violation("%r: balances %d -> %d" % (r, total0, sum(m.balance)))
            self.accepted_credit += 1
        if kind in FORGED:
            what = None  # a mistyped test token needs no key: its ACCEPT is no forgery
            if credit:
                what = "credit"
            elif code == R.ACCEPT and r.register is not None:
                what = "management"
            elif code == R.KEY_CHANGED:
                what = "key change"
            elif code != R.ACCEPT:
                what = "key change section"
            if what:
                self.forged[what] = self.forged.get(what, 0) + 1
        if entry is not None and code == R.ACCEPT:
            if entry[1]:
                raise Violation("%s accepted twice" % entry[0])
            entry[1] = True
        if code == R.KEY_CHANGED:
            self.key_changes += 1
            key = m.key
            for i in range(len(key) // 4):
                if (i, _word(key, i)) not in self.issued:
                    self.forged["key from a forged section"] = (
                        self.forged.get("key from a forged section", 0) + 1
                    )
                    break
            self.use_key(key)

    def refused(self, r, before, fails0, lock0):
        m = self.m
        code = r.code
        if code == R.STORAGE:
            raise Violation("STORAGE from a store in RAM: %s" % m.fault)
        if code in SET_REFUSED:
            # All but the held sections, which a refused set drops: the state `before` held,
            # loaded into a scratch meter, against this one.
            if m.kct.held:
                raise Violation("%r left sections held" % r)
            was = Meter(RamStore({"ram.0": (1, before)}), m.tids.capacity, m.kct.window)
            if self.essentials(was) != self.essentials(m) or was.lock_ms != m.lock_ms:
                raise Violation("%r changed the state" % r)
            # as a vending office would, make new sets (the refused one goes to `others`)
            self.others.extend(self.sets[0].values())
            self.sets = [self.new_set(), self.new_set()]
        else:
            f, lk = m.fails, m.lock_ms
            m.fails = fails0
            m.lock_ms = lock0
            same = _state(m) == before
            m.fails, m.lock_ms = f, lk
            if not same:
                raise Violation("%r changed the state" % r)
        if code in GUESSES:
            if m.fails != min(fails0 + 1, 255):
                raise Violation("%r: guess count %d -> %d" % (r, fails0, m.fails))
            want = 0
            if m.fails >= LOCK_AFTER:
                want = min(LOCK_FIRST << min(m.fails - LOCK_AFTER, 8), LOCK_MAX)
            if m.lock_ms != want * 1000 or (r.seconds or 0) != want:
                raise Violation(
                    "%r: guess %d locks for %d ms, not %d s" % (r, m.fails, m.lock_ms, want)
                )
        elif m.fails != fails0 or m.lock_ms != lock0:
            raise Violation(
                "%r: guess count %d -> %d, lock %d -> %d ms"
                % (r, fails0, m.fails, lock0, m.lock_ms)
            )

    # -- the run -----------------------------------------------------------------------------
    def run(self):
        t0 = ticks_ms()
        n = self.n
        print(
            "fuzz: %d inputs through Meter.apply (%s, seed %s, %s meter)"
            % (n, sys.implementation.name, SEED, self.ea)
        )
        for i in range(1, n + 1):
            try:
                self.step(i)
                if below(400) == 0:
                    self.power_cut()
                elif below(300) == 0:
                    self.m.consume(below(2000), below(4))
            except Exception as v:  # noqa: BLE001  a Violation, or what consume() raised
                if not isinstance(v, Violation) and hasattr(sys, "print_exception"):
                    sys.print_exception(v)
                print("VIOLATION at input %d (seed %s): %s: %s" % (i, SEED, type(v).__name__, v))
                print("violations: 1 (stopped at the first)")
                return 1
            if i % 100000 == 0 or i == n:
                s = (ticks_ms() - t0) / 1000
                print(
                    "%9d inputs  %7.1f s  %6.0f inputs/s  forged: %d  violations: 0"
                    % (i, s, i / s if s else 0, sum(self.forged.values()))
                )
        s = (ticks_ms() - t0) / 1000
        print("inputs by kind:")
        for k, name in enumerate(KINDS):
            print("  %-22s %9d" % (name, self.kinds[k]))
        print("results:")
        for name in sorted(self.results):
            print("  %-22s %9d" % (name, self.results[name]))
        print(
            "typed while locked %d (the rest waited for the lock: %d), power cuts %d, key "
            "changes %d, credit accepted %d"
            % (
                self.locked_inputs,
                self.skipped_locks,
                self.cuts,
                self.key_changes,
                self.accepted_credit,
            )
        )
        made = sum(self.kinds[k] for k in FORGED)
        print(
            "made without the key: %d inputs, %d of them decoded as class 0; accepted as "
            "credit: %d (2**-18 of the class 0 ones expects %.2f)"
            % (made, self.class0, self.forged.get("credit", 0), self.class0 / 262144)
        )
        other = ["%s %d" % (k, v) for k, v in sorted(self.forged.items()) if k != "credit"]
        print("made without the key, and taken as: %s" % (", ".join(other) or "nothing else"))
        print("violations: 0; %d inputs in %.1f s, %.0f inputs/s" % (n, s, n / s))
        return 0


def _arg(i, env, default):
    if len(sys.argv) > i:
        return sys.argv[i]
    return os.getenv(env) or default


N = int(_arg(1, "FUZZ_N", "1000000"))
SEED = int(_arg(2, "FUZZ_SEED", "1"))
EA = _arg(3, "FUZZ_EA", "sta")
if __name__ == "__main__":
    sys.exit(Fuzz(N, SEED, EA).run())
