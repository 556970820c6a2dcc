# board.py  ESP32 DevKitC (ESP32-WROOM-32): which driver sits on which pin; main.py does the rest
# Copied to the board's root by `make deploy BOARD=esp32`; the wiring is in README.md here.
# Pins kept free: 6..11 (the module's flash), 0, 5, 12, 15 (strapping), 16, 17 (PSRAM on
# WROVER modules), 34..39 (inputs without pull-ups), 1, 3 (the USB serial port).
from hal.wiring import setup as wire

KEYMAP = "123A456B789C*0#D"  # a 4x4 membrane keypad, row by row as printed on it
ROWS = (13, 14, 27, 26)  # keypad R1..R4: outputs, idle high
COLS = (25, 33, 32, 4)  # keypad C1..C4: inputs with the internal pull-ups
SDA, SCL = 21, 22  # the DevKitC's customary I2C pins (MicroPython's I2C(0) default is 19/18)
LCD_ADDR = 0x27  # PCF8574T with A0..A2 open; a PCF8574AT answers at 0x3F
RELAY = 23  # to the relay module's IN
RELAY_ACTIVE_HIGH = True  # set False for a module that switches on when IN is low
LED = 2  # the blue LED of many DevKit boards; a strapping pin, but an LED to GND keeps it low
STATE_DIR = "/state"
MAX_WATTS = 26000  # the most the supply can draw: S0 impulses faster than this are noise
# The energy source (README: wiring). A PZEM-004T v3.0 on UART2, TX GPIO19 to its RX, RX
# GPIO36 (input only, "VP") from its TX (the module is 5 V: see the README for the level
# shifting); or an S0 pulse output on GPIO18 with its impulses per kWh:
# ENERGY = ("s0", 18, 1000, MAX_WATTS)
ENERGY = ("pzem", 2, 19, 36)
WATCHDOG_MS = 8000


def setup():
    """The drivers main.py runs the meter with."""
    return wire(
        KEYMAP, ROWS, COLS, SDA, SCL, LCD_ADDR, RELAY, RELAY_ACTIVE_HIGH, LED, STATE_DIR, ENERGY
    )
