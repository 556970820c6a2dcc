# sim.py  the meter in a terminal: the board's own loop (app.Loop) on the unix port's drivers
# Usage: MICROPYPATH=.frozen:firmware micropython boards/unix/sim.py [--state DIR]
#        [--profile meter.json] [--script] [--start SECONDS] [--rows 2] [--cols 16] [--cut-at N]
#        [--edition-form plain|hexing1|hexing3|inhemeter]  (how 873 shows the edition)
# The firmware comes from MICROPYPATH (`make sim` sets it; another build of the firmware, e.g.
# .mpy from tools.build_mpy, is another directory there).
# Interactive: the LCD drawn in the terminal, keys from the keyboard. --script: commands on
# stdin, every display frame on stdout as one JSON line (see the README for the protocol).
# --headless [--mqtt HOST:PORT] [--http HOST:PORT --http-pin PIN] [--low-credit KWH]
# [--interval S]: the loop in real time with the network beside it (simnet.py).
import gc
import json
import os
import sys
import time

try:
    from app import Loop

    from hal.virtual import Keys, Screen, SimLoad, Switch, Ticks
    from meter.meter import provision_error
    from meter.store import RecordStore
except ImportError as e:  # no firmware on the path
    sys.exit("sim.py: %s: run MICROPYPATH=.frozen:firmware micropython boards/unix/sim.py" % e)

STEP = 100  # ms: how finely `wait` walks the clock, so no frame is skipped


class CuttingStore(RecordStore):
    """A record store that loses power at write number `cut_at` (counted from 1 since the
    simulator started): half of that record reaches the file, then the process ends."""

    writes = 0
    cut_at = 0

    def _write(self, path, parts):
        CuttingStore.writes += 1
        if CuttingStore.writes == CuttingStore.cut_at:
            data = b"".join([bytes(p) for p in parts])
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
            sys.stdout.write(json.dumps({"cut": CuttingStore.writes, "path": path}) + "\n")
            sys.exit(3)
        RecordStore._write(self, path, parts)


class Sim:
    """The simulated board, running the board's own loop (app.Loop). `now` is the script's
    clock (ms since 1970, printed as "t"); the loop gets `ticks`, a board's time.ticks_ms():
    from 0 at every power-up."""

    def __init__(self, state, profile, start_ms, rows, cols, edition_form=None):
        self.edition_form = edition_form
        self.state = state
        self.profile = profile
        self.now = start_ms
        self.rows = rows
        self.cols = cols
        self.read_tokens()
        self.watts = 0
        self.boot()

    def read_tokens(self):
        """The tokens `make sim` or `make sim-tokens` wrote for this meter."""
        self.tokens = []
        try:
            with open(self.state + "/tokens.txt") as f:
                self.tokens = [line.rstrip() for line in f if line.strip()]
        except OSError:
            pass

    def boot(self, provision=None):
        """Power-up: ticks from 0, the state read again, the load as it was. The meter that
        was is dropped first: a board's reset frees all of it, and two meters at once would
        ask a small heap for more than a board ever needs."""
        self.loop = None
        gc.collect()
        try:
            os.mkdir(self.state)
        except OSError:
            pass
        self.clock = Ticks()
        self.relay = Switch()
        self.energy = SimLoad(self.relay, self.watts)
        self.screen = Screen(self.rows, self.cols)
        self.keys = Keys()
        dev = {
            "keypad": self.keys,
            "display": self.screen,
            "relay": self.relay,
            "clock": self.clock,
            "energy": self.energy,
            "state": self.state + "/meter",
            "store": CuttingStore,
            "profile": self.profile,
            "keep_profile": True,
            "log": None,
            "edition_form": self.edition_form,
        }
        if provision is not None:
            dev["provision"] = provision
        self.loop = Loop(dev)
        self.loop.step()

    def repersonalise(self, data):
        """Forget the meter in the state directory (its two state slots); personalise a new
        one from `data`. Bad data is refused first (the reason), and every file stays as it
        was; "" once done."""
        why = provision_error(data)
        if why:
            return why
        for name in ("meter.0", "meter.1"):
            try:
                os.remove(self.state + "/" + name)
            except OSError:
                pass  # never written
        self.boot(data)
        return ""

    def press(self, k):
        self.keys.push(k)
        self.loop.step()

    def load(self, watts):
        self.watts = self.energy.watts = watts
        self.loop.step()

    def advance(self, ms):
        """Let ms pass: one pass of the loop at the end of it."""
        self.now += ms
        self.clock.ms = time.ticks_add(self.clock.ms, ms)
        self.loop.step()

    def frame(self):
        return self.screen.lines


KEYS = "0123456789#*C"
COMMANDS = (
    "key",
    "keys",
    "type",
    "wait",
    "load",
    "reboot",
    "status",
    "quit",
    "writes",
    "mem",
    "personalise",
)


def _check(cmd, arg):
    """Why a script line cannot run, or None."""
    if cmd not in COMMANDS:
        return "unknown command: " + cmd
    if cmd == "key" and (len(arg) != 1 or arg not in KEYS):
        return "key takes one of %s, not %r" % (KEYS, arg)
    if cmd == "keys" and [k for k in arg.replace(" ", "") if k not in KEYS]:
        return "keys takes only %s, not %r" % (KEYS, arg)
    if cmd in ("wait", "load") and not (arg.isdigit()):
        return "%s takes a whole number, not %r" % (cmd, arg)
    return None


def _writes(sim, arg, out):  # state records written since the simulator started
    out.write(json.dumps({"t": sim.now, "writes": CuttingStore.writes}) + "\n")


def _mem(sim, arg, out):
    gc.collect()
    out.write(
        json.dumps({"t": sim.now, "mem_alloc": gc.mem_alloc(), "mem_free": gc.mem_free()}) + "\n"
    )


def _personalise(sim, arg, out):  # a new meter from meter.json data, for tests
    try:
        why = sim.repersonalise(json.loads(arg))
    except ValueError:  # not JSON
        why = "personalise takes meter.json data (JSON), not %r" % arg[:40]
    if why:
        out.write(json.dumps({"t": sim.now, "error": why}) + "\n")


def _status(sim, arg, out):  # streamed: no one string as long as the line (a small heap)
    out.write('{"t": %d, "status": ' % sim.now)
    json.dump(sim.loop.m.status(), out)
    out.write("}\n")


# The script commands that answer on a line of their own (the rest move the meter).
_QUERIES = {"writes": _writes, "mem": _mem, "personalise": _personalise, "status": _status}


def emitter(sim, out):
    """emit(): the display's frame and the relay as a JSON line on out, when either changed
    (a scripted run's and a headless run's one output)."""
    shown = [None]

    def emit():
        f = sim.frame()
        relay = sim.relay.closed
        if (f, relay) != shown[0]:
            shown[0] = (f, relay)
            out.write(json.dumps({"t": sim.now, "lines": f, "relay": relay}) + "\n")

    return emit


def scripted(sim, out):
    emit = emitter(sim, out)
    emit()
    for raw in sys.stdin:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        bad = _check(cmd, arg)
        if bad:
            out.write(json.dumps({"t": sim.now, "error": bad}) + "\n")
        elif cmd == "key":
            sim.press(arg)
        elif cmd == "keys":
            for k in arg.replace(" ", ""):
                sim.press(k)
                emit()
        elif cmd == "type":  # a token or short code as a person types it, then Enter
            for k in arg.replace(" ", "").replace("-", "") + "#":
                sim.press(k)
                emit()
        elif cmd == "wait":
            left = int(arg)
            while left > 0:
                step = min(STEP, left)
                sim.advance(step)
                left -= step
                emit()
        elif cmd == "load":
            sim.load(int(arg))
        elif cmd == "reboot":
            sim.boot()
        elif cmd in _QUERIES:
            _QUERIES[cmd](sim, arg, out)
        elif cmd == "quit":
            break
        emit()


def main(argv):
    opts = {
        "--state": ".sim",
        "--profile": ".sim/meter.json",
        "--start": None,
        "--rows": "2",
        "--cols": "16",
        "--cut-at": "0",
        "--edition-form": None,
        "--mqtt": None,
        "--http": None,
        "--http-pin": None,
        "--low-credit": "5",
        "--interval": "60",
    }
    script = False
    headless = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--script":
            script = True
        elif a == "--headless":
            headless = True
        elif a in opts and i + 1 < len(argv):
            opts[a] = argv[i + 1]
            i += 1
        else:
            sys.stderr.write("unknown argument %s\n" % a)
            sys.exit(2)
        i += 1
    start = int(opts["--start"]) * 1000 if opts["--start"] else int(time.time() * 1000)
    CuttingStore.cut_at = int(opts["--cut-at"])
    form = opts["--edition-form"]
    from ui.ui import edition_forms

    if form is not None and form not in edition_forms().split(", "):
        sys.stderr.write("--edition-form %s: no such form (%s)\n" % (form, edition_forms()))
        sys.exit(2)
    sim = Sim(
        opts["--state"], opts["--profile"], start, int(opts["--rows"]), int(opts["--cols"]), form
    )
    m = sim.loop.m
    blank = not m.personalised and not m.fault
    m = None  # (held here, this meter would outlive a `reboot`: two meters in a small heap)
    if blank:  # a blank meter, and no profile to read
        sys.stderr.write(
            "cannot personalise the meter from %s (no such file): run `make sim`"
            "\n" % opts["--profile"]
        )
        sys.exit(2)
    if headless:  # (its own module too: the network side loads only here)
        import simnet

        try:
            settings = simnet.settings_from(opts)
        except ValueError as e:
            sys.stderr.write("sim.py: %s\n" % e)
            sys.exit(2)
        simnet.headless(sim, settings, _check, emitter(sim, sys.stdout))
    elif script:
        scripted(sim, sys.stdout)
    else:  # (its own module: a scripted run, as in the soak, never loads it)
        from simterm import interactive

        interactive(sim)


main(sys.argv[1:])
