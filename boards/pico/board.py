# board.py  Raspberry Pi Pico (RP2040): which driver sits on which pin; main.py does the rest
# Copied to the board's root by `make deploy BOARD=pico`; the wiring is in README.md here.
from hal.wiring import setup as wire

KEYMAP = "123A456B789C*0#D"  # a 4x4 membrane keypad, row by row as printed on it
ROWS = (6, 7, 8, 9)  # GP6..GP9, keypad R1..R4: outputs, idle high
COLS = (10, 11, 12, 13)  # GP10..GP13, keypad C1..C4: inputs with pull-ups
SDA, SCL = 4, 5  # I2C0 on GP4/GP5: the PCF8574 backpack of the 16x2 LCD
LCD_ADDR = 0x27  # PCF8574T with A0..A2 open; a PCF8574AT answers at 0x3F
RELAY = 15  # GP15 to the relay module's IN
RELAY_ACTIVE_HIGH = True  # set False for a module that switches on when IN is low
LED = "LED"  # names GP25 on a Pico and the wireless chip's LED pin on a Pico W
STATE_DIR = "/state"
MAX_WATTS = 26000  # the most the supply can draw: S0 impulses faster than this are noise
# The energy source (README: wiring). A PZEM-004T v3.0 on UART0, TX GP0 to its RX, RX GP1
# from its TX (the module is 5 V: see the README for the level shifting); or an S0 pulse
# output on GP14 with its impulses per kWh: ENERGY = ("s0", 14, 1000, MAX_WATTS)
ENERGY = ("pzem", 0, 0, 1)
WATCHDOG_MS = 8000  # the RP2040's watchdog takes at most 8388 ms


def setup():
    """The drivers main.py runs the meter with."""
    return wire(
        KEYMAP, ROWS, COLS, SDA, SCL, LCD_ADDR, RELAY, RELAY_ACTIVE_HIGH, LED, STATE_DIR, ENERGY
    )
