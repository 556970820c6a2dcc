# board.py  Raspberry Pi Pico (RP2040): which driver sits on which pin; main.py does the rest
# Copied to the board's root by `make deploy BOARD=pico`; the wiring is in README.md here.
import os

from machine import I2C, Pin

from hal.clock import Clock
from hal.gpio import Led, Relay
from hal.keypad import Keypad
from hal.pcf8574_lcd import I2cLcd

KEYMAP = "123A456B789C*0#D"  # a 4x4 membrane keypad, row by row as printed on it
ROWS = (6, 7, 8, 9)  # GP6..GP9, keypad R1..R4: outputs, idle high
COLS = (10, 11, 12, 13)  # GP10..GP13, keypad C1..C4: inputs with pull-ups
SDA, SCL = 4, 5  # I2C0 on GP4/GP5: the PCF8574 backpack of the 16x2 LCD
LCD_ADDR = 0x27  # PCF8574T with A0..A2 open; a PCF8574AT answers at 0x3F
RELAY = 15  # GP15 to the relay module's IN
RELAY_ACTIVE_HIGH = True  # set False for a module that switches on when IN is low
STATE_DIR = "/state"


def setup():
    """The drivers main.py runs the meter with."""
    rows = [Pin(n, Pin.OUT, value=1) for n in ROWS]
    cols = [Pin(n, Pin.IN, Pin.PULL_UP) for n in COLS]
    # The PCF8574 is specified to 100 kHz; the RP2040's default would be 400 kHz.
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
        # "LED" names GP25 on a Pico and the wireless chip's LED pin on a Pico W
        "led": Led(Pin("LED", Pin.OUT, value=0)),
        "clock": Clock(),
        "state": STATE_DIR + "/meter",
        "profile": "/meter.json",
    }
