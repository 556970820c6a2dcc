# main.py  the meter on a board: board.setup() -> drivers, the meter, the ui, and the loop
# Copied to the board's root with board.py (boards/<name>/board.py), which alone names pins.
import json
import time

from meter.meter import Meter
from meter.store import RecordStore
from meter.usage import Usage
from ui.ui import Ui


def make(dev):
    m = Meter(RecordStore(dev["state"]))
    if not m.personalised and not m.fault:
        try:
            with open(dev.get("profile", "/meter.json")) as f:
                m.provision(json.load(f))
        except OSError:
            pass  # not provisioned: the display says so
    d = dev["display"]
    return m, Ui(m, d.rows, d.cols)


def run(dev, load_watts=lambda: 0, period_ms=20):
    """The loop: keys to the ui, frames to the display, supply to the relay."""
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
        usage.supply(m, load_watts(), now - last, now // 1000)
        last = now
        frame = ui.frame(now)
        if frame != shown:
            dev["display"].show(frame)
            shown = frame
        dev["relay"].set(m.relay_closed())
        if "led" in dev:
            dev["led"].set(not m.relay_closed())
        time.sleep_ms(period_ms)


if __name__ == "__main__":
    import board

    run(board.setup())
