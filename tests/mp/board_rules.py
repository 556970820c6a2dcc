# board_rules.py  the board's own code (firmware/app.py, hal/wiring.py) under fake drivers and
# a fake `machine`, in micropython: provisioning that leaves no key behind, the loop (energy,
# relay, watchdog, a failing display), the fail-safe and its log, and time across the wrap of
# ticks_ms.
import gc
import json
import os
import time
from binascii import hexlify

import app

# `machine` is fake_machine: mptest.py --fake-machine puts it there before this module loads.
import fake_machine
import startup
from demo_meter import FIELDS, KEY
from fake_clock import FakeClock

from hal.virtual import SimLoad
from meter import results as R
from meter.meter import Meter
from meter.store import RecordStore
from scratch import FailingStore, cipher, fresh_dir
from sts import amount, vending
from sts.blocks import encode
from ui.ui import Ui

PROFILE = dict(FIELDS, manufacture_tid=1000)  # the demo meter, as /meter.json holds it
FAULT = ["METER FAULT     ", "CALL SERVICE    "]


class Stop(Exception):
    """Ends a loop run: the test's keypad has no more keys."""


class Keypad:
    def __init__(self, keys):
        self.keys = list(keys)

    def scan(self):
        if not self.keys:
            raise Stop
        k = self.keys.pop(0)
        if callable(k):  # something that happens at this pass (a load switched on)
            k()
            return None
        return k


class Display:
    rows = 2
    cols = 16

    def __init__(self, fail=0, clock=None):
        self.frames = []
        self.fail = fail  # shows that fail (an I2C error) before one works
        self.tries = []  # the clock at each show tried (with a clock)
        self.clock = clock
        self.recovered = []  # how many shows had been tried at each recover()

    def show(self, lines):
        if self.clock:
            self.tries.append(self.clock.ms)
        if self.fail:
            self.fail -= 1
            raise OSError(5)  # EIO: a loose wire
        self.frames.append(list(lines))

    def recover(self):
        self.recovered.append(len(self.tries))


class Switch:
    def __init__(self, record=True):
        self.states = [] if record else None  # every state set (long runs: None)
        self.closed = None

    def set(self, on):
        self.closed = bool(on)
        if self.states is not None:
            self.states.append(self.closed)


class StepClock(FakeClock):
    """Moves on `step` ms at every reading, as a loop pass takes time."""

    def __init__(self, start_ms=0, step=20):
        FakeClock.__init__(self, start_ms)
        self.step = step

    def now_ms(self):
        self.ms = time.ticks_add(self.ms, self.step)
        return self.ms


class Watchdog:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def _dev(keys, **more):
    d = fresh_dir("board_rules")
    with open(d + "/meter.json", "w") as f:
        json.dump(dict(PROFILE, decoder_key=hexlify(KEY).decode()), f)
    relay = Switch()
    dev = {
        "keypad": Keypad(keys),
        "display": Display(),
        "relay": relay,
        "led": Switch(),
        "clock": StepClock(),
        "energy": SimLoad(relay),
        "state": d + "/meter",
        "profile": d + "/meter.json",
        "log": d + "/meter.log",
    }
    dev.update(more)
    return dev


def _run(dev):
    gc.collect()
    try:
        startup.run(dev, period_ms=0)
    except Stop:
        pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _credit(tid, tenths):
    return encode(0, 0, {"amount": amount.encode(tenths), "tid": tid, "rnd": 5}, cipher(KEY))


def _typed(tok):
    return list(tok) + ["#"]


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
    m, _ = app.make(dict(dev, store=_BrokenStore))  # the flash fails the first write
    assert not m.personalised and m.fault and _exists(dev["profile"])
    m, _ = app.make(dev)  # the next power-up, the flash working again
    assert m.personalised and not _exists(dev["profile"])


def test_supply_stays_off_until_the_state_is_read_and_credit_closes_it():
    tok = _credit(2000, 100)
    dev = _dev([None] * 5 + _typed(tok) + [None] * 5)
    _run(dev)
    states = dev["relay"].states  # (the last is the fail-safe: the test's keypad ran out)
    assert states[0] is False and True in states, states
    assert states.index(True) > 1 + len(tok), "closed before the credit was typed"


class _FailingEnergy(SimLoad):
    """An energy source whose driver fails after some readings."""

    def __init__(self, relay, after):
        SimLoad.__init__(self, relay)
        self.after = after

    def read(self, now_ms):
        self.after -= 1
        if self.after < 0:
            raise RuntimeError("the energy source failed")
        return SimLoad.read(self, now_ms)


def test_an_error_in_the_loop_opens_the_relay_shows_the_fault_and_logs_it():
    tok = _credit(2000, 100)
    dev = _dev(_typed(tok) + [None] * 100, wdt=Watchdog())
    dev["energy"] = _FailingEnergy(dev["relay"], 40)
    try:
        startup.run(dev, period_ms=0)
        raise AssertionError("the error did not come through")
    except RuntimeError:
        pass
    assert True in dev["relay"].states, "the credit closed the relay first"
    assert dev["relay"].states[-1] is False
    assert dev["display"].frames[-1] == FAULT
    # One feed a pass, none after the error: the watchdog restarts the board.
    assert dev["wdt"].feeds == 40, dev["wdt"].feeds
    text = _read(dev["log"])
    assert "METER FAULT" in text and "the energy source failed" in text, text
    assert "Traceback" in text and "read" in text, text


class _BrokenRelay(Switch):
    """A relay driver that fails (after `ok` sets): the fault path must go on past it."""

    def __init__(self, ok):
        Switch.__init__(self)
        self.ok = ok

    def set(self, on):
        self.ok -= 1
        if self.ok < 0:
            raise OSError(5)
        Switch.set(self, on)


def test_a_relay_driver_that_fails_still_leaves_the_fault_shown_and_logged():
    dev = _dev([None] * 10, relay=_BrokenRelay(5))
    try:
        startup.run(dev, period_ms=0)
        raise AssertionError("the relay's error did not come through")
    except OSError:
        pass
    assert dev["display"].frames[-1] == FAULT
    assert dev["led"].states[-1] is True  # the fault LED lit, after the relay failed
    assert "METER FAULT" in _read(dev["log"]) and "OSError" in _read(dev["log"])


def test_the_log_keeps_one_old_file_and_never_stops_the_fault_path():
    dev = _dev([])
    with open(dev["log"], "w") as f:
        f.write("x" * (app.LOG_MAX + 1))
    app.log(dev, "the newest")
    assert _read(dev["log"] + ".old").startswith("xxx") and "the newest" in _read(dev["log"])
    dev["log"] = dev["log"] + "/no/such/dir/meter.log"  # a log that cannot be written
    app.log(dev, "lost")  # nothing raised


def test_a_failed_state_write_in_the_loop_opens_the_relay_and_shows_the_fault():
    dev = _dev([None])
    _run(dev)  # personalised on a working store
    tok = _credit(2000, 100)
    dev = dict(dev, keypad=Keypad(_typed(tok) + [None, None]), relay=Switch(), store=_BrokenStore)
    _run(dev)
    # The loop itself (before the fail-safe the test's empty keypad ends it with) shows the
    # fault with the relay open; nothing was credited.
    assert FAULT in dev["display"].frames[:-1] and dev["relay"].states[-2] is False
    assert True not in dev["relay"].states
    assert Meter(RecordStore(dev["state"])).balance[0] == 0


def test_boot_logs_a_silent_slow_path():
    # A .mpy of another architecture: sts.kernels falls back to the portable code (8x slower
    # for STA on a Cortex-M0). The board says so in its log; an expected fallback (a port with
    # no viper at all) is not news.
    from sts import kernels

    saved = kernels.fallback, kernels.expected
    try:
        kernels.fallback = "viper kernels not loaded: incompatible .mpy arch (ValueError)"
        kernels.expected = False
        dev = _dev([None])
        _run(dev)
        assert "slow path: viper kernels not loaded" in _read(dev["log"]), _read(dev["log"])
        kernels.fallback, kernels.expected = "no viper on this port (webassembly)", True
        dev = _dev([None])
        _run(dev)
        assert "slow path" not in _read(dev["log"])
    finally:
        kernels.fallback, kernels.expected = saved


def test_the_loop_feeds_the_watchdog_once_a_pass():
    dev = _dev([None] * 25, wdt=Watchdog())
    _run(dev)
    assert dev["wdt"].feeds == 25


def test_a_display_that_fails_does_not_stop_the_meter():
    # An I2C error at every show for the first 3 s: the keypad, the meter and the relay go
    # on; the display is tried again once a second, and shows the meter when it answers.
    tok = _credit(2000, 100)
    dev = _dev(_typed(tok) + [None] * 300)
    d = dev["display"] = Display(fail=3, clock=dev["clock"])
    _run(dev)
    assert True in dev["relay"].states[:-1], "the credit was not accepted"
    failed = d.tries[:4]  # three that failed, then the one that worked
    assert [b - a for a, b in zip(failed, failed[1:])] == [1000] * 3, failed  # once a second
    assert d.recovered[:3] == [1, 2, 3], "the display is set up again before each new try"
    assert any(f[0].startswith("CREDIT") or f[0].startswith("ACCEPT") for f in d.frames)
    assert _read(dev["log"]).count("display error") == 1


class _Silent(SimLoad):
    """A load behind an energy source that can stop answering (a PZEM with a pulled wire)."""

    def read(self, now_ms):
        j = SimLoad.read(self, now_ms)
        if self.error:
            self.errors += 1
            self.watts = None
            return 0
        return j


def test_an_energy_source_that_stops_answering_turns_the_supply_off():
    tok = _credit(2000, 100)
    relay = Switch()
    load = _Silent(relay, 3000)

    def fails():
        load.error = "no answer"

    def answers():
        load.error = ""
        load.watts = 3000

    # The credit, 1 s of supply, then 30 s of silence, then answers again.
    keys = _typed(tok) + [None] * 50 + [fails] + [None] * 1500 + [answers] + [None] * 10
    dev = _dev(keys, relay=relay, energy=load)
    _run(dev)
    s = relay.states[1:]  # s[k]: after pass k
    at = len(tok) + 1 + 50 + 1  # the first pass with no answer
    assert s[at - 1] is True and s[at + 498] is True, "10 s of grace for a glitch"
    assert s[at + 500] is False and s[at + 1499] is False, "no measurement: no supply"
    assert s[at + 1501] is True, "it answers again: supply as the meter says"
    assert ["METER FAULT     ", "NO MEASUREMENT  "] in dev["display"].frames
    text = _read(dev["log"])
    assert "no answer for 10 s: supply off" in text and "answers again" in text, text


def test_energy_drains_credit_by_tenths_across_the_wrap_of_ticks():
    # 3600 W for 100 s is 0.1 kWh, counted across the wrap of ticks_ms in 20 ms passes; the
    # register is written once a tenth, not once a pass.
    tok = _credit(2000, 100)
    passes = 5000  # 100 s
    relay = Switch(record=False)
    dev = _dev(_typed(tok) + [None] * passes, relay=relay, energy=SimLoad(relay, 3600))
    dev["clock"] = StepClock(time.ticks_add(0, -50000))
    _run(dev)
    m = Meter(RecordStore(dev["state"]))
    # The supply closed once the token was in: it drew for the passes after that.
    assert m.balance[0] == 99, m.balance
    # 80 s more: 0.08 kWh, not yet a tenth, nothing written; then a power cut (the run
    # ends) loses it, and 100 s more are a tenth again, written once.
    seq = Meter(RecordStore(dev["state"])).store.seq
    for passes, balance, writes in ((4000, 99, 0), (5100, 98, 1)):
        dev = dict(dev, keypad=Keypad([None] * passes))
        _run(dev)
        m = Meter(RecordStore(dev["state"]))
        assert m.balance[0] == balance and m.store.seq - seq == writes, (
            passes,
            m.balance,
            m.store.seq - seq,
        )
        seq = m.store.seq


def test_an_overload_measured_trips_the_relay_for_a_minute():
    tok = _credit(2000, 100)
    limit = encode(2, 0, {"register": amount.encode(1000), "tid": 2001, "rnd": 5}, cipher(KEY))
    dev = _dev(_typed(tok) + _typed(limit) + [None] * 10)
    _run(dev)
    assert dev["relay"].states[-2] is True
    relay = Switch()
    load = SimLoad(relay, 0)

    def switch(watts):
        def at_this_pass():
            load.watts = watts

        return at_this_pass

    # 10 passes at no load, 1500 W at pass 11 for 20 s, then no load again
    dev = dict(
        dev,
        keypad=Keypad([None] * 10 + [switch(1500)] + [None] * 1000 + [switch(0)] + [None] * 2500),
        relay=relay,
        energy=load,
        clock=StepClock(),
    )
    _run(dev)
    s = relay.states[1:]  # run() opens it, then the loop does: s[k] is after pass k
    assert s[1:11] == [True] * 10 and s[11] is False, "an overload trips the relay at once"
    # open for the 60 s of the trip (3000 passes of 20 ms), however small the load since
    back = s.index(True, 11)
    assert 3008 <= back <= 3012, back


def test_a_clock_restart_keeps_credit_and_caps_the_lock():
    guess = encode(0, 0, {"amount": 10, "tid": 2000, "rnd": 5}, cipher(b"\x01" * 8))
    tok = _credit(2001, 100)
    dev = _dev(_typed(tok) + _typed(guess) * 3 + [None])
    dev["clock"] = StepClock(time.ticks_add(0, -100))  # a clock about to wrap
    _run(dev)
    assert Meter(RecordStore(dev["state"])).lock_ms == 10000
    dev = dict(dev, keypad=Keypad([None] * 250))
    dev["clock"] = StepClock(0)  # power-up: ticks from 0 again; 5 s pass
    dev["display"] = Display()
    _run(dev)
    frames = dev["display"].frames
    assert frames[0][1].startswith("ON LOCKED 10s"), frames[0]  # what was left: no more
    assert frames[-2][1].startswith("ON LOCKED 6s"), frames[-2]  # 4.98 s on
    m = Meter(RecordStore(dev["state"]))
    assert m.balance[0] == 100


def test_the_board_wiring_under_a_fake_machine():
    import hal_sim

    fake_machine.reset_fakes()
    from hal.wiring import setup

    d = fresh_dir("board_rules")
    dev = setup(
        "123A456B789C*0#D",
        (6, 7, 8, 9),
        (10, 11, 12, 13),
        4,
        5,
        0x27,
        15,
        True,
        "LED",
        d + "/state",
        ("pzem", 0, 0, 1),
    )
    relay_pin = fake_machine.Pin.made[0]
    assert relay_pin.id == 15 and relay_pin.v == 0, "the relay pin is made first, open"
    # No LCD on the bus: the display fails, and is made again once one answers.
    try:
        dev["display"].show(["A", "B"])
        raise AssertionError("a missing LCD must fail its show")
    except OSError:
        pass
    lcd = hal_sim.SimPcf8574Hd44780()
    fake_machine.I2C.device = lcd
    dev["display"].recover()
    dev["display"].show(["HELLO", "WORLD"])
    assert lcd.display_lines(2, 16) == ["HELLO" + " " * 11, "WORLD" + " " * 11]
    assert dev["energy"].uart.settings["baudrate"] == 9600
    dev["energy"].read(0)
    assert bytes(dev["energy"].uart.sent[:2]) == b"\xf8\x04"  # a read of input registers
    s0 = setup(
        "123A456B789C*0#D",
        (6, 7, 8, 9),
        (10, 11, 12, 13),
        4,
        5,
        0x27,
        15,
        True,
        "LED",
        d + "/state",
        ("s0", 14, 3200, 9000),
    )["energy"]
    assert fake_machine.Pin.made[-1].id == 14 and s0.imp_per_kwh == 3200
    assert s0._min_ms == 1125000 // 9000, "the board's maximum power"
    assert fake_machine.Pin.made[-1].handler is not None, "S0 counts in the pin's interrupt"


class _Board:
    WATCHDOG_MS = 5000

    def __init__(self, keys):
        self.keys = keys

    def setup(self):
        dev = _dev(self.keys)
        dev["log"] = dev["state"] + ".log"
        _Board.dev = dev
        return dev


def test_boot_runs_the_meter_with_the_watchdog_or_the_self_test_with_none():
    fake_machine.reset_fakes()
    b = _Board([None] * 40)  # no key held at power-up
    try:
        startup.boot(b)
    except Stop:
        pass
    assert len(fake_machine.WDT.made) == 1 and fake_machine.WDT.made[0].timeout == 5000
    assert fake_machine.WDT.made[0].feeds > 0
    assert Meter(RecordStore(b.dev["state"])).personalised


def _kct(new):
    c = cipher(KEY)
    return [encode(2, sub, f, c) for sub, f in vending.sections(new, 2, 2, 255, 1)]


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

    def frame(now):  # a pass of the loop: the meter's time first
        m.tick(now)
        return ui.frame(now)

    guess = encode(0, 0, {"amount": 10, "tid": 2000, "rnd": 5}, cipher(b"\x01" * 8))
    m.tick(start)
    for _ in range(3):
        for k in guess + "#":
            ui.key(k, start)
    assert m.lock_left() == 10
    assert frame(at(9000))[1].startswith("OFF LOCKED 1s")
    assert frame(at(9999))[1].startswith("OFF LOCKED 1s")
    assert frame(at(10000))[1].startswith("NO CREDIT")
    for k in "1234":  # an entry typed before the wrap times out 20 s later, after it
        ui.key(k, at(12000))
    assert at(31999) < start and frame(at(31999))[1].startswith("1234")
    assert frame(at(32000))[0].startswith("CREDIT")
    new = b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    k3, k4 = _kct(new)
    m = _meter()  # a key change window across the wrap: 120 s is 120 s
    assert m.apply(k3, start).code == R.KCT_STAGED
    assert m.apply(k4, at(120000)).code == R.KEY_CHANGED and m.key == new
    m = _meter()
    assert m.apply(k3, start).code == R.KCT_STAGED
    assert m.apply(k4, at(120001)).code == R.KCT_TIMEOUT and m.key == KEY


def test_time_enters_the_meter_once_a_pass():
    # The loop ticks the meter; the keypad's token, the energy source, the frame and every
    # query only read its time (a query that moved the clock made two readings disagree).
    g = encode(0, 0, {"amount": 100, "tid": 5000, "rnd": 5}, cipher(b"\x00\x11\x22\x33" * 2))
    keys = list(g + "#") * 3 + ["1", None, None]
    dev = _dev(keys)
    loop = app.Loop(dev)
    m = loop.m
    ticks = []
    tick = m.tick

    def counted(now):
        ticks.append(now)
        tick(now)

    m.tick = counted
    passes = 0
    try:
        while True:
            loop.step()
            passes += 1
    except Stop:
        pass
    assert m.fails == 3 and m.lock_ms, (m.fails, m.lock_ms)
    passes += 1  # (the pass the keypad ended had ticked)
    assert len(ticks) == passes, "%d ticks in %d passes" % (len(ticks), passes)
    left = m.lock_left()
    m.status()
    m.relay_closed()
    loop.ui.frame(time.ticks_add(ticks[-1], 5000))
    assert len(ticks) == passes and m.lock_left() == left, "a query moved the meter's time"


def test_s0_noise_is_never_charged_and_sustained_noise_turns_the_supply_off():
    # Noise on the S0 wire, an edge every 40 ms (past the debounce): 90 kW at 1000 imp/kWh.
    # Not charged; counted and logged; after 10 s of it, the supply is off (METER FAULT)
    # until it stops.
    import hal_sim
    from hal.s0 import S0

    tok = _credit(2000, 100)
    clock = StepClock()
    pin = hal_sim.SimS0Pin(clock)
    s0 = S0(pin, 1000, ticks=lambda: clock.ms)

    def edge():
        pin.handler(pin)

    noise = [None, edge] * 400  # 16 s
    keys = _typed(tok) + [None] * 50 + noise + [None] * 200
    dev = _dev(keys, energy=s0, clock=clock)
    _run(dev)
    s = dev["relay"].states[1:]
    at = len(tok) + 1 + 50
    assert s[at - 1] is True and s[at + 400] is True, "a burst of noise is no fault"
    assert s[at + 600] is False and s[at + 799] is False, [
        (i, s[i]) for i in range(len(s)) if i == 0 or s[i] != s[i - 1]
    ]
    assert s[-2] is True, "the noise stopped: supply as the meter says"
    assert ["METER FAULT     ", "NO MEASUREMENT  "] in dev["display"].frames
    assert Meter(RecordStore(dev["state"])).balance[0] == 100, "noise was charged"
    assert s0.noise >= 399, s0.noise
    text = _read(dev["log"])
    assert "too fast to be energy (noise)" in text and "noise for 10 s: supply off" in text, text


def test_bad_provisioning_data_leaves_a_blank_meter_and_says_why_in_the_log():
    # A /meter.json that is not JSON, or lacks a field, used to stop the board at every boot.
    for text in ("{not json", json.dumps(dict(PROFILE, decoder_key="12"))):
        dev = _dev([None] * 3)
        with open(dev["profile"], "w") as f:
            f.write(text)
        _run(dev)
        assert ["NOT PROVISIONED ", "MAKE PROVISION  "] in dev["display"].frames, text
        assert _exists(dev["profile"]) and not _exists(dev["state"] + ".0"), text
        assert "provisioning" in _read(dev["log"]), text
