# energy.py  the energy source interface, and SimLoad: the simulator's and web page's source
# Every source (SimLoad here, hal.s0.S0 for a meter's pulse output, hal.pzem.Pzem for a
# PZEM-004T) has, duck-typed:
#   read(now_ms) -> int  whole joules (watt-seconds) measured since the previous read, >= 0;
#                        now_ms is the board's time.ticks_ms(): it wraps, so only the
#                        ticks_diff() of two readings means anything
#   watts                the last measured power in whole W, or None when unknown
#   error                "" when the last reading was good, else a short reason
#   errors               how many readings failed
# and optionally:
#   noise                impulses too fast to be energy, never charged (hal.s0.S0)
#   fault                "" or why the readings stopped until a restart (hal.pzem.Pzem): the
#                        loop opens the relay at once
# Joules, because every unit meets in them as a whole number far below 2**30 (where ints
# start to allocate on 32-bit ports): 0.1 kWh = 360,000 J, an S0 impulse at 1000 imp/kWh
# = 3600 J and at 3200 imp/kWh = 1125 J, a PZEM Wh = 3600 J.
try:
    from time import ticks_diff
except ImportError:  # CPython: its clocks, and the tests' fake ones, do not wrap

    def ticks_diff(now, last):
        """Milliseconds from `last` to `now` (negative if `now` is earlier)."""
        return now - last


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
