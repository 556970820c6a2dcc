# selftest.py  bring-up of a freshly wired board: the I2C bus, the relay, the energy source, keys
# startup.boot() runs it instead of the meter when * is held at power-up: no watchdog, the relay
# open, the REPL free for mpremote once it ends (or at Ctrl-C). From the REPL:
#   import selftest; selftest.main()
# Each step prints what it found and shows it on the LCD; a display that fails (an OSError on
# the I2C bus) is reported and the test goes on. Only imported in this mode: not the meter's
# memory. The relay clicks only on a board with no meter state yet: on a meter in service,
# anyone holding * at power-up would get the supply without credit.
import os
import time

LCD_ADDRS = (0x27, 0x3F)  # a PCF8574T backpack, a PCF8574AT one (board.py LCD_ADDR)
I2C_MS = 2000  # the scan's result stays on the LCD this long
RELAY_MS = 500  # how long the relay stays closed: a click in and a click out
ENERGY_MS = 3000  # the energy source read for this long; a PZEM-004T answers once a second
POLL_MS = 100
SCAN_MS = 10  # the keypad debounces over a few scans


def main(seconds=None):
    """The self-test on this board's drivers (board.py)."""
    import board

    run(board.setup(), seconds)


class _Screen:
    """The LCD and the console together; a display error is printed, never raised."""

    def __init__(self, display, out):
        self.d = display
        self.out = out
        self.failed = False
        self.errors = 0

    def show(self, top, bottom=""):
        d = self.d
        if d is None:
            return
        try:
            if self.failed and hasattr(d, "recover"):
                d.recover()
            lines = [top, bottom] + [""] * d.rows
            d.show([(s + " " * d.cols)[: d.cols] for s in lines[: d.rows]])
        except OSError as e:
            if not self.failed:
                self.out("display error: %r (the self-test goes on; see the I2C scan)" % (e,))
            self.failed = True
            self.errors += 1
            return
        self.failed = False


def run(dev, seconds=None, sleep_ms=None, ticks_ms=None, out=print):
    """The self-test on dev (the drivers from board.setup()): I2C scan, relay click, energy
    readings, a summary, then each key pressed shown until # is pressed twice running (or
    `seconds` have passed). The relay is open when this returns or raises."""
    sleep = sleep_ms or time.sleep_ms
    ticks = ticks_ms or time.ticks_ms
    relay = dev["relay"]
    relay.set(False)
    scr = _Screen(dev.get("display"), out)
    try:
        scr.show("SELF TEST")
        out("self-test: I2C bus, relay, energy source, then keys (# twice ends it)")
        found = _i2c(dev, scr, out)
        sleep(I2C_MS)
        clicked = "not clicked (a meter in service)"
        if _in_service(dev):
            scr.show("RELAY NOT TESTED", "METER IN SERVICE")
            out("relay: not clicked: this board holds a meter's state (credit decides)")
            sleep(I2C_MS)
        else:
            _relay(dev, scr, out, sleep)
            clicked = "clicked"
        energy = _energy(dev, scr, out, sleep, ticks)
        out(
            "summary: I2C %s; relay %s; energy %s; display errors %d"
            % (found, clicked, energy, scr.errors)
        )
        scr.show("PRESS KEYS", "# TWICE: END")
        out("press keys (# twice ends the self-test)")
        _keys(dev, scr, out, sleep, ticks, seconds)
        scr.show("SELF TEST END", "RESET: METER")
        out("self-test done: reset the board (without *) to run the meter")
    finally:
        relay.set(False)


def _i2c(dev, scr, out):
    i2c = dev.get("i2c")
    if i2c is None:
        out("I2C: no bus among the drivers")
        return "none"
    try:
        addrs = i2c.scan()
    except OSError as e:  # a bus held low: SDA or SCL shorted, no pull-ups
        out("I2C: scan failed: %r (check SDA, SCL and the pull-ups)" % (e,))
        scr.show("I2C SCAN FAILED")
        return "scan failed"
    names = " ".join("0x%02X" % a for a in addrs)
    lcd = [a for a in addrs if a in LCD_ADDRS]
    out("I2C: %s" % (names or "no device answers"))
    if lcd:
        out("I2C: 0x%02X is the LCD backpack (board.py LCD_ADDR must say so)" % lcd[0])
    else:
        out("I2C: no LCD backpack: expected 0x27 (PCF8574T) or 0x3F (PCF8574AT)")
    scr.show(
        "I2C " + (names.replace("0x", "") or "NONE"),
        "LCD AT 0x%02X" % lcd[0] if lcd else "NO 0x27/0x3F",
    )
    return names or "nothing"


def _in_service(dev):
    """True if the board holds a meter's state (a slot of dev["state"] is there)."""
    prefix = dev.get("state")
    if not prefix:
        return False
    where, _, name = prefix.rpartition("/")
    try:
        names = os.listdir(where or "/")
    except OSError:
        return False
    return name + ".0" in names or name + ".1" in names


def _relay(dev, scr, out, sleep):
    # run() opens the relay again whatever fails here (Ctrl-C in the sleep, an LED driver)
    relay = dev["relay"]
    led = dev.get("led")
    scr.show("RELAY CLOSED")
    out("relay: closed (and LED on) for %d ms" % RELAY_MS)
    relay.set(True)
    if led is not None:
        led.set(True)
    sleep(RELAY_MS)
    relay.set(False)
    if led is not None:
        led.set(False)
    scr.show("RELAY OPEN")
    out("relay: open")


def _energy(dev, scr, out, sleep, ticks):
    e = dev.get("energy")
    if e is None:
        out("energy: no source among the drivers")
        return "none"
    name = type(e).__name__.upper()
    joules = 0
    w = "-"
    start = ticks()
    shown = 0  # a reading shown once a second
    try:
        while True:
            now = ticks()
            t = time.ticks_diff(now, start)
            joules += e.read(now)
            if t - shown >= 1000 or t >= ENERGY_MS:
                shown = t
                w = e.watts
                w = "-" if w is None else "%d" % w
                why = e.error
                out(
                    "energy: %s %s W, %d J since the start, %s (%d failed readings)"
                    % (name, w, joules, "error: " + why if why else "no error", e.errors)
                )
                scr.show(
                    "%s: %s" % (name, why.upper() if why else "OK"), "%s W %d J" % (w, joules)
                )
            if t >= ENERGY_MS:
                break
            sleep(POLL_MS)
    except Exception as x:  # noqa: BLE001 - a driver's failure is what this step reports
        out("energy: %s read failed: %r" % (name, x))
        scr.show("%s: FAILED" % name, type(x).__name__)
        return "%s failed: %r" % (name, x)
    why = e.error
    return "%s %s W %d J%s" % (name, w, joules, ", " + why if why else "")


def _keys(dev, scr, out, sleep, ticks, seconds):
    kp = dev["keypad"]
    start = ticks()
    last = None
    while seconds is None or time.ticks_diff(ticks(), start) < seconds * 1000:
        k = kp.scan()
        if k:
            scr.show("KEY " + k)
            out("KEY " + k)
            if k == "#" and last == "#":
                return
            last = k
        sleep(SCAN_MS)
