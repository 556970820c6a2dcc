# forge_mp.py  the keypad lockout as a key-less attacker meets it, measured on the real meter
# Usage: micropython bench/forge_mp.py FIRMWARE_DIR STATE_DIR GUESSES
# For each strategy, a fresh meter (its store in STATE_DIR) takes GUESSES guesses (tokens that
# fail the CRC under its key), each typed the moment the lock lets it in: the fake clock is
# moved on by exactly what the meter says is left of the lock, and 1 ms before that the
# keypad must still say LOCKED. Prints one JSON line per strategy: the clock (ms) at each
# guess, what else the meter said, and how many real tokens the attacker bought (the
# customer as attacker: a 0.1 kWh credit token, the cheapest vend, typed between guesses).
import gc
import json
import os
import sys
from binascii import unhexlify

from demo_meter import KEY, profile

from meter import results as R
from meter.meter import Meter
from meter.store import RecordStore
from sts import amount
from sts.blocks import encode
from sts.sta import Sta

PROFILE = profile()  # the demo meter, its decoder key


def guesses(n):
    """n different credit tokens under another key: to this meter, digits that fail the CRC."""
    other = Sta(unhexlify("0011223344556677"))
    return [
        encode(0, 0, {"tid": 6000000 + i, "rnd": i & 15, "amount": 100}, other) for i in range(n)
    ]


def kct_first_section():
    """A first section of a key change set under the meter's key, as every customer of the
    2024 migration holds one: rollover to 2014, KRN 2, a new key."""
    return encode(2, 3, {"nkho": 0x01234567, "kt": 2, "ro": 1, "krn": 2, "kenho": 15}, Sta(KEY))


class Attacker:
    """Types into one meter, moving the clock on only as far as the lock forces."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.m = Meter(RecordStore(prefix))
        self.m.personalise(PROFILE, 1000)
        self.now = 0  # the meter's clock, ms: it starts again at a power cut
        self.spent = 0  # the attacker's time at the keypad, ms: it does not
        self.at = []  # the attacker's time at each guess the meter decoded
        self.said = {}  # result name -> count, fillers and LOCKED included
        self.cuts = 0
        self.bought = 0  # real 0.1 kWh credit tokens typed

    def advance(self, ms):
        self.now += ms
        self.spent += ms

    def note(self, r):
        self.said[r.name] = self.said.get(r.name, 0) + 1

    def wait_lock(self):
        """Move the clock to the end of the lock, after checking it is there 1 ms before."""
        left = self.m.lock_left(self.now) * 1000
        if left:
            self.advance(left - 1)
            r = self.m.apply("1", self.now)  # not a token, and typed while locked: refused
            if r.code != R.LOCKED:
                raise SystemExit("the lock ended before the meter said: %r" % r)
            self.note(r)
            self.advance(1)

    def type(self, digits, guess=False):
        self.wait_lock()
        r = self.m.apply(digits, self.now)
        self.note(r)
        if r.code == R.LOCKED:
            raise SystemExit("LOCKED after the lock was over: %r" % r)
        if guess:
            if r.code != R.CRC:
                raise SystemExit("a guess was not refused as CRC: %r" % r)
            self.at.append(self.spent)
        return r

    def buy(self):
        """Type a real credit token, the cheapest there is: 0.1 kWh under the meter's key."""
        tok = encode(
            0, 0, {"tid": 2000 + self.bought, "rnd": 1, "amount": amount.encode(1)}, Sta(KEY)
        )
        r = self.type(tok)
        if r.code != R.ACCEPT:
            raise SystemExit("a bought token was refused: %r" % r)
        self.bought += 1

    def power_cut(self):
        """A new Meter on the same store, its clock restarted (a board's ticks_ms)."""
        self.m = None
        gc.collect()
        self.m = Meter(RecordStore(self.prefix))
        self.now = 0
        self.m.tick(self.now)  # the loop's first pass at power-up
        self.cuts += 1


def plain(a, gs):
    for g in gs:
        a.type(g, True)


def filler_every_two(tok):
    def run(a, gs):
        for i, g in enumerate(gs):
            a.type(g, True)
            if i % 2 == 1:
                a.type(tok)

    return run


def token_every(n):
    def run(a, gs):
        for i, g in enumerate(gs):
            a.type(g, True)
            if i % n == n - 1:
                a.buy()

    return run


def patient(a, gs):
    # A guess only each hour of powered time: the count drains as fast as it grows.
    for g in gs:
        a.advance(3600000)
        a.type(g, True)


def cut_every_guess(a, gs):
    for g in gs:
        a.type(g, True)
        a.power_cut()


def cut_when_locked(a, gs):
    # 1 s into every lock, the next guess shows LOCKED: the power is cut, and the lock is
    # then waited out as the new meter counts it.
    for g in gs:
        a.type(g, True)
        if a.m.lock_left(a.now):
            a.advance(1000)
            r = a.m.apply(g, a.now)
            a.note(r)
            if r.code == R.LOCKED:
                a.power_cut()


def main():
    state = sys.argv[1]
    n = int(sys.argv[2])
    gs = guesses(n)
    strategies = (
        ("plain guesses", plain),
        ("kct section after every 2", filler_every_two(kct_first_section())),
        (
            "test token after every 2",
            filler_every_two(encode(1, 0, {"mfr": 0, "control": 512}, None)),
        ),
        ("power cut after every guess", cut_every_guess),
        ("power cut when LOCKED shows", cut_when_locked),
        ("a guess an hour (count drains)", patient),
        ("0.1 kWh token after every guess", token_every(1)),
        ("0.1 kWh token after every 2", token_every(2)),
    )
    for i, (name, run) in enumerate(strategies):
        d = "%s/%d" % (state, i)
        os.mkdir(d)
        a = Attacker(d + "/state")
        run(a, gs)
        print(
            json.dumps(
                {
                    "strategy": name,
                    "spent_ms": a.at,
                    "said": a.said,
                    "cuts": a.cuts,
                    "fails": a.m.fails,
                    "bought": a.bought,
                }
            )
        )
        a = None
        gc.collect()


main()
