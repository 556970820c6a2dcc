# home.py  the home meter: app.Loop's passes and the network (MQTT, the page) side by side
# in asyncio. The network reads the meter between passes and types tokens through the ui, as
# the keypad does; it never runs inside a pass, and nothing it waits for holds a pass up.
import asyncio
import json

from meter.results import FORMAT, NAMES
from ui.ui import INFO, RESULT

_TENTH_J = 360000  # joules in 0.1 kWh


class Counting:
    """An energy source, counting the energy it measured since power-up (tenths of a kWh)."""

    def __init__(self, src):
        self.src = src
        self.tenths = 0
        self._j = 0

    def read(self, now):
        j = self.src.read(now)
        if j > 0:  # (the meter gets j as read: the rest carried here is this count's alone)
            t = j + self._j
            n = t // _TENTH_J
            self.tenths += n
            self._j = t - n * _TENTH_J
        return j

    @property
    def watts(self):
        return self.src.watts

    @property
    def error(self):
        return self.src.error

    @property
    def errors(self):
        return self.src.errors


def pieces(d):
    """JSON of a flat dict, a short piece at a time (no whole copy on the heap); kWh values
    are (tenths,): written exactly (12.3), where a float would not be on a board's
    single-precision floats."""
    sep = "{"
    for k, v in d.items():
        yield '%s"%s": ' % (sep, k)
        yield "%d.%d" % (v[0] // 10, v[0] % 10) if isinstance(v, tuple) else json.dumps(v)
        sep = ", "
    yield "}" if sep == ", " else "{}"


def dumps(d):
    return "".join(pieces(d))


class Home:
    """The meter seen from the network. `loop()` gives the app.Loop now (the simulator makes a
    new one at each reboot); `log(text)` records what the network did (never a secret)."""

    def __init__(self, get_loop, settings, log=None):
        self.get_loop = get_loop
        self.settings = settings
        self.log = log or (lambda text: None)
        self.mqtt = "off"  # off, connecting, connected, waiting
        self.backlog = None  # ha.Backlog with MQTT on: the state read after every pass

    def passed(self):
        """After each pass of the loop: the state compared with the last (a few reads, no
        allocation), each change kept for MQTT until it is sent."""
        if self.backlog is not None:
            self.backlog.read(self)

    def loop(self):
        lp = self.get_loop()
        e = lp.energy
        if e is not None and not isinstance(e, Counting):
            lp.energy = Counting(e)
        lp.ui.low_credit = self.settings.low_credit
        return lp

    def status(self):
        """The meter's state as the page and MQTT show it: kWh as (tenths,) (see dumps), W."""
        lp = self.loop()
        m = lp.m
        now = lp.clock.now_ms()
        lines = [s.rstrip() for s in (lp.shown or ())]
        if m.fault or not m.personalised:
            return {"fault": m.fault or "blank", "lines": lines, "supply": False}
        bal = m.balance[0]
        supply = m.relay_closed() and not lp.energy_fault
        e = lp.energy
        return {
            "lines": lines,
            "balance": (bal,),
            "supply": supply,
            "power": (e.watts or 0) if e is not None and supply else 0,
            "energy": (e.tenths if e is not None else 0,),
            "locked": m.lock_left(now),
            "tripped": bool(m.tripped),
            "low_credit": bal < self.settings.low_credit,
            "last_result": NAMES[m.last] if m.last else "NONE",
            "pan": m.pan,
        }

    def read(self, a, i):
        """The state MQTT publishes into a[i:i+7] (ints, no allocation): balance and energy
        in tenths of a kWh, power in W, relay, locked, the last result's code, low credit.
        False, a untouched, for a blank or faulty meter."""
        lp = self.loop()
        m = lp.m
        if m.fault or not m.personalised:
            return False
        bal = m.balance[0]
        supply = m.relay_closed() and not lp.energy_fault
        e = lp.energy
        a[i] = bal
        a[i + 1] = e.tenths if e is not None else 0
        a[i + 2] = int(e.watts or 0) if e is not None and supply else 0
        a[i + 3] = supply
        a[i + 4] = m.lock_left(lp.clock.now_ms()) > 0
        a[i + 5] = m.last
        a[i + 6] = bal < self.settings.low_credit
        return True

    def pan(self):
        return self.loop().m.pan

    def type(self, digits):
        """Type `digits` (a token or a short code) and Enter, as on the keypad: what the keypad
        held is cleared first. The answer the page and the API give."""
        lp = self.loop()
        ui = lp.ui
        now = lp.clock.now_ms()
        for k in "C" + digits + "#":
            ui.key(k, now)
        if ui.state == RESULT:
            code = lp.m.last
            name, lines = NAMES.get(code, str(code)), ui.result
        elif ui.state == INFO:
            code, name, lines = 0, "INFO", ui.info
        else:
            code, name, lines = 0, "NONE", ()
        s = self.status()
        return {
            "result": name,
            "code": code,
            "lines": [x.rstrip() for x in lines],
            "balance": s.get("balance"),
            "locked": s.get("locked", 0),
        }

    def locked(self):
        """Seconds the keypad (and so the page) stays locked."""
        lp = self.loop()
        return lp.m.lock_left(lp.clock.now_ms())

    def guess(self):
        """A wrong PIN: refused, and counted with the keypad's refused guesses (one lock)."""
        lp = self.loop()
        m = lp.m
        if m.personalised and not m.fault and not m.lock_left(lp.clock.now_ms()):
            m._refuse(FORMAT)  # the meter's own count, stored as a typed guess's is

    async def run(self, step, period_ms):
        """The meter's passes every period_ms, the network beside them; returns never. An error
        in a pass ends it (startup.run's fail-safe); one in the network is logged, retried."""
        s = self.settings
        _forget("settings")  # read at power-up, needed no more
        if s.wifi:
            from net import wifi

            asyncio.create_task(wifi.keep(s.wifi, self.log))
        if s.mqtt:
            from net import ha

            asyncio.create_task(ha.run(self))
        if s.http:
            from net import web

            asyncio.create_task(web.serve(self))
        while True:
            step()
            self.passed()
            await asyncio.sleep_ms(period_ms)


def _forget(name):
    """Let a module of net/ needed once go: its code back to the heap (those that imported
    it keep it as long as they hold it)."""
    import sys

    import net

    if sys.modules.pop("net." + name, None) is not None:
        try:
            delattr(net, name)
        except AttributeError:
            pass


def serve(loop, settings, period_ms, log):
    """A board's loop (startup.run) as a home meter: returns only by an error in a pass."""
    asyncio.run(Home(lambda: loop, settings, log).run(loop.step, period_ms))
