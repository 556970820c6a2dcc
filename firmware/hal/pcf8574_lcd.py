# pcf8574_lcd.py  an HD44780 LCD on a PCF8574 I2C backpack, in 4-bit mode
# The common backpack wiring: P0=RS, P1=RW, P2=E, P3=backlight, P4..P7=D4..D7. RW stays
# low (write only), so the busy flag cannot be read: slow instructions wait instead.
from time import sleep_ms

from micropython import const

from hal.hd44780 import HD44780

_RS = const(0x01)
_E = const(0x04)
_BL = const(0x08)


class I2cLcd(HD44780):
    """HD44780 over a PCF8574; i2c is anything with writeto(addr, buf) (machine.I2C)."""

    def __init__(self, i2c, addr=0x27, rows=2, cols=16):
        self.i2c = i2c
        self.addr = addr
        self._bl = _BL
        self._buf = bytearray(4)  # one byte = two nibbles, each E high then E low
        i2c.writeto(addr, b"\x00")
        sleep_ms(20)  # the controller needs 15 ms after power rises to 4.5 V
        super().__init__(rows, cols)

    def _nibbles(self, byte, rs):
        b = self._buf
        hi = (byte & 0xF0) | self._bl | rs
        lo = ((byte << 4) & 0xF0) | self._bl | rs
        # the HD44780 latches D7..D4 on the falling edge of E; one I2C write per byte,
        # and each byte on the bus (about 90 us at 100 kHz) outlasts the E pulse minimum
        b[0] = hi | _E
        b[1] = hi
        b[2] = lo | _E
        b[3] = lo
        self.i2c.writeto(self.addr, b)

    def hal_write_init_nibble(self, nibble):
        b = self._buf
        v = ((nibble << 4) & 0xF0) | self._bl
        b[0] = v | _E
        b[1] = v
        self.i2c.writeto(self.addr, memoryview(b)[:2])

    def hal_write_command(self, cmd):
        self._nibbles(cmd, 0)

    def hal_write_data(self, data):
        self._nibbles(data, _RS)

    def hal_backlight(self, on):
        self._bl = _BL if on else 0
        self.i2c.writeto(self.addr, b"\x08" if on else b"\x00")

    def hal_sleep_ms(self, ms):
        sleep_ms(ms)
