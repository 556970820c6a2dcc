# wiring.py  the meter board every boards/<name>/board.py describes: a matrix keypad, a
# 16x2 HD44780 on a PCF8574 I2C backpack, a relay, an LED and an energy source (an S0 pulse
# input or a PZEM-004T on a UART). board.py names the pins and calls setup(); this makes the
# drivers app.py runs the meter with.
import os

from machine import I2C, UART, Pin

from hal.clock import Clock
from hal.gpio import Led, Relay
from hal.keypad import Keypad
from hal.pcf8574_lcd import I2cLcd


class LateDisplay:
    """A display made on first use, and made again until it answers: an LCD that is missing
    or unplugged at power-up (an OSError on the I2C bus) does not stop the meter."""

    def __init__(self, make, rows, cols):
        self._make = make
        self.rows = rows
        self.cols = cols
        self.d = None

    def show(self, lines):
        if self.d is None:
            self.d = self._make()
        self.d.show(lines)

    def recover(self):
        if self.d is None:
            self.d = self._make()
        else:
            self.d.recover()


def energy_source(spec):
    """("s0", pin, imp_per_kwh[, max_watts]) or ("pzem", uart_id, tx, rx): the energy source
    driver. max_watts: the most the supply can draw (default 26 kW): faster S0 impulses are
    noise."""
    kind = spec[0]
    if kind == "s0":
        from hal.s0 import S0

        # The pull-up inside the chip is weak (50 kohm); the README asks for one outside too.
        pin = Pin(spec[1], Pin.IN, Pin.PULL_UP)
        if len(spec) > 3:
            return S0(pin, imp_per_kwh=spec[2], max_watts=spec[3])
        return S0(pin, imp_per_kwh=spec[2])
    if kind == "pzem":
        from hal.pzem import Pzem

        uart = UART(
            spec[1],
            baudrate=9600,
            bits=8,
            parity=None,
            stop=1,
            tx=Pin(spec[2]),
            rx=Pin(spec[3]),
            timeout=0,
        )
        return Pzem(uart)
    raise ValueError("energy source: 's0' or 'pzem', not %r" % (kind,))


def setup(
    keymap, rows, cols, sda, scl, lcd_addr, relay, relay_active_high, led, state_dir, energy
):
    """The drivers, by name, for app.py; rows and cols are pin ids, led a pin id or name,
    energy as energy_source() takes it."""
    # Supply off first, until the meter has read its state and says otherwise.
    relay_pin = Pin(relay, Pin.OUT, value=0 if relay_active_high else 1)
    row_pins = [Pin(n, Pin.OUT, value=1) for n in rows]
    col_pins = [Pin(n, Pin.IN, Pin.PULL_UP) for n in cols]
    # The PCF8574 is specified to 100 kHz; the RP2040's default would be 400 kHz.
    i2c = I2C(0, sda=Pin(sda), scl=Pin(scl), freq=100_000)
    try:
        os.stat(state_dir)
    except OSError:
        os.mkdir(state_dir)
    return {
        "keypad": Keypad(row_pins, col_pins, keymap),
        "display": LateDisplay(lambda: I2cLcd(i2c, lcd_addr, 2, 16), 2, 16),
        "relay": Relay(relay_pin, active_high=relay_active_high),
        "led": Led(Pin(led, Pin.OUT, value=0)),
        "clock": Clock(),
        "energy": energy_source(energy),
        "i2c": i2c,
        "state": state_dir + "/meter",
        "profile": "/meter.json",
    }
