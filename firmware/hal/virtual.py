# virtual.py  the drivers of a meter with no hardware: the simulator's and the classroom page's
# They meet app.Loop's interfaces (hal/__init__.py) with what the terminal or the page gives:
# keys pressed, the frame last shown, the relay's state, a clock moved on by the caller, and
# a load of so many watts (SimLoad). No board ships this module (firmware/manifest.py).
from hal.energy import ticks_diff


class Keys:
    """The keypad: keys pressed (push), taken one a pass of the loop."""

    def __init__(self):
        self.queue = []

    def push(self, k):
        self.queue.append(k)

    def scan(self):
        return self.queue.pop(0) if self.queue else None


class Screen:
    """The display: keeps the frame last shown."""

    def __init__(self, rows=2, cols=16):
        self.rows = rows
        self.cols = cols
        self.lines = [" " * cols] * rows

    def show(self, lines):
        self.lines = list(lines)


class Switch:
    """The relay: `closed` is what the loop set last (open until it sets it)."""

    closed = False

    def set(self, closed):
        self.closed = bool(closed)


class Ticks:
    """A board's time.ticks_ms(): `ms`, moved on by the caller (time.ticks_add, so it wraps
    as a board's does)."""

    ms = 0

    def now_ms(self):
        return self.ms


class SimLoad:
    """A load of `watts` W (set by the simulator or page) behind relay: energy while closed."""

    def __init__(self, relay, watts=0):
        self.relay = relay  # anything with a bool `closed`
        # the load asked for, whether or not the relay lets it draw: the meter trips on it
        self.watts = watts
        self.error = ""
        self.errors = 0
        self._last = None
        self._rest = 0  # watt-milliseconds short of a whole joule, carried to the next read

    def read(self, now_ms):
        """Joules drawn since the last read; 0 at the first read or if the clock went back."""
        last = self._last
        self._last = now_ms
        if last is None:
            return 0
        ms = ticks_diff(now_ms, last)
        w = self.watts
        if ms <= 0 or not w or w < 0 or not self.relay.closed:
            return 0
        # whole seconds apart, so that watts * ms stays a small int after a long pause
        s = ms // 1000
        rest = self._rest + w * (ms - s * 1000)
        j = rest // 1000
        self._rest = rest - j * 1000
        return w * s + j
