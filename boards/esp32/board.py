# board.py  ESP32 DevKitC (ESP32-WROOM-32): which driver sits on which pin; main.py does the rest
# Copied to the board's root by `make deploy BOARD=esp32`; the wiring is in README.md here.
# Pins kept free: 6..11 (the module's flash), 0, 5, 12, 15 (strapping), 16, 17 (PSRAM on
# WROVER modules), 34..39 (inputs without pull-ups), 1, 3 (the USB serial port).
import os

from machine import I2C, Pin

from hal.clock import Clock
from hal.gpio import Led, Relay
from hal.keypad import Keypad
from hal.pcf8574_lcd import I2cLcd

KEYMAP = "123A456B789C*0#D"  # a 4x4 membrane keypad, row by row as printed on it
ROWS = (13, 14, 27, 26)  # keypad R1..R4: outputs, idle high
COLS = (25, 33, 32, 4)  # keypad C1..C4: inputs with the internal pull-ups
SDA, SCL = 21, 22  # the DevKitC's customary I2C pins (MicroPython's I2C(0) default is 19/18)
LCD_ADDR = 0x27  # PCF8574T with A0..A2 open; a PCF8574AT answers at 0x3F
RELAY = 23  # to the relay module's IN
RELAY_ACTIVE_HIGH = True  # set False for a module that switches on when IN is low
LED = 2  # the blue LED of many DevKit boards; a strapping pin, but an LED to GND keeps it low
STATE_DIR = "/state"


def setup():
    """The drivers main.py runs the meter with."""
    rows = [Pin(n, Pin.OUT, value=1) for n in ROWS]
    cols = [Pin(n, Pin.IN, Pin.PULL_UP) for n in COLS]
    # The PCF8574 is specified to 100 kHz.
    i2c = I2C(0, sda=Pin(SDA), scl=Pin(SCL), freq=100_000)
    # Supply off until the meter has read its state and says otherwise.
    relay = Pin(RELAY, Pin.OUT, value=0 if RELAY_ACTIVE_HIGH else 1)
    try:
        os.stat(STATE_DIR)
    except OSError:
        os.mkdir(STATE_DIR)
    return {
        "keypad": Keypad(rows, cols, KEYMAP),
        "display": I2cLcd(i2c, LCD_ADDR, 2, 16),
        "relay": Relay(relay, active_high=RELAY_ACTIVE_HIGH),
        "led": Led(Pin(LED, Pin.OUT, value=0)),
        "clock": Clock(),
        "state": STATE_DIR + "/meter",
        "profile": "/meter.json",
    }
