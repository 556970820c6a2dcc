# meter  the rules of an STS meter (IEC 62055-41), pure logic: no hardware, no clock of its own
# The one entry point is Meter.apply(digits, now) -> Result; state lives in a RecordStore.
# `now` is milliseconds of a board's time.ticks_ms(): it wraps (every 2**30 ms, 12.4 days, on
# 32-bit ports) and starts again at every power-up, so the meter and the ui use only the time
# between two readings, diff(now, last), which time.ticks_diff() takes across the wrap.
# CPython has no ticks: its clocks (and the tests' fake ones) do not wrap, and a subtraction
# is the same thing there.
try:
    from time import ticks_diff as diff
except ImportError:

    def diff(now, last):
        """Milliseconds from `last` to `now` (negative if `now` is earlier)."""
        return now - last
