# main.py  the meter on a board: board.setup() -> drivers, the meter, the ui, and the loop
# Copied to the board's root with board.py (boards/<name>/board.py), which alone names pins.
import json
import time

from meter.meter import Meter
from meter.store import RecordStore
from meter.usage import Usage
from ui.ui import Ui


def personalise(m, path):
    """First boot: load the meter data a provisioning step wrote (decoder key, never a
    vending key)."""
    from binascii import unhexlify

    with open(path) as f:
        p = json.load(f)
    p["decoder_key"] = unhexlify(p["decoder_key"])
    m.personalise(p, p["manufacture_tid"])


def make(dev):
    m = Meter(RecordStore(dev["state"]))
    if not m.personalised and not m.fault:
        try:
            personalise(m, dev.get("profile", "/meter.json"))
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
        watts = load_watts()
        m.load(watts, now // 1000)
        used = usage.add(watts if m.relay_closed() else 0, now - last)
        last = now
        if used:
            m.consume(used)
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
