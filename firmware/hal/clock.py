# clock.py  wall-clock milliseconds for the meter, and a fake one for tests
# The meter's `now` is now_ms() // 1000. On a board the time is the RTC's: set it (from
# NTP or a battery-backed RTC) before tokens are typed, or every TID looks wrong.
try:
    import time
except ImportError:  # ports older than the `time` alias
    import utime as time


class Clock:
    """Milliseconds of wall-clock time from the port's RTC (epoch: see time.gmtime(0))."""

    def __init__(self):
        self._ns = getattr(time, "time_ns", None)

    def now_ms(self):
        if self._ns is not None:
            return self._ns() // 1000000
        # floats are single precision on some ports: keep whole seconds as an int
        return int(time.time()) * 1000


class FakeClock:
    """A clock that moves only when told to; for tests and the scripted simulator."""

    def __init__(self, start_ms=0):
        self.ms = start_ms

    def now_ms(self):
        return self.ms

    def advance(self, ms):
        """Move the clock on by ms milliseconds."""
        self.ms += ms

    def set(self, ms):
        self.ms = ms
