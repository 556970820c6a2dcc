# hal_sim.py  stand-ins for the hardware behind firmware/hal, faked at the narrowest seam
# (a pin's value(), an I2C bus's writeto()), so the real drivers run against them in the
# micropython binary: pins, a key matrix, a PCF8574 + HD44780 LCD, an I2C recorder, a
# wrapping clock, a meter's S0 pulse output, a PZEM-004T on a UART.
import time

_RS = 0x01
_RW = 0x02
_E = 0x04
_BL = 0x08
_ROW_ADDR = (0x00, 0x40, 0x14, 0x54)


class FakePin:
    """A machine.Pin stand-in: value() reads, value(v) drives; log records what was driven."""

    def __init__(self, v=1, log=None):
        self.v = v
        self.log = log

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = 1 if v else 0
        if self.log is not None:
            self.log.append(self.v)


class _ColPin:
    # a column input with a pull-up: low while a pressed key joins it to a low row
    def __init__(self, matrix, col):
        self.m = matrix
        self.col = col

    def value(self, v=None):
        m = self.m
        n = m.ncols
        rows = m.rows
        pressed = m.pressed
        for r in range(len(rows)):
            if pressed & (1 << (r * n + self.col)) and not rows[r].v:
                return 0
        return 1


class SimMatrix:
    """A key matrix: row pins joined to column pins through the keys held down."""

    def __init__(self, keymap, nrows, ncols):
        self.keymap = keymap
        self.ncols = ncols
        self.rows = [FakePin(1) for _ in range(nrows)]
        self.cols = [_ColPin(self, c) for c in range(ncols)]
        self.pressed = 0  # one bit per key, bit = row * ncols + col, as in the keymap

    def bit(self, key):
        return 1 << self.keymap.index(key)

    def press(self, key):
        self.pressed |= self.bit(key)

    def release(self, key):
        self.pressed &= ~self.bit(key)

    def release_all(self):
        self.pressed = 0


class SimPcf8574Hd44780:
    """An I2C bus with a PCF8574 backpack and an HD44780 on it, decoded from the byte stream.

    Starts as at power-on (8-bit interface, display off). `ops` lists every instruction
    executed as (rs, byte); display_lines() gives what the glass shows.
    """

    def __init__(self, addr=0x27):
        self.addr = addr
        self.pins = 0xFF  # the PCF8574's outputs: all high at power-on, then the last write
        self.eight_bit = True
        self.two_line = False
        self.display_on = False
        self.cursor = False
        self.blink = False
        self.increment = True
        self.shift = False  # entry mode display shift: recorded, not drawn
        self.ac = 0
        self.cgram_mode = False
        self.ddram = bytearray(b" " * 128)
        self.cgram = bytearray(64)
        self.half = None  # (rs, high nibble) waiting for its low nibble in 4-bit mode
        self.ops = []

    @property
    def backlight(self):
        return bool(self.pins & _BL)

    def writeto(self, addr, buf):
        assert addr == self.addr, "write to 0x%02x, the backpack is at 0x%02x" % (addr, self.addr)
        for b in bytes(buf):
            assert not b & _RW, "RW high: the driver must only write"
            if self.pins & _E and not b & _E:
                self._latch(self.pins)  # the HD44780 takes D7..D4 as E falls
            self.pins = b

    def _latch(self, p):
        if p & _RW:
            return  # E fell in a read cycle (the power-on state): nothing is written
        rs = p & _RS
        nib = p >> 4
        if self.eight_bit:
            # D3..D0 are not wired on a backpack: they read as 0
            self._execute(rs, nib << 4)
        elif self.half is None:
            self.half = (rs, nib)
        else:
            hrs, hi = self.half
            self.half = None
            assert hrs == rs, "RS changed between the two nibbles of a byte"
            self._execute(rs, (hi << 4) | nib)

    def _step(self, d):
        if self.cgram_mode:
            self.ac = (self.ac + d) & 0x3F
            return
        a = self.ac + d
        if self.two_line:
            # two lines of 40: 0x00..0x27 and 0x40..0x67, the counter runs on from one
            # to the other
            if a == 0x28:
                a = 0x40
            elif a == 0x68:
                a = 0x00
            elif a == 0x3F:
                a = 0x27
            elif a == -1:
                a = 0x67
        else:
            a %= 0x50
        self.ac = a

    def _execute(self, rs, v):
        self.ops.append((rs, v))
        if rs:
            if self.cgram_mode:
                self.cgram[self.ac] = v
            else:
                self.ddram[self.ac] = v
            self._step(1 if self.increment else -1)
        elif v & 0x80:
            self.ac = v & 0x7F
            self.cgram_mode = False
        elif v & 0x40:
            self.ac = v & 0x3F
            self.cgram_mode = True
        elif v & 0x20:
            self.eight_bit = bool(v & 0x10)
            self.two_line = bool(v & 0x08)
        elif v & 0x10:
            if not v & 0x08:  # cursor move; a display shift is not drawn
                self._step(1 if v & 0x04 else -1)
        elif v & 0x08:
            self.display_on = bool(v & 0x04)
            self.cursor = bool(v & 0x02)
            self.blink = bool(v & 0x01)
        elif v & 0x04:
            self.increment = bool(v & 0x02)
            self.shift = bool(v & 0x01)
        elif v & 0x02:
            self.ac = 0
            self.cgram_mode = False
        elif v & 0x01:
            for i in range(len(self.ddram)):
                self.ddram[i] = 0x20
            self.ac = 0
            self.increment = True  # clear display sets I/D, as the datasheet says
            self.cgram_mode = False

    def display_lines(self, rows, cols):
        """What the glass shows: one string of `cols` characters per row."""
        if not self.display_on:
            return [" " * cols for _ in range(rows)]
        return [
            "".join(chr(self.ddram[_ROW_ADDR[r] + c]) for c in range(cols)) for r in range(rows)
        ]

    def data_writes(self):
        return sum(1 for rs, _ in self.ops if rs)


class FakeI2c:
    """Records every writeto(addr, buf) as (addr, bytes)."""

    def __init__(self):
        self.writes = []

    def writeto(self, addr, buf):
        self.writes.append((addr, bytes(buf)))


class TicksClock:
    """A board's ticks_ms() that moves only when told to, and wraps as the board's does."""

    def __init__(self, start_ms=0):
        self.ms = start_ms

    def now_ms(self):
        return self.ms

    def advance(self, ms):
        self.ms = time.ticks_add(self.ms, ms)


class SimS0Pin:
    """An input pin with a pull-up and a meter's S0 output on it: pulse() closes it once.

    irq(handler, trigger) as machine.Pin; the handler runs at each edge it asked for,
    with clock showing the time of the edge. edges counts the falling ones."""

    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, clock):
        self.clock = clock
        self.v = 1
        self.handler = None
        self.trigger = 0
        self.edges = 0

    def irq(self, handler=None, trigger=3):
        self.handler = handler
        self.trigger = trigger

    def value(self, v=None):
        return self.v

    def _level(self, v):
        if v == self.v:
            return
        self.v = v
        if not v:
            self.edges += 1
        if self.handler is not None and self.trigger & (
            self.IRQ_RISING if v else self.IRQ_FALLING
        ):
            self.handler(self)

    def pulse(self, on_ms=30, off_ms=30, bounce=3):
        """One impulse of on_ms closed then off_ms open (the clock moves by their sum). The
        contact chatters as it closes and as it opens: `bounce` more falling edges 1 ms
        apart each time, inside the standard's 5 ms transition."""
        c = self.clock
        self._level(0)
        for _ in range(bounce):
            c.advance(1)
            self._level(1)
            self._level(0)
        c.advance(on_ms - bounce)
        self._level(1)
        for _ in range(bounce):
            c.advance(1)
            self._level(0)
            self._level(1)
        c.advance(off_ms - bounce)


def modbus_crc(data, n=None, start=0):
    """CRC-16/MODBUS of data[start:n]: reflected polynomial 0xA001, from 0xFFFF."""
    crc = 0xFFFF
    i = start
    n = len(data) if n is None else n
    while i < n:
        crc ^= data[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        i += 1
    return crc


class SimPzem:
    """A PZEM-004T v3.0 behind a UART: write(request), any(), readinto(buf), read(n).

    It answers a read of input registers (function 04) byte for byte as the user manual's
    frames show, after checking the request's CRC and address; a request for another
    address, or with a bad CRC, gets no answer, as on a Modbus line. The measured values are
    attributes in the registers' units. Knobs: silent (no answer), bad_crc (the answer's
    CRC is off by one bit), exception (answer with that exception code), split (only that
    many bytes arrive now; release() sends the rest). Reading costs no heap, so a test can
    measure the driver's own allocation."""

    def __init__(self, addr=0x01):
        self.addr = addr  # the module's own address; 0xF8 reaches it too
        self.volts_x10 = 2300
        self.amps_x1000 = 0
        self.power_x10 = 0
        self.wh = 0
        self.hz_x10 = 500
        self.pf_x100 = 100
        self.alarm = 0
        self.silent = False
        self.bad_crc = False
        self.exception = 0
        self.split = 0
        self.requests = 0  # frames written to the UART
        self.bad_requests = 0  # of them, with a bad length or CRC
        self.last = bytearray(8)  # the last request
        self.out = bytearray(64)  # what the module has sent
        self.n = 0  # bytes of out sent so far
        self.r = 0  # bytes of out the driver has read
        self.shown = 0  # bytes of out that have arrived at the UART

    # the module's side
    def write(self, buf):
        n = len(buf)
        self.requests += 1
        for i in range(min(n, 8)):
            self.last[i] = buf[i]
        if n != 8 or modbus_crc(buf, 6) != buf[6] | buf[7] << 8:
            self.bad_requests += 1
            return n
        a = buf[0]
        if self.silent or (a != self.addr and a != 0xF8):
            return n
        self._compact()
        if buf[1] != 0x04:
            self._exception(a, buf[1], 1)
        elif buf[2] or buf[3] or buf[4] or buf[5] != 10:
            self._exception(a, 0x04, 2)  # this stand-in serves the whole block only
        elif self.exception:
            self._exception(a, 0x04, self.exception)
        else:
            self._reading(a)
        return n

    def _compact(self):
        # what is left of an earlier answer was on the wire before this one: keep it
        out = self.out
        r = self.r
        self.shown -= r
        k = 0
        while r < self.n:
            out[k] = out[r]
            k += 1
            r += 1
        self.n = k
        self.r = 0

    def _byte(self, b):
        self.out[self.n] = b & 0xFF
        self.n += 1

    def _word(self, v):
        self._byte(v >> 8)
        self._byte(v)

    def _crc(self, start):
        c = modbus_crc(self.out, self.n, start)
        if self.bad_crc:
            c ^= 1
        self._byte(c)
        self._byte(c >> 8)
        self.shown = self.n if not self.split else min(self.n, start + self.split)

    def _long(self, v):
        self._word(v & 0xFFFF)  # 32 bits, low word first
        self._word(v >> 16)

    def _exception(self, a, fn, code):
        start = self.n
        self._byte(a)
        self._byte(fn | 0x80)
        self._byte(code)
        self._crc(start)

    def _reading(self, a):
        start = self.n
        self._byte(a)
        self._byte(0x04)
        self._byte(20)
        self._word(self.volts_x10)
        self._long(self.amps_x1000)
        self._long(self.power_x10)
        self._long(self.wh)
        self._word(self.hz_x10)
        self._word(self.pf_x100)
        self._word(self.alarm)
        self._crc(start)

    def release(self):
        """The rest of a split answer arrives."""
        self.shown = self.n

    def answer(self):
        """Everything the module has sent, read or not."""
        return bytes(self.out[: self.n])

    # the UART's side
    def any(self):
        return self.shown - self.r

    def readinto(self, buf):
        k = 0
        while k < len(buf) and self.r < self.shown:
            buf[k] = self.out[self.r]
            self.r += 1
            k += 1
        return k or None

    def read(self, n=-1):
        k = self.any() if n < 0 else min(n, self.any())
        b = bytes(self.out[self.r : self.r + k])
        self.r += k
        return b or None
