# usage.py  energy from load and time, in the register's unit: 0.1 kWh = 360,000 W*s
_TENTH_WS = 360000  # watt-seconds in a tenth of a kWh


class Usage:
    """Accumulates watts over milliseconds; hands out whole tenths to consume."""

    def __init__(self):
        self.rest = 0  # watt-milliseconds not yet a whole tenth

    def add(self, watts, ms):
        if ms <= 0 or watts <= 0:  # a clock that went back, or nothing drawn: no energy
            return 0
        self.rest += watts * ms
        n = self.rest // (_TENTH_WS * 1000)
        self.rest -= n * _TENTH_WS * 1000
        return n

    def supply(self, meter, watts, ms, now):
        """`ms` milliseconds of supply ending at `now` (ms) with `watts` asked for: the
        meter checks the load (an overload trips), and energy drawn while the relay is closed
        drains the credit."""
        meter.load(watts, now)
        used = self.add(watts if meter.relay_closed() else 0, ms)
        if used:
            meter.consume(used)
