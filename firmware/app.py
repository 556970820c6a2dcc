# app.py  the meter's loop: one for every board, the simulator and the classroom page
# Each gives Loop its own drivers in a dict (the interfaces are in hal/__init__.py):
#   keypad, display, relay, clock, energy (an energy source, hal/energy.py), state (the
#   record store's prefix); and optionally led, wdt (machine.WDT: fed once a pass), log (a
#   file for faults; None: no log), profile (a provisioning file), provision (its data, as a
#   dict), keep_profile (do not delete it), store (a RecordStore class), edition_form (how
#   873 shows the edition: a name of ui/texts.py's EDITION_FORMS).
# Loop(dev) opens the relay, reads the state, and each step() is one pass: a key, the energy
# since the last pass, a frame, the relay, the watchdog. A board's power-up and its loop
# around Loop (watchdog, fail-safe, self-test) are startup.py's: the simulator and the page
# never load them.
import os
import sys

from meter import diff
from meter.meter import Meter
from meter.store import RecordStore
from ui.ui import IDLE, Ui
from ui.ui import fit as ui_fit

TENTH_J = 360000  # joules in 0.1 kWh, the credit register's unit
LOG = "/meter.log"  # read it with `mpremote fs cat :/meter.log`
LOG_MAX = 8192  # past this the log becomes LOG + ".old" (one kept) and starts again
DISPLAY_RETRY_MS = 1000  # after a display error, how long before the next try
# An energy source that fails this long (a PZEM that stops answering: a pulled wire, an S0
# input that keeps catching noise) opens the relay until it answers again: a meter that cannot
# measure must not supply for free. One whose `fault` says it measures nothing it can trust
# (hal/pzem.py) opens it at once, until a restart.
ENERGY_FAIL_MS = 10000
ENERGY_FAULT = ("METER FAULT", "NO MEASUREMENT")


def log(dev, text, exc=None):
    """Append a line (and a traceback) to the board's log; never raises: a log that cannot
    be written must not stop the meter, nor hide what failed before it."""
    path = dev.get("log", LOG)
    if not path:
        return
    try:
        try:
            if os.stat(path)[6] > LOG_MAX:
                os.rename(path, path + ".old")
        except OSError:
            pass  # no log yet
        with open(path, "a") as f:
            f.write("ticks %d: %s\n" % (dev["clock"].now_ms(), text))
            if exc is not None:
                if hasattr(sys, "print_exception"):
                    sys.print_exception(exc, f)
                else:  # CPython (the page's rules run there too)
                    import traceback

                    traceback.print_exception(exc, file=f)
    except Exception:  # noqa: BLE001, S110 - see the docstring
        pass


def meter_for(dev):
    """The meter on the board's state. A blank meter personalises itself from the
    provisioning data; once the meter holds a state the provisioning file is removed (it has
    the decoder key in clear, and the state record holds the key now)."""
    m = Meter(dev.get("store", RecordStore)(dev["state"]))
    path = dev.get("profile", "/meter.json")
    if not m.personalised and not m.fault:
        data = dev.get("provision")
        if data is None:
            try:
                with open(path) as f:
                    import json

                    data = json.load(f)
            except OSError:
                data = None  # not provisioned: the display says so
            except ValueError as e:  # not JSON: the same, and the log says why
                log(dev, "provisioning file unreadable: %s" % e)
                data = None
        if data is not None:
            try:
                m.provision(data)
            except ValueError as e:  # checked whole first: nothing was written
                log(dev, "provisioning data refused: %s" % e)
    if m.personalised and not m.fault and not dev.get("keep_profile"):
        try:
            os.remove(path)
        except OSError:
            pass  # removed before, or never there
    return m


def make(dev):
    """The meter and its ui."""
    m = meter_for(dev)
    d = dev["display"]
    return m, Ui(m, d.rows, d.cols, edition_form=dev.get("edition_form"))


def fit(lines, d):
    """A frame for display d (ui.fit: `rows` lines of `cols` characters)."""
    return ui_fit(lines, d.rows, d.cols)


class Loop:
    """The meter on a board's drivers. Energy is counted in joules and drains the credit
    by whole tenths of a kWh, each one written: a power cut loses what was measured since
    the last tenth (less than 0.1 kWh, never credit)."""

    def __init__(self, dev):
        dev["relay"].set(False)  # supply off until the state is read and says otherwise
        self.dev = dev
        self.clock = dev["clock"]
        self.keypad = dev["keypad"]
        self.display = dev["display"]
        self.relay = dev["relay"]
        self.energy = dev.get("energy")
        self.led = dev.get("led")
        self.wdt = dev.get("wdt")
        self.joules = 0  # measured, not yet a whole tenth
        self.shown = None  # the frame on the display
        self.display_errors = 0
        self._display_failed = None  # ticks of the last display error, until one works
        self._energy_failing = None  # ticks of the first of a run of failed readings
        self._noise = 0  # the source's noise count, as last logged
        self._noise_at = None  # ticks of that log line
        self.energy_fault = False  # that run has lasted ENERGY_FAIL_MS: the supply is off
        self._energy_frame = fit(ENERGY_FAULT, self.display)
        self.m, self.ui = make(dev)
        if self.m.fault:
            log(dev, "meter fault: " + self.m.fault)
        from sts import kernels

        why = getattr(kernels, "fallback", "")
        if why and not getattr(kernels, "expected", False):
            # e.g. a .mpy of another architecture: the portable code, 8x slower
            log(dev, "slow path: " + why)

    def reload(self):
        """Read the state again (another tab changed it); what the keypad holds stays."""
        self.m = meter_for(self.dev)
        self.ui.meter = self.m

    def step(self):
        """One pass of the loop."""
        now = self.clock.now_ms()
        m = self.m
        m.tick(now)  # the one place time enters the meter: the ui and queries read it
        k = self.keypad.scan()
        if k:
            self.ui.key(k, now)
        e = self.energy
        if e is not None:
            j = e.read(now)
            self._energy_check(e, now)
            w = e.watts
            m.load(w if w else 0)  # an overload trips on measured power
            if j > 0:
                j += self.joules
                n = j // TENTH_J
                self.joules = j - n * TENTH_J
                if n:
                    m.consume(n)
        frame = self.ui.frame(now)
        if self.energy_fault and self.ui.state == IDLE:  # (entry and results as usual)
            frame = self._energy_frame
        if frame != self.shown:
            self._show(frame, now)
        closed = m.relay_closed() and not self.energy_fault
        self.relay.set(closed)
        if self.led is not None:
            self.led.set(not closed)
        if self.wdt is not None:
            self.wdt.feed()

    def _energy_check(self, e, now):
        noise = getattr(e, "noise", 0)
        at = self._noise_at
        if noise != self._noise and (at is None or diff(now, at) >= ENERGY_FAIL_MS):
            # logged when noise comes, then at most once each ENERGY_FAIL_MS while it lasts
            log(
                self.dev,
                "energy source: %d impulses too fast to be energy (noise), not charged"
                % ((noise - self._noise) & 0x1FFFFFFF),
            )
            self._noise = noise
            self._noise_at = now
        fault = getattr(e, "fault", "")
        if fault:
            if not self.energy_fault:
                self.energy_fault = True
                log(self.dev, "energy source: %s: supply off until a restart" % fault)
            return
        if not e.error:
            if self.energy_fault:
                log(self.dev, "energy source answers again: supply as the meter says")
            self._energy_failing = None
            self.energy_fault = False
        elif self._energy_failing is None:
            self._energy_failing = now
        elif not self.energy_fault and diff(now, self._energy_failing) >= ENERGY_FAIL_MS:
            self.energy_fault = True
            log(
                self.dev,
                "energy source: %s for %d s: supply off" % (e.error, ENERGY_FAIL_MS // 1000),
            )

    def _show(self, frame, now):
        """A display error (a loose I2C wire) never stops the meter: the frame is tried
        again a second later, the display set up again first where it can be."""
        d = self.display
        failed = self._display_failed
        if failed is not None:
            if diff(now, failed) < DISPLAY_RETRY_MS:
                return
            if hasattr(d, "recover"):
                try:
                    d.recover()
                except OSError:
                    self._display_failed = now
                    return
        try:
            d.show(frame)
        except OSError as e:
            if not self.display_errors:
                log(self.dev, "display error (the meter goes on): %r" % (e,))
            self.display_errors += 1
            self._display_failed = now
            return
        self._display_failed = None
        self.shown = frame
