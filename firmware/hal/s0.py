# s0.py  an electricity meter's S0 pulse output (IEC 62053-31), counted in a pin interrupt
# The output is an open collector (or a reed contact) that closes for each impulse: wire it
# between the input pin, with a pull-up, and ground, so an impulse pulls the pin low. The
# standard gives an impulse >= 30 ms closed, >= 30 ms open before the next, and < 5 ms of
# transition, bounce included. A falling edge less than debounce_ms after the last counted
# one is bounce: the default 40 ms covers the closing bounce and the release of the
# shortest (30 ms) impulse, and is less than the shortest period (60 ms). For longer impulses
# from a contact that bounces as it opens, make it the impulse length + 10 ms, if the
# meter's fastest impulse rate allows.
# An impulse sooner after the one before than the board's maximum power allows (max_watts: at
# 1000 imp/kWh and 26 kW, 138 ms) is not energy but noise (a motor's spikes on a long wire):
# never charged, counted in `noise`, and while it lasts `error` says "noise" (the loop opens
# the relay when that lasts: METER FAULT, logged), rather than credit drained at the noise's
# rate (an edge every 41 ms was 87.8 kWh an hour).
import time

from hal.energy import ticks_diff

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    from machine import disable_irq, enable_irq
except ImportError:  # the unix port and CPython: no interrupts to hold off

    def disable_irq():
        return 0

    def enable_irq(state):
        pass


_MASK = const(0x1FFFFFFF)  # counts wrap at 2**29: a count + 1 stays a small int on 32-bit ports
_STALE_MS = const(600000)  # no impulse for 10 minutes: the load is off, watts 0
_J_PER_KWH = const(3600000)
_NOISE_HOLD_MS = const(2000)  # `error` says noise until this long after the last noisy edge


class S0:
    """Impulses on `pin` at imp_per_kwh; read(now_ms) -> joules since the last read.

    watts is None before the first read and 0 until two impulses have given an interval.
    ticks is the handler's clock, time.ticks_ms unless a test brings its own. max_watts is
    the most the supply can draw (board.py): impulses faster than that are noise."""

    def __init__(self, pin, imp_per_kwh=1000, debounce_ms=40, ticks=None, max_watts=26000):
        if not 1 <= imp_per_kwh <= 100000:
            raise ValueError("imp_per_kwh outside 1..100000")
        if not 100 <= max_watts <= 1000000:
            raise ValueError("max_watts outside 100..1000000")
        if ticks is None:
            ticks = time.ticks_ms
        self.pin = pin
        self.imp_per_kwh = imp_per_kwh
        # an impulse is _jpp J and _rem / imp_per_kwh J more: 3200 imp/kWh is 1125 J exactly,
        # 3000 is 1200, 1250 is 2880, but 7 is 514285 J and 5/7 J, carried in _frac
        self._jpp = _J_PER_KWH // imp_per_kwh
        self._rem = _J_PER_KWH % imp_per_kwh
        self._mj = self._rem * 1000 // imp_per_kwh  # the fraction in mJ, for the power
        self._frac = 0
        self._debounce = debounce_ms
        # the shortest time between two impulses at max_watts (made once: may be a long int)
        self._min_ms = (_J_PER_KWH * 1000 // imp_per_kwh) // max_watts
        self._ticks = ticks
        # written by the handler only
        self._count = 0  # impulses counted, modulo 2**29
        self._t = 0  # ticks of the last counted impulse
        self._dt = 0  # ms between the last two, 0 until there are two
        self._seen = False  # an impulse has come since start
        self._edge_t = 0  # ticks of the last edge past the debounce, noise or not
        self.noise = 0  # impulses too fast to be energy, modulo 2**29
        self._noise_t = 0  # ticks of the last of them
        # read() only
        self._taken = 0  # _count at the last read
        self.watts = None
        self.error = ""
        self.errors = 0
        # bound once: a bound method made at each interrupt would allocate in the handler
        self._handler = self._edge
        pin.irq(handler=self._handler, trigger=pin.IRQ_FALLING)

    def _edge(self, _pin):
        # an interrupt: small ints and attributes only, nothing allocated
        t = self._ticks()
        if self._seen:
            d = ticks_diff(t, self._t)
            # a negative d is a pause longer than half the ticks period: an impulse
            if 0 <= d < self._debounce:
                return
            e = ticks_diff(t, self._edge_t)
            self._edge_t = t
            if 0 <= e < self._min_ms:  # faster than the supply can draw: noise
                self.noise = (self.noise + 1) & _MASK
                self._noise_t = t
                return
            self._dt = d if d > 0 else 0
        self._seen = True
        self._t = t
        self._edge_t = t
        self._count = (self._count + 1) & _MASK

    def read(self, now_ms):
        """Joules since the last read; sets watts from the time between impulses."""
        s = disable_irq()
        c = self._count
        t = self._t
        dt = self._dt
        noisy = self.noise and 0 <= ticks_diff(now_ms, self._noise_t) < _NOISE_HOLD_MS
        enable_irq(s)
        if noisy:
            if not self.error:
                self.errors += 1
            self.error = "noise"
        else:
            self.error = ""
        n = (c - self._taken) & _MASK
        self._taken = c
        j = n * self._jpp
        if self._rem:
            f = self._frac + n * self._rem
            k = f // self.imp_per_kwh
            self._frac = f - k * self.imp_per_kwh
            j += k
        w = 0
        if dt:
            # no impulse for longer than the last interval: the load has dropped at least
            # this far, so the time since the last impulse is the better estimate
            since = ticks_diff(now_ms, t)
            if since > dt:
                dt = since
            if 0 <= since and dt <= _STALE_MS:
                w = self._power(dt)
        self.watts = w
        return j

    def _power(self, ms):
        # (_jpp J + _mj mJ) / ms in W, split so no product reaches 2**30 (ms <= 600,000)
        jpp = self._jpp
        q = jpp // ms
        return q * 1000 + ((jpp - q * ms) * 1000 + self._mj) // ms
