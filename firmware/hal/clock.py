# clock.py  the meter's clock: milliseconds from time.ticks_ms()
# No board here keeps the date across a power cut (the rp2 port sets 2021-01-01 at every
# power-up, ESP32 counts from 2000), and the meter needs none: only the time between two
# readings, which meter.diff() takes across the wrap of ticks_ms().
try:
    import time
except ImportError:  # ports older than the `time` alias
    import utime as time


class Clock:
    """Milliseconds of time.ticks_ms(): they wrap, and start again at every power-up."""

    def now_ms(self):
        return time.ticks_ms()
