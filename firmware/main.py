# main.py  the meter on a board: board.setup() -> drivers, the meter, the ui, and the loop
# Copied to the board's root with board.py (boards/<name>/board.py), which alone names pins.
import json
import os
import time

from meter import diff
from meter.meter import Meter
from meter.results import STORAGE
from meter.store import RecordStore
from meter.usage import Usage
from ui.texts import RESULT
from ui.ui import Ui


def make(dev):
    """The meter and its ui. A blank meter personalises itself from the provisioning file;
    once the meter holds a state the file is removed: it has the decoder key in clear, and
    the state record holds the key now."""
    m = Meter(RecordStore(dev["state"]))
    path = dev.get("profile", "/meter.json")
    if not m.personalised and not m.fault:
        try:
            with open(path) as f:
                data = json.load(f)
        except OSError:
            data = None  # not provisioned: the display says so
        if data is not None:
            m.provision(data)
    if m.personalised and not m.fault:
        try:
            os.remove(path)
        except OSError:
            pass  # removed before, or never there
    d = dev["display"]
    return m, Ui(m, d.rows, d.cols)


def fail_safe(dev):
    """Supply off and METER FAULT shown, whatever failed; each part tried on its own."""
    try:
        dev["relay"].set(False)
        if "led" in dev:
            dev["led"].set(True)
    finally:
        try:
            d = dev["display"]
            lines = list(RESULT[STORAGE]) + [""] * d.rows
            d.show([(s + " " * d.cols)[:d.cols] for s in lines[:d.rows]])
        except Exception:  # noqa: BLE001 - the display may be what failed
            pass


def run(dev, load_watts=lambda: 0, period_ms=20):
    """The loop: keys to the ui, frames to the display, supply to the relay. Any error
    that escapes it leaves the supply off and the fault shown, then is raised."""
    dev["relay"].set(False)  # supply off until the state is read
    try:
        m, ui = make(dev)
        clock = dev["clock"]
        usage = Usage()
        shown = None
        last = clock.now_ms()
        while True:
            now = clock.now_ms()
            k = dev["keypad"].scan()
            if k:
                ui.key(k, now)
            usage.supply(m, load_watts(), diff(now, last), now)
            last = now
            frame = ui.frame(now)
            if frame != shown:
                dev["display"].show(frame)
                shown = frame
            dev["relay"].set(m.relay_closed())
            if "led" in dev:
                dev["led"].set(not m.relay_closed())
            time.sleep_ms(period_ms)
    except BaseException:  # a bug, a driver, Ctrl-C: never a closed relay left behind
        fail_safe(dev)
        raise


if __name__ == "__main__":
    import board

    run(board.setup())
