# board_rules.py  the board's own code (firmware/main.py) under fake drivers, in micropython:
# provisioning that leaves no key behind, the fail-safe, and time across the wrap of ticks_ms.
import gc
import json
import os
import time
from binascii import hexlify, unhexlify

import main

from hal.clock import FakeClock
from meter import results as R
from meter.meter import Meter
from meter.store import RecordStore
from scratch import FailingStore, cipher, fresh_dir
from sts import amount
from sts.codec import encode
from ui.ui import Ui

KEY = unhexlify("e653341f9d5bf36f")
PROFILE = {"pan": "600727000000000009", "sgc": "123456", "ti": "01", "kt": 2, "krn": 1,
           "ken": 255, "ea": "sta", "base_date": 1993, "manufacture_tid": 1000}
FAULT = ["METER FAULT     ", "CALL SERVICE    "]


class Stop(Exception):
    """Ends a loop run: the test's keypad has no more keys."""


class Keypad:
    def __init__(self, keys):
        self.keys = list(keys)

    def scan(self):
        if not self.keys:
            raise Stop()
        return self.keys.pop(0)


class Display:
    rows = 2
    cols = 16

    def __init__(self):
        self.frames = []

    def show(self, lines):
        self.frames.append(list(lines))


class Switch:
    def __init__(self):
        self.states = []

    def set(self, on):
        self.states.append(bool(on))


class StepClock(FakeClock):
    """Moves on 20 ms at every reading, as a loop pass takes time."""

    def now_ms(self):
        self.ms = time.ticks_add(self.ms, 20)
        return self.ms


def _dev(keys):
    d = fresh_dir("board_rules")
    with open(d + "/meter.json", "w") as f:
        json.dump(dict(PROFILE, decoder_key=hexlify(KEY).decode()), f)
    return {"keypad": Keypad(keys), "display": Display(), "relay": Switch(),
            "led": Switch(), "clock": StepClock(), "state": d + "/meter",
            "profile": d + "/meter.json"}


def _run(dev):
    gc.collect()
    try:
        main.run(dev, period_ms=0)
    except Stop:
        pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _credit(tid, tenths):
    return encode(0, 0, {"amount": amount.encode(tenths), "tid": tid, "rnd": 5}, cipher(KEY))


def test_provisioning_leaves_no_decoder_key_on_the_file_system():
    dev = _dev([None])
    _run(dev)
    assert not _exists(dev["profile"]), "meter.json, with the decoder key, is still there"
    m = Meter(RecordStore(dev["state"]))
    assert m.personalised and m.key == KEY  # the state record holds the key now
    with open(dev["profile"], "w") as f:  # provisioned again over a personalised meter
        f.write("{}")
    _run(dict(dev, keypad=Keypad([None])))
    assert not _exists(dev["profile"])


class _BrokenStore(FailingStore):
    failing = True


def test_a_failed_personalisation_keeps_the_provisioning_file():
    dev = _dev([None])
    orig = main.RecordStore
    main.RecordStore = _BrokenStore  # the flash fails the first write
    try:
        m, _ = main.make(dev)
    finally:
        main.RecordStore = orig
    assert not m.personalised and m.fault and _exists(dev["profile"])
    m, _ = main.make(dev)  # the next power-up, the flash working again
    assert m.personalised and not _exists(dev["profile"])


def test_supply_stays_off_until_the_state_is_read_and_credit_closes_it():
    tok = _credit(2000, 100)
    dev = _dev([None] * 5 + list(tok) + ["#"] + [None] * 5)
    _run(dev)
    states = dev["relay"].states  # (the last is the fail-safe: the test's keypad ran out)
    assert states[0] is False and True in states, states
    assert states.index(True) > 1 + len(tok), "closed before the credit was typed"


def test_an_error_in_the_loop_opens_the_relay_and_shows_the_fault():
    tok = _credit(2000, 100)
    dev = _dev(list(tok) + ["#"] + [None] * 100)

    passes = [0]

    def load_watts():  # an energy driver that fails after some passes
        passes[0] += 1
        if passes[0] > 40:
            raise RuntimeError("the energy source failed")
        return 0

    try:
        main.run(dev, load_watts=load_watts, period_ms=0)
        raise AssertionError("the error did not come through")
    except RuntimeError:
        pass
    assert True in dev["relay"].states, "the credit closed the relay first"
    assert dev["relay"].states[-1] is False
    assert dev["display"].frames[-1] == FAULT


def test_a_failed_state_write_in_the_loop_opens_the_relay_and_shows_the_fault():
    dev = _dev([None])
    _run(dev)  # personalised on a working store
    tok = _credit(2000, 100)
    dev = dict(dev, keypad=Keypad(list(tok) + ["#", None, None]), relay=Switch())

    orig = main.RecordStore
    main.RecordStore = _BrokenStore
    try:
        _run(dev)
    finally:
        main.RecordStore = orig
    # The loop itself (before the fail-safe the test's empty keypad ends it with) shows the
    # fault with the relay open; nothing was credited.
    assert FAULT in dev["display"].frames[:-1] and dev["relay"].states[-2] is False
    assert True not in dev["relay"].states
    assert Meter(RecordStore(dev["state"])).balance[0] == 0


def _kct(new):
    c = cipher(KEY)
    hi = int.from_bytes(new[:4], "big")
    lo = int.from_bytes(new[4:], "big")
    return (encode(2, 3, {"nkho": hi, "kt": 2, "ro": 0, "krn": 2, "kenho": 15}, c),
            encode(2, 4, {"nklo": lo, "ti": 1, "kenlo": 15}, c))


def _meter():
    gc.collect()
    m = Meter(RecordStore(fresh_dir("board_rules") + "/meter"))
    m.personalise(dict(PROFILE, decoder_key=KEY), 1000)
    return m


def test_time_across_the_wrap_of_ticks_ms():
    # ticks_ms wraps (every 2**30 ms on 32-bit boards): the meter and the ui count across it.
    start = time.ticks_add(0, -15000)  # 15 s before the wrap

    def at(ms):
        return time.ticks_add(start, ms)

    m = _meter()
    ui = Ui(m)
    guess = encode(0, 0, {"amount": 10, "tid": 2000, "rnd": 5}, cipher(b"\x01" * 8))
    for _ in range(3):
        for k in guess + "#":
            ui.key(k, start)
    assert m.lock_left() == 10
    assert ui.frame(at(9000))[1].startswith("WAIT 1s")
    assert ui.frame(at(9999))[1].startswith("WAIT 1s")
    assert ui.frame(at(10000))[1].startswith("NO CREDIT")
    for k in "1234":  # an entry typed before the wrap times out 20 s later, after it
        ui.key(k, at(12000))
    assert at(31999) < start and ui.frame(at(31999))[1].startswith("1234")
    assert ui.frame(at(32000))[0].startswith("CREDIT")
    new = b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    k3, k4 = _kct(new)
    m = _meter()  # a key change window across the wrap: 120 s is 120 s
    assert m.apply(k3, start).code == R.KCT_STAGED
    assert m.apply(k4, at(120000)).code == R.KEY_CHANGED and m.key == new
    m = _meter()
    assert m.apply(k3, start).code == R.KCT_STAGED
    assert m.apply(k4, at(120001)).code == R.KCT_TIMEOUT and m.key == KEY
