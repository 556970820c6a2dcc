# hal_sim.py  stand-ins for the hardware behind firmware/hal, faked at the narrowest seam
# (a pin's value(), an I2C bus's writeto()), so the real drivers run against them in the
# micropython binary: pins, a key matrix, a PCF8574 + HD44780 LCD, an I2C recorder.

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
        assert addr == self.addr, "write to 0x%02x, the backpack is at 0x%02x" % (addr,
                                                                                   self.addr)
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
        return ["".join(chr(self.ddram[_ROW_ADDR[r] + c]) for c in range(cols))
                for r in range(rows)]

    def data_writes(self):
        return sum(1 for rs, _ in self.ops if rs)


class FakeI2c:
    """Records every writeto(addr, buf) as (addr, bytes)."""

    def __init__(self):
        self.writes = []

    def writeto(self, addr, buf):
        self.writes.append((addr, bytes(buf)))
