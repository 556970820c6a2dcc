# wiring.py  the meter board every boards/<name>/board.py describes: a matrix keypad, a
# 16x2 HD44780 on a PCF8574 I2C backpack, a relay and an LED. board.py names the pins and
# calls setup(); this makes the drivers main.py runs the meter with.
import os

from machine import I2C, Pin

from hal.clock import Clock
from hal.gpio import Led, Relay
from hal.keypad import Keypad
from hal.pcf8574_lcd import I2cLcd


def setup(keymap, rows, cols, sda, scl, lcd_addr, relay, relay_active_high, led, state_dir):
    """The drivers, by name, for main.py; rows and cols are pin ids, led a pin id or name."""
    row_pins = [Pin(n, Pin.OUT, value=1) for n in rows]
    col_pins = [Pin(n, Pin.IN, Pin.PULL_UP) for n in cols]
    # The PCF8574 is specified to 100 kHz; the RP2040's default would be 400 kHz.
    i2c = I2C(0, sda=Pin(sda), scl=Pin(scl), freq=100_000)
    # Supply off until the meter has read its state and says otherwise.
    relay_pin = Pin(relay, Pin.OUT, value=0 if relay_active_high else 1)
    try:
        os.stat(state_dir)
    except OSError:
        os.mkdir(state_dir)
    return {
        "keypad": Keypad(row_pins, col_pins, keymap),
        "display": I2cLcd(i2c, lcd_addr, 2, 16),
        "relay": Relay(relay_pin, active_high=relay_active_high),
        "led": Led(Pin(led, Pin.OUT, value=0)),
        "clock": Clock(),
        "state": state_dir + "/meter",
        "profile": "/meter.json",
    }
