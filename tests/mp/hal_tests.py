# hal_tests.py  the drivers of firmware/hal against the stand-ins of hal_sim.py, one test_*
# function per behaviour; runs in the micropython binary through tests/mp/mptest.py.
import gc

from hal.clock import Clock, FakeClock
from hal.gpio import Led, Relay
from hal.keypad import KEYS_4X3, KEYS_4X4, Keypad
from hal.pcf8574_lcd import I2cLcd
from hal.ssd1306 import INIT, SSD1306
from hal_sim import FakeI2c, FakePin, SimMatrix, SimPcf8574Hd44780


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
    _eq(sim.ops, [(0, 0x30), (0, 0x30), (0, 0x30), (0, 0x20), (0, 0x28), (0, 0x0C),
                  (0, 0x01), (0, 0x06)])


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
    assert not any(frame[40:128]) and not any(frame[128 + 40:256]), "pixels past 5 chars"
    # the window is the whole panel, set before the pixels go out
    _eq(_commands(bus.writes), [0x21, 0, 127, 0x22, 0, 7])


def test_ssd1306_four_rows():
    bus, oled = _oled()
    oled.show(["A", "B", "C", "D", "E"])
    frame = bus.writes[-1][1][1:]
    for row in range(4):
        assert any(frame[row * 256:row * 256 + 256]), "row %d empty" % row
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
