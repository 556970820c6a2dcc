# hal_tests.py  the drivers of firmware/hal against the stand-ins of hal_sim.py, one test_*
# function per behaviour; runs in the micropython binary through tests/mp/mptest.py.
import gc
import time

import micropython
from fake_clock import FakeClock

from hal.clock import Clock
from hal.gpio import Led, Relay
from hal.keypad import KEYS_4X3, KEYS_4X4, Keypad
from hal.pcf8574_lcd import I2cLcd
from hal.pzem import Pzem, crc16
from hal.s0 import S0
from hal.ssd1306 import INIT, SSD1306
from hal.virtual import SimLoad
from hal_sim import (
    FakeI2c,
    FakePin,
    SimMatrix,
    SimPcf8574Hd44780,
    SimPzem,
    SimS0Pin,
    TicksClock,
    modbus_crc,
)


def _keypad(keymap=KEYS_4X4, ncols=4, debounce=2):
    m = SimMatrix(keymap, len(keymap) // ncols, ncols)
    return m, Keypad(m.rows, m.cols, keymap, debounce)


def _scans(kp, n):
    got = []
    for _ in range(n):
        k = kp.scan()
        if k is not None:
            got.append(k)
    return got


def _eq(got, want):
    assert got == want, "got %r, want %r" % (got, want)


# keypad
def test_keypad_one_event_per_press():
    m, kp = _keypad()
    m.press("5")
    _eq(_scans(kp, 10), ["5"])
    m.release("5")
    _eq(_scans(kp, 10), [])


def test_keypad_no_repeat_while_held():
    m, kp = _keypad()
    m.press("#")
    _eq(_scans(kp, 500), ["#"])
    m.release("#")
    _scans(kp, 3)
    m.press("#")
    _eq(_scans(kp, 5), ["#"])


def test_keypad_event_after_debounce_scans():
    m, kp = _keypad(debounce=3)
    m.press("7")
    _eq(_scans(kp, 2), [])
    _eq(_scans(kp, 1), ["7"])


def test_keypad_one_scan_glitch_is_no_key():
    m, kp = _keypad()
    m.press("1")
    _eq(_scans(kp, 1), [])
    m.release("1")
    _eq(_scans(kp, 10), [])


def test_keypad_bounce_on_release_gives_one_event():
    m, kp = _keypad()
    m.press("9")
    _eq(_scans(kp, 4), ["9"])
    for _ in range(3):  # contacts chatter as the key comes up
        m.release("9")
        _scans(kp, 1)
        m.press("9")
        _eq(_scans(kp, 1), [])
    m.release("9")
    _eq(_scans(kp, 5), [])


def test_keypad_two_keys_in_sequence():
    m, kp = _keypad()
    got = []
    for k in "12":
        m.press(k)
        got += _scans(kp, 4)
        m.release(k)
        got += _scans(kp, 4)
    _eq(got, ["1", "2"])


def test_keypad_second_key_while_first_held():
    m, kp = _keypad()
    m.press("4")
    _eq(_scans(kp, 4), ["4"])
    m.press("D")
    _eq(_scans(kp, 4), ["D"])


def test_keypad_two_keys_at_once_queue_both():
    m, kp = _keypad()
    m.press("3")
    m.press("0")
    _eq(_scans(kp, 6), ["3", "0"])


def _every_key(keymap, ncols):
    m, kp = _keypad(keymap, ncols)
    got = []
    for k in keymap:
        m.press(k)
        got += _scans(kp, 3)
        m.release(k)
        got += _scans(kp, 3)
    _eq("".join(got), keymap)


def test_keypad_every_key_4x4():
    _every_key(KEYS_4X4, 4)
    _eq(KEYS_4X4, "123A456B789C*0#D")


def test_keypad_every_key_4x3():
    _every_key(KEYS_4X3, 3)
    _eq(KEYS_4X3, "123456789*0#")


def test_keypad_rows_idle_high():
    m, kp = _keypad()
    m.press("8")
    kp.scan()
    _eq([p.v for p in m.rows], [1, 1, 1, 1])


def test_keypad_keymap_must_fit_matrix():
    m = SimMatrix(KEYS_4X4, 4, 4)
    try:
        Keypad(m.rows, m.cols, KEYS_4X3)
    except ValueError:
        return
    raise AssertionError("a 12-key map on a 4x4 matrix was accepted")


def test_keypad_scan_allocates_nothing():
    m, kp = _keypad()
    key = m.bit("6")
    _scans(kp, 10)
    m.pressed = key
    _scans(kp, 10)
    m.pressed = 0
    _scans(kp, 10)
    events = 0
    gc.collect()
    before = gc.mem_alloc()
    for i in range(100):
        if i % 10 == 0:
            m.pressed ^= key  # press and release as it scans: events flow too
        if kp.scan() is not None:
            events += 1
    after = gc.mem_alloc()
    _eq(after - before, 0)
    _eq(events, 5)


# HD44780 on a PCF8574 backpack
def _lcd(rows=2, cols=16):
    sim = SimPcf8574Hd44780(0x27)
    return sim, I2cLcd(sim, 0x27, rows, cols)


def test_lcd_init_sequence():
    sim, lcd = _lcd()
    _eq(
        sim.ops,
        [(0, 0x30), (0, 0x30), (0, 0x30), (0, 0x20), (0, 0x28), (0, 0x0C), (0, 0x01), (0, 0x06)],
    )


def test_lcd_init_leaves_4bit_2line_display_on():
    sim, lcd = _lcd()
    assert not sim.eight_bit, "still in 8-bit mode"
    assert sim.two_line, "1-line mode"
    assert sim.display_on and not sim.cursor and not sim.blink
    assert sim.increment and not sim.shift
    assert sim.half is None, "a nibble left over"
    _eq(sim.display_lines(2, 16), [" " * 16] * 2)


def test_lcd_init_recovers_from_4bit_mode_half_way_through_a_byte():
    # the MCU rebooted but the LCD kept power: it may be anywhere in 4-bit mode
    for pending in (None, 0x0, 0x2, 0x3, 0x8):
        sim = SimPcf8574Hd44780(0x27)
        sim.eight_bit = False
        sim.half = None if pending is None else (0, pending)
        lcd = I2cLcd(sim, 0x27, 2, 16)
        lcd.show(["RESET", "OK"])
        _eq(sim.display_lines(2, 16), ["RESET           ", "OK              "])


def test_lcd_backlight_bit():
    sim, lcd = _lcd()
    assert sim.backlight, "backlight off after init"
    lcd.backlight(False)
    assert not sim.backlight
    lcd.show(["DARK"])
    assert not sim.backlight, "a data write turned the backlight back on"
    lcd.backlight(True)
    lcd.show(["LIT"])
    assert sim.backlight


def test_lcd_show_16x2():
    sim, lcd = _lcd()
    lcd.show(["CREDIT  12.5 kWh", "ACCEPT"])
    _eq(sim.display_lines(2, 16), ["CREDIT  12.5 kWh", "ACCEPT          "])


def test_lcd_show_20x4():
    sim, lcd = _lcd(4, 20)
    frame = ["TOKEN 1234 5678 9012", "3456 7890", "CREDIT    125.5 kWh", "RELAY ON  KRN 1"]
    lcd.show(frame)
    _eq(sim.display_lines(4, 20), [s + " " * (20 - len(s)) for s in frame])


def test_lcd_show_writes_only_changes():
    sim, lcd = _lcd()
    lcd.show(["CREDIT  12.5 kWh", "ACCEPT"])
    n = sim.data_writes()
    lcd.show(["CREDIT  12.5 kWh", "ACCEPT"])
    _eq(sim.data_writes() - n, 0)
    lcd.show(["CREDIT  12.4 kWh", "ACCEPT"])
    _eq(sim.data_writes() - n, 1)
    _eq(sim.display_lines(2, 16), ["CREDIT  12.4 kWh", "ACCEPT          "])


def test_lcd_show_cuts_long_lines_and_blanks_missing_rows():
    sim, lcd = _lcd()
    lcd.show(["0123456789ABCDEFGHIJ", "OLD"])
    lcd.show(["SHORT"])
    _eq(sim.display_lines(2, 16), ["SHORT           ", " " * 16])


def test_lcd_clear_putstr_move_to():
    sim, lcd = _lcd()
    lcd.show(["XXXXXXXXXXXXXXXX", "YYYY"])
    lcd.clear()
    lcd.putstr("HELLO\nWORLD")
    lcd.move_to(10, 1)
    lcd.putstr("!")
    _eq(sim.display_lines(2, 16), ["HELLO           ", "WORLD     !     "])
    lcd.show(["HELLO", "WORLD     !"])  # what clear and putstr wrote is known: no writes
    n = sim.data_writes()
    lcd.show(["HELLO", "WORLD     !"])
    _eq(sim.data_writes(), n)


def test_lcd_putstr_wraps_at_end_of_row():
    sim, lcd = _lcd()
    lcd.putstr("ABCDEFGHIJKLMNOPQR")
    _eq(sim.display_lines(2, 16), ["ABCDEFGHIJKLMNOP", "QR              "])


def test_lcd_custom_char():
    sim, lcd = _lcd()
    glyph = b"\x00\x0a\x1f\x1f\x0e\x04\x00\x00"
    lcd.move_to(3, 0)
    lcd.custom_char(1, glyph)
    _eq(bytes(sim.cgram[8:16]), glyph)
    lcd.putstr("\x01")
    _eq(sim.ddram[3], 1)


def test_lcd_display_off_blanks_glass():
    sim, lcd = _lcd()
    lcd.show(["ON"])
    lcd.display(False)
    _eq(sim.display_lines(2, 16), [" " * 16] * 2)
    lcd.display(True)
    _eq(sim.display_lines(2, 16)[0], "ON" + " " * 14)


# SSD1306
def _oled():
    bus = FakeI2c()
    return bus, SSD1306(bus)


def _commands(writes):
    return [w[1] for a, w in writes if w[0] == 0x80]


def test_ssd1306_init_commands_sent():
    bus, oled = _oled()
    want = []
    for c in INIT:
        want += list(c)
    _eq(_commands(bus.writes)[: len(want)], want)
    _eq(want[0], 0xAE)
    _eq(want[-1], 0xAF)
    assert all(a == 0x3C for a, _ in bus.writes)
    assert all(len(w) == 2 for a, w in bus.writes if w[0] == 0x80)


def test_ssd1306_show_draws_first_row_only():
    bus, oled = _oled()
    bus.writes.clear()
    oled.show(["HELLO"])
    data = [w for a, w in bus.writes if w[0] == 0x40]
    _eq(len(data), 1)
    frame = data[0][1:]
    _eq(len(frame), 1024)
    # MONO_VLSB: byte page * 128 + x holds pixels y = page * 8 .. page * 8 + 7
    assert any(frame[0:256]), "nothing in the first text row (pages 0-1)"
    assert not any(frame[768:1024]), "pixels in the last text row (pages 6-7)"
    assert not any(frame[40:128]) and not any(frame[128 + 40 : 256]), "pixels past 5 chars"
    # the window is the whole panel, set before the pixels go out
    _eq(_commands(bus.writes), [0x21, 0, 127, 0x22, 0, 7])


def test_ssd1306_four_rows():
    bus, oled = _oled()
    oled.show(["A", "B", "C", "D", "E"])
    frame = bus.writes[-1][1][1:]
    for row in range(4):
        assert any(frame[row * 256 : row * 256 + 256]), "row %d empty" % row
    _eq((oled.rows, oled.cols), (4, 16))


def test_ssd1306_show_allocates_nothing_big():
    bus, oled = _oled()
    bus.writes = None
    bus.writeto = lambda addr, buf: None
    lines = ["CREDIT 12.5 kWh", "ACCEPT"]
    oled.show(lines)
    gc.collect()
    before = gc.mem_alloc()
    oled.show(lines)
    assert gc.mem_alloc() - before < 256, "a frame copy per show"


# relay, LED
def test_relay_active_high():
    log = []
    r = Relay(FakePin(0, log))
    r.set(True)
    r.set(False)
    _eq(log, [1, 0])
    assert r.closed is False


def test_relay_active_low():
    log = []
    r = Relay(FakePin(1, log), active_high=False)
    r.set(True)
    r.set(False)
    _eq(log, [0, 1])


def test_led_levels():
    log = []
    led = Led(FakePin(0, log))
    led.set(True)
    led.set(False)
    low = []
    Led(FakePin(1, low), active_high=False).set(True)
    _eq((log, low), ([1, 0], [0]))


# clock
def test_fake_clock_advances():
    c = FakeClock(5000)
    _eq(c.now_ms(), 5000)
    c.advance(1500)
    _eq(c.now_ms(), 6500)
    _eq(c.now_ms() // 1000, 6)


def test_clock_is_ticks_ms():
    # Not the wall clock: boards lose it at every power cut. The ticks, read across their
    # wrap with ticks_diff (meter.diff).
    import time

    from meter import diff

    a = Clock().now_ms()
    assert 0 <= time.ticks_diff(time.ticks_ms(), a) < 1000, "not time.ticks_ms()"
    assert 0 <= diff(Clock().now_ms(), a) < 1000


# energy sources: read(now_ms) -> joules since the last read, watts, error, errors
def _near_wrap(before_ms):
    # ticks_ms() values `before_ms` short of the wrap: ticks_add knows the port's period
    return time.ticks_add(0, -before_ms)


def test_energy_sources_share_one_interface():
    clock = TicksClock()
    sources = (
        SimLoad(Relay(FakePin(0))),
        S0(SimS0Pin(clock), ticks=clock.now_ms),
        Pzem(SimPzem()),
    )
    for src in sources:
        _eq(src.read(0), 0)
        assert src.error == "" and src.errors == 0, type(src).__name__
        assert src.watts is None or isinstance(src.watts, int), type(src).__name__


# SimLoad: the simulator's and page's load, behind the relay
def _load(watts, closed=True):
    relay = Relay(FakePin(0))
    relay.set(closed)
    return relay, SimLoad(relay, watts)


def test_simload_first_read_is_zero():
    relay, load = _load(1000)
    _eq(load.read(123456), 0)
    _eq(load.read(124456), 1000)


def test_simload_energy_only_while_relay_closed():
    relay, load = _load(2000)
    load.read(0)
    _eq(load.read(1000), 2000)
    relay.set(False)
    _eq(load.read(2000), 0)
    _eq(load.watts, 2000)  # the load asked for: the meter trips on it with the relay open
    relay.set(True)
    _eq(load.read(2500), 1000)


def test_simload_no_energy_lost_in_20ms_steps():
    relay, load = _load(1000)
    t = 0
    total = load.read(t)
    for _ in range(18000):  # 360 s
        t += 20
        total += load.read(t)
    _eq(total, 360000)  # 0.1 kWh exactly
    relay, load = _load(333)
    t = 0
    total = load.read(t)
    while t < 2996:
        t += 7
        total += load.read(t)
    t += 4
    total += load.read(t)
    _eq(total, 999)  # 333 W for 3 s, in 7 ms steps of 2.331 J


def test_simload_clock_back_gives_zero():
    relay, load = _load(1000)
    load.read(10000)
    _eq(load.read(9000), 0)
    _eq(load.read(10000), 1000)  # from the reading that went back, not the earlier one


def test_simload_long_pause_exact():
    relay, load = _load(23000)
    load.read(0)
    _eq(load.read(3600000), 82800000)  # 23 kW for an hour, in one read


def test_simload_across_ticks_wrap():
    relay, load = _load(1500)
    t = _near_wrap(300)
    load.read(t)
    _eq(load.read(time.ticks_add(t, 1000)), 1500)


# S0 pulse output
def _s0(imp_per_kwh=1000, start_ms=0, **kw):
    clock = TicksClock(start_ms)
    pin = SimS0Pin(clock)
    return clock, pin, S0(pin, imp_per_kwh, ticks=clock.now_ms, **kw)


def test_s0_irq_on_falling_edge():
    clock, pin, s0 = _s0()
    _eq(pin.trigger, SimS0Pin.IRQ_FALLING)
    assert pin.handler is not None


def test_s0_one_count_per_bounced_impulse():
    clock, pin, s0 = _s0()
    s0.read(clock.ms)
    for _ in range(10):
        pin.pulse(on_ms=30, off_ms=500, bounce=4)
    _eq(pin.edges, 90)  # 1 + 4 closing + 4 opening falling edges an impulse
    _eq(s0.read(clock.ms), 36000)


def test_s0_long_impulse_bouncing_open_needs_a_longer_debounce():
    clock, pin, s0 = _s0(debounce_ms=110)
    s0.read(clock.ms)
    for _ in range(10):
        pin.pulse(on_ms=100, off_ms=100, bounce=4)
    _eq(s0.read(clock.ms), 36000)


def test_s0_counts_every_impulse_at_the_fastest_rate():
    # IEC 62053-31: >= 30 ms closed, >= 30 ms open; bounce on both edges within 5 ms
    clock, pin, s0 = _s0(3200)
    s0.read(clock.ms)
    for _ in range(320):
        pin.pulse(on_ms=30, off_ms=30, bounce=4)
    _eq(s0.read(clock.ms), 360000)


def test_s0_debounce_window():
    clock, pin, s0 = _s0(debounce_ms=40, max_watts=1000000)  # (no edge here is noise)
    s0.read(0)
    s0._handler(pin)
    clock.advance(39)
    s0._handler(pin)  # bounce: too soon after the last counted edge
    clock.advance(1)
    s0._handler(pin)  # 40 ms after it: an impulse
    _eq(s0.read(clock.ms), 7200)


def _joules(imp, pulses, per_read):
    clock, pin, s0 = _s0(imp)
    total = s0.read(clock.ms)
    gap = max(100, s0._min_ms)  # at most the board's maximum power (26 kW)
    for i in range(pulses):
        pin.pulse(on_ms=30, off_ms=gap, bounce=0)
        if i % per_read == per_read - 1:
            total += s0.read(clock.ms)
    return total + s0.read(clock.ms)


def test_s0_1000_imp_per_kwh_joules():
    _eq(_joules(1000, 1000, 7), 3600000)  # 1 kWh, 3600 J an impulse


def test_s0_3200_imp_per_kwh_joules():
    _eq(_joules(3200, 3200, 13), 3600000)  # 1 kWh, 1125 J an impulse


def test_s0_no_energy_lost_when_the_rate_does_not_divide():
    _eq(_joules(7, 7, 1), 3600000)  # 514285 5/7 J an impulse
    _eq(_joules(12800, 12800, 3), 3600000)  # 281.25 J
    _eq(_joules(100000, 1000, 1), 36000)  # 36 J, the most impulses allowed


def test_s0_rejects_imp_per_kwh_out_of_range():
    clock = TicksClock()
    for bad in (0, -1000, 100001):
        try:
            S0(SimS0Pin(clock), bad, ticks=clock.now_ms)
        except ValueError:
            continue
        raise AssertionError("%d imp/kWh accepted" % bad)
    S0(SimS0Pin(clock), 1, ticks=clock.now_ms)
    S0(SimS0Pin(clock), 100000, ticks=clock.now_ms)


def test_s0_watts_from_the_impulse_interval():
    for imp, period, want in (
        (1000, 3600, 1000),
        (3200, 1125, 1000),
        (1000, 360, 10000),
        (3200, 60, 18750),
        (7, 514286, 999),
    ):
        clock, pin, s0 = _s0(imp)
        s0.read(clock.ms)
        for _ in range(3):
            pin.pulse(on_ms=30, off_ms=period - 30, bounce=0)
            clock.advance(-period + 1)  # read 1 ms after the impulse
            s0.read(clock.ms)
            clock.advance(period - 1)
        _eq((imp, period, s0.watts), (imp, period, want))  # 7: 3600000/7 J over 514.286 s


def test_s0_watts_before_and_after_two_impulses():
    clock, pin, s0 = _s0()
    assert s0.watts is None, "watts before the first read"
    s0.read(clock.ms)
    _eq(s0.watts, 0)
    pin.pulse(on_ms=30, off_ms=1770, bounce=0)
    s0.read(clock.ms)
    _eq(s0.watts, 0)  # one impulse: no interval yet
    pin.pulse(on_ms=30, off_ms=1770, bounce=0)
    s0.read(clock.ms)
    _eq(s0.watts, 2000)


def test_s0_watts_decay_without_impulses():
    clock, pin, s0 = _s0()
    s0.read(clock.ms)
    for _ in range(3):
        pin.pulse(on_ms=30, off_ms=3570, bounce=0)  # 1000 W
    s0.read(clock.ms)
    _eq(s0.watts, 1000)
    clock.advance(3600)  # 7.2 s since the last impulse: at most 500 W now
    s0.read(clock.ms)
    _eq(s0.watts, 500)
    clock.advance(600000 - 7200)
    s0.read(clock.ms)
    _eq(s0.watts, 6)  # 3600 J in 600 s
    clock.advance(1)
    s0.read(clock.ms)
    _eq(s0.watts, 0)
    pin.pulse(on_ms=30, off_ms=3570, bounce=0)
    pin.pulse(on_ms=30, off_ms=3570, bounce=0)
    s0.read(clock.ms)
    _eq(s0.watts, 1000)


def test_s0_across_ticks_wrap():
    clock, pin, s0 = _s0(1000, _near_wrap(2))
    s0.read(clock.ms)
    pin.pulse(on_ms=30, off_ms=1770, bounce=3)  # closes 2 ms before the wrap, bounces across
    _eq(s0.read(clock.ms), 3600)
    pin.pulse(on_ms=30, off_ms=1770, bounce=3)  # 1800 ms after the last, across the wrap
    _eq(s0.read(clock.ms), 3600)
    _eq(s0.watts, 2000)
    for _ in range(3):
        pin.pulse(on_ms=30, off_ms=1770, bounce=3)
    assert 0 < clock.ms < 10000, "did not wrap"
    _eq(s0.read(clock.ms), 10800)
    _eq(s0.watts, 2000)


def test_s0_watts_decay_across_ticks_wrap():
    clock, pin, s0 = _s0(1000, _near_wrap(4000))
    s0.read(clock.ms)
    pin.pulse(on_ms=30, off_ms=1770, bounce=0)
    pin.pulse(on_ms=30, off_ms=1770, bounce=0)  # the last impulse 2200 ms before the wrap
    clock.advance(2000)  # now 1600 ms after it
    s0.read(clock.ms)
    _eq(s0.watts, 947)  # 3600 J in the 3800 ms since the last impulse


def test_s0_count_wraps_without_loss():
    clock, pin, s0 = _s0()
    s0._count = s0._taken = 0x1FFFFFFE  # two impulses short of the count's wrap (2**29)
    for _ in range(5):
        pin.pulse(on_ms=30, off_ms=200, bounce=0)
    _eq(s0.read(clock.ms), 18000)
    assert s0._count < 5, "the count grew past 2**29"


def test_s0_handler_allocates_nothing():
    clock, pin, s0 = _s0()
    handler = s0._handler
    handler(pin)
    clock.advance(300)
    n = 0
    gc.collect()
    before = gc.mem_alloc()
    while n < 1000:
        handler(pin)  # counted
        clock.ms += 1
        handler(pin)  # bounce
        clock.ms += 49
        handler(pin)  # noise: 50 ms after the last impulse is 72 kW
        clock.ms += 250
        n += 1
    _eq(gc.mem_alloc() - before, 0)
    micropython.heap_lock()
    try:
        handler(pin)
        clock.ms += 1
        handler(pin)
    finally:
        micropython.heap_unlock()
    _eq(s0.read(clock.ms), 1002 * 3600)
    _eq(s0.noise, 1000)


def test_s0_impulses_faster_than_the_boards_maximum_power_are_noise_never_energy():
    # An edge every 41 ms (just past the debounce) at 1000 imp/kWh was charged as 87.8 kW.
    clock, pin, s0 = _s0()  # 26 kW unless the board says otherwise
    s0.read(clock.ms)
    j = 0
    said = set()
    for i in range(1000):  # 41 s of noise, read as the loop reads
        pin.pulse(on_ms=5, off_ms=36, bounce=0)
        if i % 5 == 4:
            j += s0.read(clock.ms)
            said.add(s0.error)
    j += s0.read(clock.ms)
    _eq(j, 3600)  # the first edge could be an impulse; the rest are noise
    _eq((s0.noise, said), (999, {"noise"}))
    clock.advance(2000)  # quiet for 2 s: no longer an error
    _eq((s0.read(clock.ms), s0.error), (0, ""))
    for _ in range(100):  # just inside 26 kW: every impulse is energy
        pin.pulse(on_ms=30, off_ms=109, bounce=0)
    _eq((s0.read(clock.ms), s0.noise, s0.error), (360000, 999, ""))


def test_s0_rejects_a_max_power_out_of_range():
    for w in (0, 99, 1000001):
        try:
            _s0(max_watts=w)
            raise AssertionError("max_watts %d accepted" % w)
        except ValueError:
            pass


def test_s0_handler_allocates_nothing_on_the_board_clock():
    pin = SimS0Pin(TicksClock())
    s0 = S0(pin)  # time.ticks_ms in the handler
    micropython.heap_lock()
    try:
        s0._handler(pin)
    finally:
        micropython.heap_unlock()
    assert 0 <= time.ticks_diff(time.ticks_ms(), s0._t) < 1000, "not time.ticks_ms()"
    _eq(s0.read(time.ticks_ms()), 3600)


def test_s0_read_allocates_nothing():
    clock, pin, s0 = _s0(3000)
    for _ in range(3):
        pin.pulse(on_ms=30, off_ms=1170, bounce=0)
    s0.read(clock.ms)
    gc.collect()
    before = gc.mem_alloc()
    j = 0
    n = 0
    while n < 100:
        pin.handler(pin)
        clock.ms += 1200
        j += s0.read(clock.ms)
        n += 1
    _eq(gc.mem_alloc() - before, 0)
    _eq((j, s0.watts), (120000, 1000))


# PZEM-004T v3.0 over Modbus-RTU
def test_modbus_crc_check_value():
    # CRC-16/MODBUS of the ASCII digits 1 to 9 is 0x4B37 (the catalogue's check value)
    _eq(crc16(b"123456789", 9), 0x4B37)
    _eq(modbus_crc(b"123456789"), 0x4B37)


def test_modbus_crc_of_the_manuals_request():
    # the read of 10 input registers at the general address, as every PZEM-004T v3.0
    # driver sends it, and at address 1: the CRC goes out low byte first
    for frame in (b"\xf8\x04\x00\x00\x00\x0a\x64\x64", b"\x01\x04\x00\x00\x00\x0a\x70\x0d"):
        c = crc16(frame, 6)
        _eq(bytes((c & 0xFF, c >> 8)), frame[6:])
        _eq(modbus_crc(frame, 6), c)


def test_pzem_request_frame():
    sim = SimPzem()
    pzem = Pzem(sim)
    pzem.read(0)
    _eq(bytes(sim.last), b"\xf8\x04\x00\x00\x00\x0a\x64\x64")
    _eq((sim.requests, sim.bad_requests), (1, 0))
    sim = SimPzem(0x01)
    Pzem(sim, addr=0x01).read(0)
    _eq(bytes(sim.last), b"\x01\x04\x00\x00\x00\x0a\x70\x0d")


def test_pzem_sim_answers_as_the_manual_shows():
    # the manual's example answer (section 2.3), at address 1: 220.0 V, 1.000 A, 220.0 W,
    # 0 Wh, 50.0 Hz, power factor 1.00, no alarm; its CRC bytes are printed as HH LL
    sim = SimPzem(0x01)
    sim.volts_x10, sim.amps_x1000, sim.power_x10, sim.wh = 2200, 1000, 2200, 0
    sim.hz_x10, sim.pf_x100, sim.alarm = 500, 100, 0
    sim.write(b"\x01\x04\x00\x00\x00\x0a\x70\x0d")
    _eq(
        sim.answer()[:23],
        bytes(
            (
                0x01,
                0x04,
                0x14,
                0x08,
                0x98,
                0x03,
                0xE8,
                0x00,
                0x00,
                0x08,
                0x98,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x00,
                0x01,
                0xF4,
                0x00,
                0x64,
                0x00,
                0x00,
            )
        ),
    )
    # a module's answer captured whole, CRC and all (noted in a public Arduino sketch for the
    # module): 225.9 V, 0.035 A, 0.5 W, 2 Wh, 50.1 Hz, power factor 0.06
    sim = SimPzem(0x01)
    sim.volts_x10, sim.amps_x1000, sim.power_x10, sim.wh = 2259, 35, 5, 2
    sim.hz_x10, sim.pf_x100, sim.alarm = 501, 6, 0
    sim.write(b"\xf8\x04\x00\x00\x00\x0a\x64\x64")
    _eq(
        sim.read(25),
        bytes(
            (
                0xF8,
                0x04,
                0x14,
                0x08,
                0xD3,
                0x00,
                0x23,
                0x00,
                0x00,
                0x00,
                0x05,
                0x00,
                0x00,
                0x00,
                0x02,
                0x00,
                0x00,
                0x01,
                0xF5,
                0x00,
                0x06,
                0x00,
                0x00,
                0xF8,
                0xBE,
            )
        ),
    )
    _eq(sim.any(), 0)


def test_pzem_sim_ignores_a_bad_request():
    sim = SimPzem()
    sim.write(b"\xf8\x04\x00\x00\x00\x0a\x64\x65")  # CRC off by one bit
    sim.write(b"\x02\x04\x00\x00\x00\x0a\x70\x3e")  # another module's address
    _eq((sim.any(), sim.bad_requests), (0, 1))


def _pzem(**kw):
    sim = SimPzem()
    sim.volts_x10, sim.amps_x1000, sim.power_x10, sim.wh = 2301, 4348, 10003, 5000
    return sim, Pzem(sim, **kw)


def test_pzem_good_reading():
    sim, pzem = _pzem()
    _eq(pzem.read(0), 0)  # the request goes out
    _eq((sim.requests, sim.any()), (1, 25))
    _eq(pzem.read(40), 0)  # the first reading is the energy baseline
    _eq((pzem.volts_x10, pzem.amps_x1000, pzem.watts, pzem.wh), (2301, 4348, 1000, 5000))
    _eq((pzem.error, pzem.errors), ("", 0))


def test_pzem_big_values():
    sim, pzem = _pzem()
    sim.amps_x1000, sim.power_x10, sim.wh = 100000, 230000, 9999990  # 100 A, 23 kW, 9999.99 kWh
    pzem.read(0)
    pzem.read(40)
    _eq((pzem.amps_x1000, pzem.watts, pzem.wh), (100000, 23000, 9999990))


def test_pzem_value_out_of_range_is_a_bad_reading():
    sim, pzem = _pzem()
    sim.wh = 0x20000000  # 536,870 kWh: no PZEM-004T counts that far
    pzem.read(0)
    pzem.read(40)
    _eq((pzem.error, pzem.errors, pzem.wh, pzem.watts), ("bad value", 1, None, None))


def test_pzem_watts_rounded_from_tenths():
    sim, pzem = _pzem()
    got = []
    for t, p in ((0, 2204), (1000, 2205), (2000, 4)):
        sim.power_x10 = p
        pzem.read(t)
        pzem.read(t + 40)
        got.append(pzem.watts)
    _eq(got, [220, 221, 0])


def test_pzem_energy_between_readings():
    sim, pzem = _pzem()
    pzem.read(0)
    pzem.read(40)
    sim.wh = 5002
    _eq(pzem.read(1000), 0)
    _eq(pzem.read(1040), 7200)
    _eq(pzem.read(2000), 0)
    _eq(pzem.read(2040), 0)  # no change
    sim.wh = 5100  # 98 Wh in the next minute (5.9 kW)
    pzem.read(62000)
    _eq(pzem.read(62040), 98 * 3600)


def test_pzem_one_request_a_period():
    sim, pzem = _pzem(period_ms=1000)
    for t in range(0, 1000, 50):
        pzem.read(t)
    _eq(sim.requests, 1)
    pzem.read(1000)
    _eq(sim.requests, 2)


def test_pzem_timeout_reported_next_period_recovers():
    sim, pzem = _pzem(timeout_ms=200)
    pzem.read(0)
    pzem.read(40)
    sim.silent = True
    sim.wh = 5001
    pzem.read(1000)
    pzem.read(1100)
    _eq((pzem.error, pzem.errors, pzem.watts), ("", 0, 1000))
    _eq(pzem.read(1200), 0)
    _eq((pzem.error, pzem.errors, pzem.watts), ("no answer", 1, None))
    sim.silent = False
    pzem.read(1500)
    _eq(sim.requests, 2)  # not resent before the period is up
    pzem.read(2000)
    _eq(sim.requests, 3)
    _eq(pzem.read(2040), 3600)  # the Wh of the missed period is not lost
    _eq((pzem.error, pzem.errors, pzem.watts), ("", 1, 1000))


def test_pzem_bad_crc_reported_and_survived():
    sim, pzem = _pzem()
    pzem.read(0)
    pzem.read(40)
    sim.bad_crc = True
    sim.wh = 5001
    pzem.read(1000)
    _eq(pzem.read(1040), 0)
    _eq((pzem.error, pzem.errors, pzem.watts, pzem.wh), ("bad CRC", 1, None, 5000))
    sim.bad_crc = False
    pzem.read(2000)
    _eq(pzem.read(2040), 3600)
    _eq((pzem.error, pzem.errors), ("", 1))


def test_pzem_exception_reply():
    sim, pzem = _pzem()
    sim.exception = 4
    pzem.read(0)
    _eq(sim.answer()[:3], b"\xf8\x84\x04")
    _eq(pzem.read(40), 0)
    _eq((pzem.error, pzem.errors, pzem.watts), ("exception 4", 1, None))
    sim.exception = 0
    pzem.read(1000)
    pzem.read(1040)
    _eq((pzem.error, pzem.watts), ("", 1000))


def test_pzem_exception_reply_with_a_bad_crc():
    sim, pzem = _pzem()
    sim.exception = 2
    sim.bad_crc = True
    pzem.read(0)
    pzem.read(40)
    _eq(pzem.error, "bad CRC")


def test_pzem_a_garbled_address_byte_is_a_bad_reading():
    sim = _pzem()[0]
    sim.addr = 0x07
    pzem = Pzem(sim, addr=0x07)
    pzem.read(0)
    sim.out[0] = 0x08  # a byte garbled on the line: the CRC tells
    pzem.read(40)
    _eq((pzem.error, pzem.errors, pzem.fault), ("bad CRC", 1, ""))
    pzem.read(1000)  # the next request
    pzem.read(1040)
    _eq((pzem.error, pzem.errors, pzem.wh), ("", 1, 5000))


def test_pzem_a_good_reply_from_another_address_is_a_fault():
    # A second module on the line (its own address in a whole, good reply): whose energy is
    # it? Never charged nor guessed at: the readings stop until a restart.
    sim = _pzem()[0]
    sim.addr = 0x07
    pzem = Pzem(sim, addr=0x07)
    pzem.read(0)
    _eq(pzem.read(40), 0)
    sim.wh += 7
    pzem.read(1000)
    sim.out[0] = 0x08
    sim.out[23] ^= 0xFF  # (the answer made whole for its address: its CRC made good)
    c = modbus_crc(sim.out, 23)
    sim.out[23] = c & 0xFF
    sim.out[24] = c >> 8
    _eq(pzem.read(1040), 0)
    _eq((pzem.error, pzem.fault), ("reply from another address", "reply from another address"))
    sim.wh += 7
    for t in (2000, 2040, 3000, 3040):
        _eq(pzem.read(t), 0)
    _eq(pzem.fault, "reply from another address")


def test_pzem_partial_reply_over_two_polls():
    sim, pzem = _pzem()
    sim.split = 11
    pzem.read(0)
    _eq(sim.any(), 11)
    _eq(pzem.read(30), 0)
    _eq((pzem.wh, pzem.error), (None, ""))
    sim.release()
    pzem.read(60)
    _eq((pzem.wh, pzem.watts, pzem.error), (5000, 1000, ""))
    sim.split = 3  # less than a header, then the rest
    sim.wh = 5002
    pzem.read(1000)
    pzem.read(1030)
    sim.release()
    _eq(pzem.read(1060), 7200)


def test_pzem_short_reply_times_out_and_late_bytes_are_flushed():
    sim, pzem = _pzem(timeout_ms=200)
    sim.split = 20
    pzem.read(0)
    pzem.read(100)
    pzem.read(200)
    _eq((pzem.error, pzem.errors), ("short reply", 1))
    sim.release()  # the last 5 bytes come late
    sim.split = 0
    pzem.read(1000)
    _eq(pzem.read(1040), 0)
    _eq((pzem.error, pzem.wh), ("", 5000))


def test_pzem_an_energy_register_that_goes_back_is_a_fault():
    # A reset command on the line, or another module's register: what was used meanwhile is
    # unknown, and a register that can be set back is free energy. The readings stop.
    sim, pzem = _pzem()
    got = []
    for i, wh in enumerate((5000, 5002, 0, 3, 5005, 5010)):
        sim.wh = wh
        pzem.read(i * 1000)
        got.append(pzem.read(i * 1000 + 40))
    _eq(got, [0, 7200, 0, 0, 0, 0])
    _eq((pzem.fault, pzem.error), ("energy went back", "energy went back"))


def test_pzem_power_while_the_energy_register_stands_still_is_a_fault():
    # 1 kW measured for a minute and not one Wh counted: a module that counts no energy.
    sim, pzem = _pzem()
    sim.power_x10 = 10000
    got = 0
    t = 0
    while t < 60000 and not pzem.fault:
        pzem.read(t)
        got += pzem.read(t + 40)
        t += 1000
    _eq((got, pzem.fault), (0, "energy stuck"))
    assert 11000 <= t <= 13000, t  # past 3 Wh of measured power (10.8 s at 1 kW)
    # 3 W (standby) does not move a 1 Wh register for 20 minutes: no fault.
    sim, pzem = _pzem()
    sim.power_x10 = 30
    for i in range(1200):
        pzem.read(i * 1000)
        pzem.read(i * 1000 + 40)
    _eq(pzem.fault, "")
    # 100 W that moves the register as it should: no fault.
    sim, pzem = _pzem()
    sim.power_x10 = 1000
    for i in range(600):
        sim.wh = 5000 + i // 36
        pzem.read(i * 1000)
        pzem.read(i * 1000 + 40)
    _eq((pzem.fault, pzem.wh), ("", 5016))


def test_pzem_an_energy_jump_beyond_what_it_can_measure_is_never_charged():
    # Another module's register (swapped, or a second one answering at 0xF8): 100 kWh in a
    # second is more than 26 kW could draw. Not charged; counting goes on from it.
    sim, pzem = _pzem()
    got = []
    for i, wh in enumerate((5000, 5007, 105007, 105008, 105008 + 7 * 60)):
        sim.wh = wh
        t = i * 1000 if i < 4 else 63000  # the last one a minute later: 7 Wh/s is fine
        pzem.read(t)
        got.append((pzem.read(t + 40), pzem.error))
    _eq(got, [(0, ""), (7 * 3600, ""), (0, "energy jump"), (3600, ""), (420 * 3600, "")])
    _eq(pzem.errors, 1)


def test_pzem_across_ticks_wrap():
    sim, pzem = _pzem(timeout_ms=200)
    t = _near_wrap(1020)
    pzem.read(t)
    pzem.read(time.ticks_add(t, 40))
    sim.wh = 5001
    pzem.read(time.ticks_add(t, 999))
    _eq(sim.requests, 1)
    pzem.read(time.ticks_add(t, 1000))  # after the wrap
    _eq(sim.requests, 2)
    _eq(pzem.read(time.ticks_add(t, 1040)), 3600)
    sim.silent = True
    pzem.read(time.ticks_add(t, 2000))
    pzem.read(time.ticks_add(t, 2199))
    _eq(pzem.error, "")
    pzem.read(time.ticks_add(t, 2200))
    _eq(pzem.error, "no answer")


def test_pzem_read_allocates_nothing_after_the_first():
    sim, pzem = _pzem()
    pzem.read(0)
    pzem.read(40)
    t = 40
    j = 0
    gc.collect()
    before = gc.mem_alloc()
    while t < 20000:  # 20 periods, a read every 20 ms, with errors among them
        t += 20
        sim.wh += 1 if t % 1000 == 0 else 0
        sim.bad_crc = t % 5000 == 0
        j += pzem.read(t)
    _eq(gc.mem_alloc() - before, 0)
    assert j >= 15 * 3600, j
