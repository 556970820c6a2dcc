# selftest_rules.py  the bring-up self-test (firmware/selftest.py) under fake drivers, in
# micropython: the I2C addresses shown, each key shown, the relay clicking and always left open
# (a display that fails, an energy source that fails, Ctrl-C during the click), the energy
# reading and its errors shown; and startup.boot() running it, with no watchdog, when * is held.
import sys
import time

# `machine` is fake_machine: mptest.py --fake-machine puts it there before this module loads.
import fake_machine
import selftest
import startup
from demo_meter import profile

import hal_sim
from hal.pcf8574_lcd import I2cLcd
from hal.pzem import Pzem
from hal.s0 import S0
from hal.wiring import LateDisplay


class Stop(Exception):
    """Ends a run from the test's side (the keypad has no more keys)."""


class Bus:
    """An I2C bus: scan() lists the devices on it, writeto() reaches one or fails (ENODEV)."""

    def __init__(self, *devices):
        self.devices = {d.addr: d for d in devices}

    def scan(self):
        return sorted(self.devices)

    def writeto(self, addr, buf):
        if addr not in self.devices:
            raise OSError(19)
        return self.devices[addr].writeto(addr, buf)


class Chip:
    """A device on the bus that is not the LCD (an EEPROM)."""

    def __init__(self, addr):
        self.addr = addr

    def writeto(self, addr, buf):
        return len(buf)


class Keypad:
    """Scripted keys: one item per scan (None: no key; a callable: run it, no key); when
    they run out, None, or Stop with stop=True."""

    def __init__(self, keys, stop=False):
        self.keys = list(keys)
        self.stop = stop

    def scan(self):
        if not self.keys:
            if self.stop:
                raise Stop
            return None
        k = self.keys.pop(0)
        if callable(k):
            k()
            return None
        return k


class Display:
    rows = 2
    cols = 16

    def __init__(self, fail=0):
        self.frames = []
        self.fail = fail  # shows that fail before one works; -1: every one
        self.recovers = 0

    def show(self, lines):
        if self.fail:
            self.fail -= 1 if self.fail > 0 else 0
            raise OSError(5)  # EIO: a loose wire
        assert len(lines) == self.rows and all(len(s) == self.cols for s in lines), lines
        self.frames.append([s.rstrip() for s in lines])

    def recover(self):
        self.recovers += 1

    def shown(self, top, bottom=None):
        return any(f[0] == top and (bottom is None or f[1] == bottom) for f in self.frames)


class Relay:
    def __init__(self, clock=None):
        self.states = []
        self.closed = None
        self.clock = clock
        self.at = []  # the time of each change, with a clock

    def set(self, closed):
        self.closed = bool(closed)
        self.states.append(self.closed)
        if self.clock is not None:
            self.at.append(self.clock.ms)


class Clock:
    """ticks_ms() and sleep_ms() for the self-test: time moves only when it sleeps, and
    starts a second before the wrap of ticks_ms."""

    def __init__(self):
        self.ms = time.ticks_add(0, -1000)
        self.slept = 0

    def ticks(self):
        return self.ms

    def sleep(self, ms):
        self.ms = time.ticks_add(self.ms, ms)
        self.slept += ms


class Failing:
    """An energy source whose driver raises."""

    watts = None
    error = ""
    errors = 0

    def read(self, now_ms):
        raise RuntimeError("the UART is gone")


def _dev(keys=("#", "#"), **more):
    clock = Clock()
    pzem = hal_sim.SimPzem()
    pzem.power_x10 = 23004  # 2300.4 W
    dev = {
        "keypad": Keypad(keys),
        "display": Display(),
        "relay": Relay(clock),
        "led": Relay(),
        "clock": clock,
        "energy": Pzem(pzem),
        "i2c": Bus(Chip(0x27)),
    }
    dev.update(more)
    return dev


def _run(dev, seconds=10, sleep=None):
    said = []
    c = dev["clock"]
    selftest.run(
        dev, seconds=seconds, sleep_ms=sleep or c.sleep, ticks_ms=c.ticks, out=said.append
    )
    return "\n".join(said)


def test_the_i2c_addresses_found_are_shown_and_the_lcd_backpack_named():
    dev = _dev(i2c=Bus(Chip(0x3F), Chip(0x50)))
    said = _run(dev)
    assert "I2C: 0x3F 0x50" in said, said
    assert "0x3F is the LCD backpack" in said, said
    assert dev["display"].shown("I2C 3F 50", "LCD AT 0x3F"), dev["display"].frames
    dev = _dev(i2c=Bus(Chip(0x50)))
    said = _run(dev)
    assert "no LCD backpack: expected 0x27 (PCF8574T) or 0x3F (PCF8574AT)" in said, said
    assert dev["display"].shown("I2C 50", "NO 0x27/0x3F"), dev["display"].frames
    dev = _dev(i2c=Bus())
    said = _run(dev)
    assert "I2C: no device answers" in said and dev["display"].shown("I2C NONE"), said
    stuck = Bus()

    def scan():
        raise OSError(116)  # ETIMEDOUT: SDA or SCL held low

    stuck.scan = scan
    dev = _dev(["2", "#", "#"], i2c=stuck)
    said = _run(dev)
    assert "I2C: scan failed" in said and dev["display"].shown("I2C SCAN FAILED"), said
    assert "KEY 2" in said and dev["relay"].states.count(True) == 1, said


def test_each_key_pressed_is_shown_and_printed_until_hash_twice():
    keys = ["5", None, "A", "*", None, "#", "0", "#", "#", "7"]
    dev = _dev(keypad=Keypad(keys, stop=True))
    said = _run(dev, seconds=None)
    lines = said.split("\n")
    for k in "5A*#0":
        assert "KEY " + k in lines, (k, said)
        assert dev["display"].shown("KEY " + k), (k, dev["display"].frames)
    assert lines.count("KEY #") == 3, said  # a lone # does not end it
    assert dev["keypad"].keys == ["7"], "the self-test went on after # twice"
    assert dev["display"].frames[-1] == ["SELF TEST END", "RESET: METER"]


def test_the_keys_are_shown_for_the_seconds_asked():
    dev = _dev([None] * 1000 + ["9"], keypad=Keypad([None] * 1000 + ["9"], stop=True))
    c = dev["clock"]
    said = _run(dev, seconds=3)
    left = dev["keypad"].keys
    assert "KEY 9" not in said and 600 < len(left) < 800, len(left)  # a scan every 10 ms
    steps = selftest.I2C_MS + selftest.RELAY_MS + selftest.ENERGY_MS
    assert 3000 <= c.slept - steps <= 3020, c.slept


def test_the_relay_clicks_for_half_a_second_and_ends_open():
    dev = _dev()
    said = _run(dev)
    r = dev["relay"]
    assert r.states.count(True) == 1, r.states
    i = r.states.index(True)
    closed_ms = time.ticks_diff(r.at[i + 1], r.at[i])
    assert r.states[i + 1] is False and closed_ms == selftest.RELAY_MS, r.at
    assert r.states[0] is False and r.closed is False, r.states
    assert dev["led"].states[-1] is False
    assert dev["display"].shown("RELAY CLOSED") and dev["display"].shown("RELAY OPEN")
    assert "relay: open" in said, said


def test_a_meter_in_service_gets_no_relay_click():
    # Anyone can hold * at power-up: on a board that holds a meter's state the self-test must
    # not close the relay (that would be supply without credit).
    from meter.meter import Meter
    from meter.store import RecordStore
    from scratch import fresh_dir

    d = fresh_dir("selftest_rules")
    m = Meter(RecordStore(d + "/meter"))
    m.personalise(
        profile(decoder_key=b"\x01" * 8),
        1000,
    )
    dev = _dev(state=d + "/meter")
    said = _run(dev)
    assert True not in dev["relay"].states and "relay: not clicked" in said, said
    assert "RELAY NOT TESTED" in " ".join(" ".join(f) for f in dev["display"].frames)
    dev = _dev(state=fresh_dir("selftest_rules") + "/meter")  # a blank board: it clicks
    _run(dev)
    assert dev["relay"].states.count(True) == 1


def test_ctrl_c_while_the_relay_is_closed_leaves_it_open():
    dev = _dev()
    c = dev["clock"]

    def sleep(ms):
        if dev["relay"].closed:
            raise KeyboardInterrupt  # mpremote connecting, or Ctrl-C at the REPL
        c.sleep(ms)

    try:
        _run(dev, sleep=sleep)
        raise AssertionError("the interrupt did not come through")
    except KeyboardInterrupt:
        pass
    assert True in dev["relay"].states and dev["relay"].closed is False, dev["relay"].states


def test_the_relay_is_opened_first_and_left_open_when_the_keypad_fails():
    dev = _dev(["1"], keypad=Keypad(["1"], stop=True))
    dev["relay"].set(True)  # closed before the self-test (it opens it first)
    try:
        _run(dev, seconds=None)
        raise AssertionError("the keypad's error did not come through")
    except Stop:
        pass
    assert dev["relay"].closed is False and dev["relay"].states[1] is False


def test_a_display_that_fails_does_not_stop_the_self_test():
    dev = _dev(["5", "#", "#"], display=Display(fail=-1))
    said = _run(dev)
    assert said.count("display error:") == 1, said  # once, not at every frame
    assert "KEY 5" in said and "relay: open" in said and "energy: PZEM" in said, said
    # SELF TEST, I2C, RELAY CLOSED and OPEN, and the energy once a second for 3 s
    assert "display errors 7" in said, said
    assert dev["relay"].states.count(True) == 1 and dev["relay"].closed is False
    assert dev["display"].recovers > 0, "a failed display is set up again before a show"


def test_an_lcd_missing_at_first_shows_the_keys_once_it_answers():
    # The board's own display (LateDisplay, I2cLcd) on a bus with no LCD: the self-test goes
    # on, and the glass shows the keys once the backpack answers (plugged in at a key).
    bus = Bus()
    lcd = hal_sim.SimPcf8574Hd44780(0x27)

    def plug():
        bus.devices[0x27] = lcd

    dev = _dev(
        ["1", plug, "2", "#", "#"],
        i2c=bus,
        display=LateDisplay(lambda: I2cLcd(bus, 0x27, 2, 16), 2, 16),
    )
    said = _run(dev)
    assert "I2C: no device answers" in said and "display error: OSError(19" in said, said
    assert "KEY 1" in said and "KEY 2" in said, said
    assert lcd.display_lines(2, 16)[0].rstrip() == "SELF TEST END", lcd.display_lines(2, 16)
    assert dev["relay"].closed is False


def test_the_energy_reading_is_shown_watts_and_joules():
    dev = _dev()
    said = _run(dev)
    assert "energy: PZEM 2300 W, 0 J since the start, no error" in said, said
    assert dev["display"].shown("PZEM: OK", "2300 W 0 J"), dev["display"].frames
    assert "energy PZEM 2300 W 0 J" in said, said  # the summary
    # An S0 input at 10,000 imp/kWh (360 J an impulse), an impulse every 100 ms: 3600 W.
    clock = hal_sim.TicksClock(time.ticks_add(0, -1000))
    clock.ticks = clock.now_ms
    pin = hal_sim.SimS0Pin(clock)
    dev = _dev(energy=S0(pin, imp_per_kwh=10000, ticks=clock.now_ms), clock=clock)
    pulses = []

    def sleep(ms):
        if ms == selftest.POLL_MS:  # while the energy is read: an impulse each time
            pin.pulse(30, 70)
            pulses.append(ms)
        else:
            clock.advance(ms)

    said = _run(dev, sleep=sleep)
    assert len(pulses) == 30, len(pulses)
    assert "energy: S0 3600 W, 10800 J since the start, no error" in said, said
    assert dev["display"].shown("S0: OK", "3600 W 10800 J"), dev["display"].frames


def test_an_energy_source_that_does_not_answer_is_shown():
    dev = _dev()
    dev["energy"].uart.silent = True
    said = _run(dev)
    assert "energy: PZEM - W, 0 J since the start, error: no answer" in said, said
    assert dev["display"].shown("PZEM: NO ANSWER", "- W 0 J"), dev["display"].frames
    assert "energy PZEM - W 0 J, no answer" in said, said


def test_an_energy_source_that_raises_is_reported_and_the_test_goes_on():
    dev = _dev(["3", "#", "#"], energy=Failing())
    said = _run(dev)
    assert "energy: FAILING read failed: RuntimeError('the UART is gone',)" in said or (
        "energy: FAILING read failed: RuntimeError('the UART is gone')" in said
    ), said
    assert dev["display"].shown("FAILING: FAILED", "RuntimeError"), dev["display"].frames
    assert "KEY 3" in said and dev["relay"].closed is False, said
    assert dev["relay"].states.count(True) == 1


def test_main_runs_on_the_boards_drivers():
    got = []

    class Board:
        @staticmethod
        def setup():
            return "the drivers"

    run = selftest.run
    selftest.run = lambda dev, seconds=None: got.append((dev, seconds))
    sys.modules["board"] = Board
    try:
        selftest.main(5)
    finally:
        selftest.run = run
        del sys.modules["board"]
    assert got == [("the drivers", 5)], got


class _Board:
    WATCHDOG_MS = 5000

    def __init__(self, keys):
        self.keys = keys

    def setup(self):
        self.dev = _dev(keypad=Keypad(self.keys, stop=True))
        return self.dev


def test_boot_with_star_held_runs_the_self_test_with_no_watchdog():
    fake_machine.reset_fakes()
    saved = selftest.I2C_MS, selftest.RELAY_MS, selftest.ENERGY_MS, selftest.run
    said = []
    run = selftest.run
    selftest.I2C_MS, selftest.RELAY_MS, selftest.ENERGY_MS = 0, 0, 0  # real sleeps here
    selftest.run = lambda dev: run(dev, out=said.append)  # as boot() calls it, quietly
    b = _Board(["*", "4", "#", "#"])
    try:
        startup.boot(b)
    finally:
        selftest.I2C_MS, selftest.RELAY_MS, selftest.ENERGY_MS, selftest.run = saved
    assert not fake_machine.WDT.made, "the self-test must start no watchdog"
    assert "KEY 4" in said and b.dev["display"].shown("KEY 4"), said
    assert b.dev["relay"].states.count(True) == 1 and b.dev["relay"].closed is False
