# ssd1306.py  a 128x64 SSD1306 OLED over I2C, drawn with framebuf's 8x8 font
# As a display it shows 4 rows of 16 characters, 16 pixels apart: big enough gaps to read
# at a glance on a 0.96" glass. `fb` is a framebuf.FrameBuffer for anything else.
import framebuf
from micropython import const

_W = const(128)
_H = const(64)
_LINE = const(16)  # pixels from one text row to the next
# (command, argument...) in the order of the datasheet's application note; 0xAE first
# keeps the glass dark until the panel is set up, 0x8D 0x14 turns on the charge pump
# the usual 3.3 V modules need.
INIT = (
    b"\xae",  # display off
    b"\x20\x00",  # horizontal addressing: one write fills the whole panel
    b"\x40",  # start line 0
    b"\xa1",  # column 127 is SEG0: the usual module orientation
    b"\xa8\x3f",  # multiplex 64
    b"\xc8",  # scan COM63 to COM0
    b"\xd3\x00",  # no display offset
    b"\xda\x12",  # COM pins: alternative configuration, for 64 rows
    b"\xd5\x80",  # clock divide and oscillator frequency
    b"\xd9\xf1",  # pre-charge periods for the internal charge pump
    b"\xdb\x30",  # VCOMH deselect level
    b"\x81\xff",  # contrast
    b"\xa4",  # show RAM (not all pixels on)
    b"\xa6",  # normal, not inverted
    b"\x8d\x14",  # charge pump on
    b"\xaf",  # display on
)


class SSD1306:
    """SSD1306 128x64 on i2c (anything with writeto(addr, buf)); show(lines) for the UI."""

    rows = 4
    cols = 16

    def __init__(self, i2c, addr=0x3C):
        self.i2c = i2c
        self.addr = addr
        self._cmd = bytearray(2)
        self._cmd[0] = 0x80  # control byte (Co=1, D/C#=0): a command byte follows
        # the data control byte 0x40 sits in front of the pixels, so a frame goes out in
        # one write without copying 1 KB into a new buffer
        self._data = bytearray(1 + _W * _H // 8)
        self._data[0] = 0x40
        self.buffer = memoryview(self._data)[1:]
        self.fb = framebuf.FrameBuffer(self.buffer, _W, _H, framebuf.MONO_VLSB)
        self.recover()

    def recover(self):
        """Set the controller up (at start, and again after a bus error): a blank glass."""
        for c in INIT:
            for b in c:
                self.command(b)
        self.fb.fill(0)
        self.flush()

    def command(self, c):
        """Send one command byte."""
        self._cmd[1] = c
        self.i2c.writeto(self.addr, self._cmd)

    def flush(self):
        """Send the whole frame buffer to the glass."""
        for c in (0x21, 0, _W - 1, 0x22, 0, _H // 8 - 1):  # column, then page window
            self.command(c)
        self.i2c.writeto(self.addr, self._data)

    def show(self, lines):
        """Draw a frame: up to 4 strings of up to 16 characters."""
        fb = self.fb
        fb.fill(0)
        for row in range(min(len(lines), self.rows)):
            # 4 px down: the 8 px glyph sits in the middle of its 16 px band
            fb.text(lines[row][: self.cols], 0, row * _LINE + 4, 1)
        self.flush()

    def power(self, on):
        """Turn the panel on (0xAF) or off (0xAE); RAM is kept."""
        self.command(0xAF if on else 0xAE)

    def contrast(self, level):
        """Set the contrast, 0..255."""
        self.command(0x81)
        self.command(level & 0xFF)
